#!/usr/bin/env bash
# A stand-in for `dotnet run ... --` that prints what Unroll.Cli's train and run commands print
# with --json (some human lines, then one JSON line), to test bench/train-vs-pytorch.sh's parsing:
#   bench/train-vs-pytorch.sh --unroll-cmd bench/selftest/fake-unroll.sh --epochs 2 --repeat 2
# FAKE_UNROLL_BREAK=train|run makes that command print a last line that is not JSON;
# FAKE_UNROLL_PER_EPOCH=1 adds train_images_per_second_per_epoch to train's JSON.
command=$1; shift
batch=1 epochs=8 threads=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --batch) batch=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --data|--seed|--isa) shift 2 ;;
        *) shift ;;
    esac
done
case "$command" in
    train)
        echo "Epoch 1/$epochs - 0.2s - loss 1.2000 - accuracy 0.6000 - 20,000 img/s"
        [[ ${FAKE_UNROLL_BREAK:-} == train ]] && { echo "Test accuracy 0.7 (no JSON)"; exit 0; }
        per=""
        [[ ${FAKE_UNROLL_PER_EPOCH:-} == 1 ]] && per=",\"train_images_per_second_per_epoch\":[$(for ((e = 1; e <= epochs; e++)); do echo $(( e == 1 ? 9000 : 24000 + RANDOM % 500 )); done | paste -sd,)]"
        echo "{\"framework\":\"unroll\",\"network\":\"LeNet5\",\"isa\":\"Avx2\",\"threads\":$threads,\"epochs\":$epochs,\"batch\":$batch,\"test_accuracy\":0.8123,\"accuracy_per_epoch\":[0.7000,0.8123],\"train_images_per_second\":$((20000 + RANDOM % 1000)),\"seconds\":0.42$per}" ;;
    run)
        [[ ${FAKE_UNROLL_BREAK:-} == run ]] && { echo "{\"framework\":\"unroll\""; exit 0; }
        if [[ $batch == 1 ]]; then ms=0.0$((40 + RANDOM % 5)); else ms=1.$((200 + RANDOM % 50)); fi
        echo "{\"framework\":\"unroll\",\"network\":\"LeNet5\",\"isa\":\"Avx2\",\"threads\":$threads,\"batch\":$batch,\"ms_per_batch\":$ms}" ;;
    *) echo "fake-unroll: unknown command $command" >&2; exit 2 ;;
esac
