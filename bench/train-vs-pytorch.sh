#!/usr/bin/env bash
# Side-by-side benchmark: Unroll's LeNet-5 training and inference against PyTorch's, same network,
# data, preprocessing, optimiser, batch and thread count. The two never run at the same time; the
# whole comparison is repeated --repeat times and the table shows medians over the repeats.
#
#   bench/train-vs-pytorch.sh [--data DIR] [--epochs N] [--threads N] [--repeat K] [--out DIR]
#                             [--python PATH] [--unroll-cmd CMD] [--no-pytorch] [--wait-idle SECONDS]
#
# Unroll side (the last stdout line of each is one JSON object):
#   dotnet run -c Release --project samples/Unroll.Cli -- train LeNet5 --data DIR --epochs N --batch 64 --threads N --seed 1 --json
#       needs: epochs, test_accuracy, train_images_per_second, seconds
#   dotnet run -c Release --project samples/Unroll.Cli -- run LeNet5 --batch 1  --threads N --json    needs: ms_per_batch
#   dotnet run -c Release --project samples/Unroll.Cli -- run LeNet5 --batch 64 --threads N --json    needs: ms_per_batch
# (built once up front, then run with --no-build so no build lands between measurements).
# PyTorch side: bench/pytorch/lenet5_fashion.py under /usr/bin/python3 (Debian's python3-torch),
# if `/usr/bin/python3 -c "import torch"` works; otherwise Unroll's figures are shown alone.
#
# Ratios: training throughput Unroll / PyTorch; times and latencies PyTorch / Unroll. So a ratio
# above 1 always means Unroll is faster. Repeats alternate which framework goes first, so a drift
# in the machine's load does not always fall on the same side. Raw outputs stay in --out (default:
# a new temporary folder, printed at the end).
#
# --wait-idle S: before each measured command, wait (at most S seconds) until the CPUs have been at
# least 90% idle for 15 s, so that other work on a shared machine is less likely to overlap.
# --unroll-cmd replaces "dotnet run --no-build -c Release --project samples/Unroll.Cli --" (and
# skips the build), e.g. to test this script's parsing with bench/selftest/fake-unroll.sh.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA="$ROOT/data/fashion-mnist-subset"
EPOCHS=8
THREADS=2
REPEAT=3
OUT=""
TORCH_PY=/usr/bin/python3
UNROLL_CMD=""
PYTORCH=1
WAIT_IDLE=0

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "error: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --data) need "$@"; DATA=$2; shift 2 ;;
        --epochs) need "$@"; EPOCHS=$2; shift 2 ;;
        --threads) need "$@"; THREADS=$2; shift 2 ;;
        --repeat) need "$@"; REPEAT=$2; shift 2 ;;
        --out) need "$@"; OUT=$2; shift 2 ;;
        --python) need "$@"; TORCH_PY=$2; shift 2 ;;
        --unroll-cmd) need "$@"; UNROLL_CMD=$2; shift 2 ;;
        --no-pytorch) PYTORCH=0; shift ;;
        --wait-idle) need "$@"; WAIT_IDLE=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $WAIT_IDLE =~ ^[0-9]+$ ]] || { echo "error: --wait-idle must be a number of seconds, not '$WAIT_IDLE'" >&2; exit 2; }
for n in EPOCHS THREADS REPEAT; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || { echo "error: --${n,,} must be a positive integer, not '${!n}'" >&2; exit 2; }
done
[[ -d $DATA ]] || { echo "error: no data folder $DATA" >&2; exit 2; }
DATA=$(cd "$DATA" && pwd)

# JSON is parsed with Python's json module (the system python3; any python3 will do for parsing).
if [[ -x /usr/bin/python3 ]]; then JSON_PY=/usr/bin/python3; else JSON_PY=$(command -v python3 || true); fi
[[ -n $JSON_PY ]] || { echo "error: python3 is needed to parse the JSON results" >&2; exit 2; }

if [[ -z $OUT ]]; then OUT=$(mktemp -d "${TMPDIR:-/tmp}/train-vs-pytorch.XXXXXX"); else mkdir -p "$OUT"; fi
OUT=$(cd "$OUT" && pwd)

cd "$ROOT" || exit 2
if [[ -z $UNROLL_CMD ]]; then
    echo "Building samples/Unroll.Cli (Release) once, before any measurement..."
    if ! dotnet build -c Release samples/Unroll.Cli/Unroll.Cli.csproj -nologo -v q >"$OUT/build.log" 2>&1; then
        tail -n 30 "$OUT/build.log" >&2
        echo "error: the build failed (log: $OUT/build.log)" >&2
        exit 1
    fi
    UNROLL=(dotnet run --no-build -c Release --project "$ROOT/samples/Unroll.Cli" --)
else
    read -r -a UNROLL <<<"$UNROLL_CMD"
fi

if [[ $PYTORCH == 1 ]]; then
    if TORCH_VERSION=$("$TORCH_PY" -c "import torch; print(torch.__version__)" 2>"$OUT/torch-import.err"); then
        :
    else
        echo "PyTorch is unavailable: '$TORCH_PY -c \"import torch\"' failed ($(tail -n 1 "$OUT/torch-import.err"))."
        echo "Install it with: apt-get install python3-torch python3-numpy. Showing Unroll's figures alone."
        PYTORCH=0
    fi
fi

# extract NAME KEY...: the last non-empty stdout line of $OUT/NAME.out must be a JSON object holding
# every KEY; it is saved as $OUT/NAME.json.
extract() {
    local name=$1; shift
    "$JSON_PY" -c '
import json, sys
path, keys = sys.argv[1], sys.argv[2:]
lines = [l for l in open(path, encoding="utf-8", errors="replace").read().splitlines() if l.strip()]
if not lines:
    sys.exit("no output at all")
try:
    obj = json.loads(lines[-1])
except ValueError as e:
    sys.exit("the last line is not JSON (%s): %.200s" % (e, lines[-1]))
if not isinstance(obj, dict):
    sys.exit("the last line is JSON but not an object")
missing = [k for k in keys if k not in obj]
if missing:
    sys.exit("the JSON lacks " + ", ".join(missing))
json.dump(obj, open(path[:-4] + ".json", "w"))
' "$OUT/$name.out" "$@"
}

# wait_idle: with --wait-idle S, waits up to S seconds for three 5-second samples in a row with the
# CPUs (all of them, from /proc/stat) at least 90% idle; says how long it waited.
wait_idle() {
    [[ $WAIT_IDLE -gt 0 ]] || return 0
    local start=$SECONDS quiet=0 idle=0 t i pt pi a
    read -r -a a < /proc/stat; pt=$((a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + a[8])); pi=$((a[4] + a[5]))
    while ((SECONDS - start < WAIT_IDLE)); do
        sleep 5
        read -r -a a < /proc/stat; t=$((a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + a[8])); i=$((a[4] + a[5]))
        ((t > pt)) && idle=$((100 * (i - pi) / (t - pt)))
        pt=$t; pi=$i
        if ((idle >= 90)); then quiet=$((quiet + 1)); else quiet=0; fi
        if ((quiet >= 3)); then
            ((SECONDS - start > 15)) && printf '(waited %d s for idle CPUs) ' $((SECONDS - start))
            return 0
        fi
    done
    printf '(CPUs still busy after %d s, measuring anyway) ' "$WAIT_IDLE"
}

# step NAME KEYS -- COMMAND...: runs COMMAND, output in $OUT/NAME.{out,err}, then extracts the JSON.
FAILURES=0
step() {
    local name=$1 keys=()
    shift
    while [[ $1 != -- ]]; do keys+=("$1"); shift; done
    shift
    printf '  %-22s' "$name"
    wait_idle
    local start=$SECONDS
    "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "FAILED (exit $rc): $*"
        tail -n 5 "$OUT/$name.err" "$OUT/$name.out" 2>/dev/null | sed 's/^/      /'
        FAILURES=$((FAILURES + 1))
        return 1
    fi
    local why
    if ! why=$(extract "$name" "${keys[@]}" 2>&1); then
        echo "FAILED: $why ($OUT/$name.out)"
        FAILURES=$((FAILURES + 1))
        return 1
    fi
    echo "ok ($((SECONDS - start)) s)"
}

run_unroll() {
    local r=$1
    step "unroll-train-$r" epochs test_accuracy train_images_per_second seconds -- \
        "${UNROLL[@]}" train LeNet5 --data "$DATA" --epochs "$EPOCHS" --batch 64 --threads "$THREADS" --seed 1 --json
    step "unroll-infer1-$r" ms_per_batch -- "${UNROLL[@]}" run LeNet5 --batch 1 --threads "$THREADS" --json
    step "unroll-infer64-$r" ms_per_batch -- "${UNROLL[@]}" run LeNet5 --batch 64 --threads "$THREADS" --json
}

run_pytorch() {
    local r=$1
    step "pytorch-$r" epochs test_accuracy train_images_per_second seconds infer_batch1_us infer_batch64_ms -- \
        "$TORCH_PY" "$ROOT/bench/pytorch/lenet5_fashion.py" --data "$DATA" --epochs "$EPOCHS" --threads "$THREADS" --seed 1
}

echo "LeNet-5 on Fashion-MNIST, $DATA: $EPOCHS epoch(s), batch 64, $THREADS thread(s), $REPEAT repeat(s)"
echo "Unroll: ${UNROLL[*]}"
if [[ $PYTORCH == 1 ]]; then echo "PyTorch $TORCH_VERSION: $TORCH_PY bench/pytorch/lenet5_fashion.py"; fi
echo "Machine: $(nproc) CPU(s); results in $OUT"
for ((r = 1; r <= REPEAT; r++)); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "$load" >"$OUT/load-$r.txt"
    busy=""
    if awk -v l="${load%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then busy=" - above the CPU count: a busy machine"; fi
    echo "Repeat $r/$REPEAT (load average before: $load$busy)"
    if [[ $PYTORCH == 1 && $((r % 2)) == 0 ]]; then
        run_pytorch "$r"; run_unroll "$r"
    else
        run_unroll "$r"
        if [[ $PYTORCH == 1 ]]; then run_pytorch "$r"; fi
    fi
done
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$JSON_PY" -c '
import json, os, statistics, sys
out, repeat, epochs, threads, pytorch = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"

def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None

def rate_excluding_first(obj):
    """Median images/s over epochs 2..N when the per-epoch rates are given, else None."""
    per = obj.get("train_images_per_second_per_epoch") if obj else None
    if not per:
        return None
    return statistics.median(per[1:] if len(per) > 1 else per)

def contention(obj):
    shares = obj.get("cpu_share_per_epoch") if obj else None
    busy = [str(i + 1) for i, c in enumerate(shares or []) if c < 0.9]
    return " [PyTorch epoch(s) %s got < 90%% of their threads\x27 CPU: contended]" % ",".join(busy) if busy else ""

rows = {k: ([], []) for k in ("rate", "seconds", "accuracy", "infer1", "infer64")}
rate_notes = set()
for r in range(1, repeat + 1):
    ut, u1, u64, pt = (load(n % r) for n in ("unroll-train-%d", "unroll-infer1-%d", "unroll-infer64-%d", "pytorch-%d"))
    u_rate, p_rate = rate_excluding_first(ut), rate_excluding_first(pt)
    if u_rate is not None and p_rate is not None:
        rate_notes.add("Training images/s: median over epochs 2..%s on both sides (epoch 1 excluded as warm-up), from the per-epoch rates." % epochs)
    else:   # what each side reports as train_images_per_second
        u_rate = ut["train_images_per_second"] if ut else None
        p_rate = pt["train_images_per_second"] if pt else None
        if ut and pt:
            rate_notes.add("Training images/s: each side\x27s train_images_per_second (PyTorch: median over epochs 2..%s, training steps only; "
                           "Unroll gives no per-epoch rates, so its own definition applies; see bench/README.md)." % epochs)
    values = {
        "rate": (u_rate, p_rate),
        "seconds": (ut and ut["seconds"], pt and pt["seconds"]),
        "accuracy": (ut and 100 * ut["test_accuracy"], pt and 100 * pt["test_accuracy"]),
        "infer1": (u1 and 1000 * u1["ms_per_batch"], pt and pt["infer_batch1_us"]),
        "infer64": (u64 and u64["ms_per_batch"], pt and pt["infer_batch64_ms"]),
    }
    for key, (u, p) in values.items():
        if u is not None: rows[key][0].append(float(u))
        if p is not None: rows[key][1].append(float(p))
    def f(v, fmt): return "n/a" if v is None else format(v, fmt)
    print("repeat %d: Unroll %s img/s, %s s, %s%%, batch-1 %s us, batch-64 %s ms | PyTorch %s img/s, %s s, %s%%, batch-1 %s us, batch-64 %s ms" % (
        r, f(u_rate, ",.0f"), f(values["seconds"][0], ".2f"), f(values["accuracy"][0], ".2f"), f(values["infer1"][0], ".1f"), f(values["infer64"][0], ".3f"),
        f(p_rate, ",.0f"), f(values["seconds"][1], ".2f"), f(values["accuracy"][1], ".2f"), f(values["infer1"][1], ".1f"), f(values["infer64"][1], ".3f"))
        + contention(pt))
print()

def med(xs): return statistics.median(xs) if xs else None
metrics = [
    ("rate", "training throughput, images/s", ",.0f", "u/p"),
    ("seconds", "training time, %s epoch(s), s" % epochs, ".2f", "p/u"),
    ("accuracy", "test accuracy after epoch %s, %%" % epochs, ".2f", None),
    ("infer1", "inference batch 1, us", ".1f", "p/u"),
    ("infer64", "inference batch 64, ms", ".3f", "p/u"),
]
table = [("metric (median of %d)" % repeat, "Unroll", "PyTorch" if pytorch else "PyTorch (n/a)", "ratio")]
for key, label, fmt, how in metrics:
    u, p = med(rows[key][0]), med(rows[key][1])
    if how and u and p:
        ratio = format(u / p if how == "u/p" else p / u, ".2f") + "x"
    elif how is None and u is not None and p is not None:
        ratio = "%+.2f pt" % (u - p)
    else:
        ratio = "-"
    table.append((label, "n/a" if u is None else format(u, fmt), "n/a" if p is None else format(p, fmt), ratio))
widths = [max(len(row[i]) for row in table) for i in range(4)]
for i, row in enumerate(table):
    print("  ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(row)))
    if i == 0:
        print("  ".join("-" * w for w in widths))
print()
print("Ratio > 1: Unroll is faster (throughput Unroll/PyTorch; times and latencies PyTorch/Unroll). Accuracy: Unroll minus PyTorch, percentage points.")
for note in sorted(rate_notes):
    print(note)
blas = sorted({pt.get("blas", "unknown") for pt in (load("pytorch-%d" % r) for r in range(1, repeat + 1)) if pt})
if blas:
    print("PyTorch BLAS (dense layers): %s." % ", ".join(blas))
if any("reference" in b for b in blas):
    print("WARNING: PyTorch ran its dense layers on the reference BLAS, which roughly halves its training and batch-64 speed here;")
    print("         the fair peer uses an optimised BLAS: apt-get install libopenblas0-openmp (see bench/README.md).")
print("Training time: each side\x27s own \"seconds\" (PyTorch: the timed training steps, no evaluation; Unroll: as its JSON defines it).")
print("Inference: Unroll, median of 21 timed rounds on random input; PyTorch, median of single runs on test images (no_grad, eval).")
' "$OUT" "$REPEAT" "$EPOCHS" "$THREADS" "$PYTORCH"
summary_rc=$?

if [[ $FAILURES -gt 0 || $summary_rc -ne 0 ]]; then
    echo "$FAILURES step(s) failed; outputs in $OUT" >&2
    exit 1
fi
