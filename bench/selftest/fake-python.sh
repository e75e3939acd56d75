#!/usr/bin/env bash
# A stand-in for /usr/bin/python3 running bench/pytorch/lenet5_fashion.py, printing a summary and
# a JSON line of the same form, to test bench/train-vs-pytorch.sh without training anything:
#   bench/train-vs-pytorch.sh --unroll-cmd bench/selftest/fake-unroll.sh --python bench/selftest/fake-python.sh --repeat 3
# FAKE_PYTORCH_CONTENDED=1 marks epoch 2 as having had half its CPU time (a contended epoch).
# FAKE_PYTORCH_BLAS="reference BLAS (Debian libblas3)" reports the reference BLAS (default: OpenBLAS).
if [[ ${1:-} == -c ]]; then echo "1.13.0a0 (fake)"; exit 0; fi
epochs=8 threads=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --epochs) epochs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) shift ;;
    esac
done
rates=$(for ((e = 1; e <= epochs; e++)); do echo $(( e == 1 ? 3000 : 5000 + RANDOM % 300 )); done | paste -sd,)
shares=$(for ((e = 1; e <= epochs; e++)); do if [[ $e == 2 && ${FAKE_PYTORCH_CONTENDED:-} == 1 ]]; then echo 0.5; else echo 0.99; fi; done | paste -sd,)
accs=$(for ((e = 1; e <= epochs; e++)); do echo "0.$((60 + e))"; done | paste -sd,)
echo "training: (fake) ..."
echo "{\"framework\":\"pytorch\",\"torch\":\"1.13.0a0\",\"threads\":$threads,\"blas\":\"${FAKE_PYTORCH_BLAS:-OpenBLAS}\",\"epochs\":$epochs,\"batch\":64,\"test_accuracy\":0.$((60 + epochs)),\"accuracy_per_epoch\":[$accs],\"train_images_per_second\":5100.0,\"seconds\":$((epochs)).5,\"infer_batch1_us\":$((300 + RANDOM % 20)).5,\"infer_batch64_ms\":4.$((RANDOM % 100)),\"train_images_per_second_per_epoch\":[$rates],\"cpu_share_per_epoch\":[$shares],\"warmup_epochs_excluded\":1}"
