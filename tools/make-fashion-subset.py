#!/usr/bin/env python3
"""Makes data/fashion-mnist-subset/: a class-balanced, seeded random sample of Fashion-MNIST.

    python3 tools/make-fashion-subset.py [--source DIR] [--output DIR] [--seed N]
                                         [--train-per-class N] [--test-per-class N]

Reads the four IDX files of the full dataset (gzipped or plain; by default from the Debian
package dataset-fashion-mnist, /usr/share/datasets/fashion-mnist) and writes the same four-file
layout with, per class, --train-per-class training and --test-per-class test images.

The sample is reproducible on any Python 3.8+: the random numbers come from SplitMix64, the same
generator as Unroll.SeededRandom (Runtime/Initializers.cs), not from Python's `random` module.
For each class, the indices of its images (in file order) are shuffled with Fisher-Yates and the
first N kept; the kept images are then written in their original file order. The gzip streams
carry no file name and mtime 0, so the output is byte-for-byte identical on every run.

Standard library only (gzip, struct).
"""

import argparse
import gzip
import hashlib
import os
import struct
import sys

MASK = (1 << 64) - 1
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class SplitMix64:
    """Unroll.SeededRandom, bit for bit."""

    def __init__(self, seed):
        self.state = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & MASK

    def next_uint64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_below(self, n):
        """SeededRandom.Next(n): uniform in [0, n)."""
        return int((self.next_uint64() >> 11) * (1.0 / (1 << 53)) * n)


def read_idx(directory, stem):
    """Returns (shape, payload bytes) of <stem>.gz or <stem> in directory."""
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                raw = f.read()
            break
    else:
        sys.exit(f"error: neither {stem}.gz nor {stem} in {directory}")
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, kind, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f"error: {path} is not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
    payload = raw[4 + 4 * rank:]
    count = 1
    for d in shape:
        count *= d
    if len(payload) != count:
        sys.exit(f"error: {path} holds {len(payload)} values, its header says {count}")
    return shape, payload


def write_idx(path, shape, payload):
    header = struct.pack(">HBB", 0, 0x08, len(shape)) + struct.pack(">" + "I" * len(shape), *shape)
    data = gzip.compress(header + payload, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    return len(header) + len(payload), len(data), hashlib.sha256(header + payload).hexdigest()


def sample(labels, per_class, random):
    classes = sorted(set(labels))
    kept = []
    for c in classes:
        indices = [i for i, label in enumerate(labels) if label == c]
        if len(indices) < per_class:
            sys.exit(f"error: class {c} has only {len(indices)} images, {per_class} asked for")
        for i in range(len(indices) - 1, 0, -1):  # Fisher-Yates
            j = random.next_below(i + 1)
            indices[i], indices[j] = indices[j], indices[i]
        kept.extend(indices[:per_class])
    return sorted(kept)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--output", default=os.path.join(root, "data", "fashion-mnist-subset"))
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--train-per-class", type=int, default=400)
    parser.add_argument("--test-per-class", type=int, default=100)
    args = parser.parse_args()

    os.makedirs(args.output, exist_ok=True)
    random = SplitMix64(args.seed)  # one sequence: training split first, then test
    for split, per_class in (("train", args.train_per_class), ("test", args.test_per_class)):
        image_stem, label_stem = FILES[split]
        image_shape, images = read_idx(args.source, image_stem)
        label_shape, labels = read_idx(args.source, label_stem)
        if image_shape[0] != label_shape[0]:
            sys.exit(f"error: {split}: {image_shape[0]} images but {label_shape[0]} labels")
        size = image_shape[1] * image_shape[2]
        kept = sample(labels, per_class, random)
        sub_images = b"".join(images[i * size:(i + 1) * size] for i in kept)
        sub_labels = bytes(labels[i] for i in kept)
        n = len(kept)
        for stem, shape, payload in ((image_stem, (n,) + tuple(image_shape[1:]), sub_images),
                                     (label_stem, (n,), sub_labels)):
            raw, packed, digest = write_idx(os.path.join(args.output, stem + ".gz"), shape, payload)
            print(f"{stem}.gz: {'x'.join(map(str, shape))}, {raw} bytes raw, {packed} gzipped, sha256 (raw) {digest}")
        print(f"{split}: {n} images, first source indices {kept[:5]}")


if __name__ == "__main__":
    main()
