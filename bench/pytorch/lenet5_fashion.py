#!/usr/bin/python3
"""LeNet-5 on Fashion-MNIST in PyTorch: the peer baseline for Unroll's `train LeNet5`.

The network is Networks/LeNet5.cs exactly: 1x32x32 input, Conv 6@5x5 ReLU, MaxPool 2,
Conv 16@5x5 ReLU, MaxPool 2, Dense 120 ReLU, Dense 84 ReLU, Dense 10 (+ softmax). The softmax
and the cross-entropy are taken together as CrossEntropyLoss on the logits, the mathematically
equivalent form (Unroll folds them the same way: p - onehot). 61,706 parameters.

Data: the four gzipped IDX files of --data (default: the committed 4,000/1,000 subset), scaled to
[0, 1], normalised with mean 0.2860 and std 0.3530, then zero-padded 2 pixels a side to 32x32
(the padding is 0 in normalised space, as Unroll's FashionMnist.LeNet5Preprocessing and
torchvision's ToTensor, Normalize, Pad(2)). Everything is decoded into tensors before any timing.

Training: SGD lr 0.01, momentum 0.9, batch 64 (the last batch of an epoch keeps the remainder,
as Unroll's BatchLoader does), mean cross-entropy, a fresh seeded shuffle each epoch, PyTorch's
default initialisation seeded with --seed. Only the training steps are timed (forward, loss,
backward, optimizer step, zero_grad); the epoch's shuffled copy of the data is made before the
clock starts and each batch is a view of it. Test accuracy is measured after each epoch, untimed.

Needs /usr/bin/python3 with torch and numpy (Debian: apt-get install python3-torch python3-numpy).
The last line printed is one JSON object; everything before it is for people.
"""

import argparse
import gzip
import json
import os
import platform
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

MEAN = 0.2860
STD = 0.3530
PAD = 2
BATCH = 64
LR = 0.01
MOMENTUM = 0.9
CLASSES = 10

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_DATA = os.path.join(REPO_ROOT, "data", "fashion-mnist-subset")


def read_idx(directory, stem):
    """Reads one IDX file (gzipped or not) into a numpy uint8 array of its declared shape."""
    candidates = [stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")]
    for name in candidates:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        raise FileNotFoundError(f"{stem}: none of {candidates} in {directory}")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} bytes of data, header says {dims}")
    return body.reshape(dims)


def load_split(directory, prefix):
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{prefix}: {images.shape[0]} images but {labels.shape[0]} labels")
    x = images.astype(np.float32) / 255.0
    x = (x - np.float32(MEAN)) / np.float32(STD)
    x = np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD)), mode="constant", constant_values=0.0)  # after normalising
    x = torch.from_numpy(np.ascontiguousarray(x[:, None, :, :], dtype=np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.ReLU(),      # C1: 6x28x28
        nn.MaxPool2d(2),                                # S2: 6x14x14
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),     # C3: 16x10x10
        nn.MaxPool2d(2),                                # S4: 16x5x5
        nn.Flatten(),                                   # 400, in C, H, W order (as Unroll's Dense)
        nn.Linear(400, 120), nn.ReLU(),                 # F5
        nn.Linear(120, 84), nn.ReLU(),                  # F6
        nn.Linear(84, CLASSES),                         # Output (softmax folded into the loss)
    )


def blas_libraries():
    """The BLAS/LAPACK files this process has mapped (Debian's torch takes whatever libblas.so.3
    the alternatives system or LD_LIBRARY_PATH provide: reference BLAS, OpenBLAS, BLIS...)."""
    torch.ones(2, 2) @ torch.ones(2, 2)
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if ("blas" in name or "blis" in name or "lapack" in name or "mkl" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def describe_blas(paths):
    real = [os.path.realpath(p) for p in paths]
    if any("openblas" in p for p in real):
        return "OpenBLAS"
    if any("blis" in p for p in real):
        return "BLIS"
    if any("mkl" in p for p in real):
        return "MKL"
    if any("/blas/libblas.so" in p for p in real):
        return "reference BLAS (Debian libblas3)"
    return ", ".join(real) or "unknown"


def accuracy(model, x, y, chunk=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            correct += (model(x[i:i + chunk]).argmax(1) == y[i:i + chunk]).sum().item()
    model.train()
    return correct / x.shape[0]


def latency(model, batch_input, warmup, runs):
    """Median seconds of one forward pass over batch_input, each run timed on its own, and the
    process's CPU time over the timed runs as a share of their wall time (per thread)."""
    model.eval()
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(batch_input)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(runs):
            t0 = time.perf_counter()
            model(batch_input)
            times.append(time.perf_counter() - t0)
        cpu_share = (time.process_time() - cpu0) / (time.perf_counter() - wall0) / torch.get_num_threads()
    return statistics.median(times), cpu_share


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder of the four Fashion-MNIST IDX files (default: the committed subset)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--infer-runs", type=int, default=2000, help="timed batch-1 forward passes (batch 64: a tenth, at least 50)")
    args = parser.parse_args()
    if args.epochs < 1 or args.threads < 1:
        parser.error("--epochs and --threads must be at least 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    load_before = os.getloadavg()[0]

    load_start = time.perf_counter()
    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    load_seconds = time.perf_counter() - load_start
    n_train, n_test = x_train.shape[0], x_test.shape[0]

    model = lenet5()
    parameters = sum(p.numel() for p in model.parameters())
    assert parameters == 61706, parameters
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    shuffler = torch.Generator().manual_seed(args.seed)

    blas = describe_blas(blas_libraries())
    print(f"PyTorch {torch.__version__} (Python {platform.python_version()}, numpy {np.__version__}), "
          f"{torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s), "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, BLAS: {blas}")
    print(f"LeNet-5, {parameters:,} parameters; data {os.path.abspath(args.data)}: "
          f"{n_train:,} training / {n_test:,} test images 1x32x32 (decoded in {load_seconds:.2f} s, untimed)")
    print(f"SGD lr {LR} momentum {MOMENTUM}, batch {BATCH}, {args.epochs} epoch(s), seed {args.seed}; "
          f"load average {load_before:.2f} at the start")

    model.train()
    epoch_seconds, epoch_rates, accuracies, losses, cpu_shares = [], [], [], [], []
    for epoch in range(args.epochs):
        order = torch.randperm(n_train, generator=shuffler)
        xs, ys = x_train[order].contiguous(), y_train[order].contiguous()   # untimed: batches below are views
        step_losses = []
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for i in range(0, n_train, BATCH):
            xb, yb = xs[i:i + BATCH], ys[i:i + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            step_losses.append(loss.detach() * yb.shape[0])
        seconds = time.perf_counter() - t0
        cpu_share = (time.process_time() - cpu0) / seconds / args.threads   # near 1: the threads had their cores
        mean_loss = torch.stack(step_losses).sum().item() / n_train
        acc = accuracy(model, x_test, y_test)
        epoch_seconds.append(seconds)
        epoch_rates.append(n_train / seconds)
        accuracies.append(acc)
        losses.append(mean_loss)
        cpu_shares.append(cpu_share)
        print(f"epoch {epoch + 1:2d}/{args.epochs}: loss {mean_loss:.4f}, test accuracy {acc * 100:6.2f}%, "
              f"{seconds:7.3f} s, {n_train / seconds:9,.0f} images/s (CPU {cpu_share * 100:3.0f}% of "
              f"{args.threads} thread(s), load {os.getloadavg()[0]:.2f})")

    if args.epochs > 1:
        rate = statistics.median(epoch_rates[1:])
        rate_note = f"median of epochs 2..{args.epochs} (epoch 1 excluded as warm-up)"
    else:
        rate = epoch_rates[0]
        rate_note = "the single epoch (no warm-up excluded)"
    total = sum(epoch_seconds)
    # Epochs whose threads kept their cores (process CPU time >= 90% of threads x wall time): on a
    # shared machine, the figure least disturbed by other work. Epoch 1 excluded as above.
    steady = [r for r, c in list(zip(epoch_rates, cpu_shares))[1 if args.epochs > 1 else 0:] if c >= 0.9]
    steady_rate = statistics.median(steady) if steady else None

    runs1 = args.infer_runs
    runs64 = max(50, runs1 // 10)
    infer1, cpu1 = latency(model, x_test[:1].clone(), warmup=max(100, runs1 // 10), runs=runs1)
    infer64, cpu64 = latency(model, x_test[:BATCH].clone(), warmup=max(10, runs64 // 10), runs=runs64)

    load_after = os.getloadavg()[0]   # this process's own threads count in it
    contended = [i + 1 for i, c in enumerate(cpu_shares) if c < 0.9]
    if contended:   # the load average lags by a minute, so it only informs; the CPU share decides
        print(f"BUSY MACHINE: epoch(s) {', '.join(map(str, contended))} got under 90% of their threads' CPU time "
              f"(load average {load_before:.2f} at the start) - those timings are unreliable")
    print(f"training: {rate:,.0f} images/s, {rate_note}; {total:.2f} s of training steps in all")
    if steady_rate is None:
        print("uncontended epochs (CPU >= 90% of the threads): none - every epoch shared its cores with other work")
    else:
        print(f"uncontended epochs (CPU >= 90% of the threads): {len(steady)} of {len(epoch_rates) - (1 if args.epochs > 1 else 0)}, "
              f"median {steady_rate:,.0f} images/s")
    print(f"test accuracy after epoch {args.epochs}: {accuracies[-1] * 100:.2f}% ({n_test:,} images)")
    print(f"inference (no_grad, eval): batch 1 {infer1 * 1e6:.1f} us (median of {runs1}, CPU {cpu1 * 100:.0f}%), "
          f"batch 64 {infer64 * 1e3:.3f} ms (median of {runs64}, {BATCH / infer64:,.0f} images/s, CPU {cpu64 * 100:.0f}%); "
          f"load average {load_after:.2f}")

    result = {
        "framework": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas,
        "epochs": args.epochs,
        "batch": BATCH,
        "test_accuracy": round(accuracies[-1], 6),
        "accuracy_per_epoch": [round(a, 6) for a in accuracies],
        "train_images_per_second": round(rate, 1),
        "seconds": round(total, 4),
        "infer_batch1_us": round(infer1 * 1e6, 2),
        "infer_batch64_ms": round(infer64 * 1e3, 4),
        "infer_cpu_share": [round(cpu1, 3), round(cpu64, 3)],
        "train_images_per_second_per_epoch": [round(r, 1) for r in epoch_rates],
        "loss_per_epoch": [round(v, 6) for v in losses],
        "cpu_share_per_epoch": [round(c, 3) for c in cpu_shares],
        "train_images_per_second_uncontended": None if steady_rate is None else round(steady_rate, 1),
        "warmup_epochs_excluded": 1 if args.epochs > 1 else 0,
        "train_images": n_train,
        "test_images": n_test,
        "seed": args.seed,
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
        "data": os.path.abspath(args.data),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
