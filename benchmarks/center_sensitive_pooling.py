# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Center-sensitive pooling: banded matrix products (``CenterSensitivePooling.average``) against the same two 1-D
passes as convolutions, side by side in one run, on the shapes of one-shot landmark matching (64-D descriptors at
256 x 256; 19 landmark crops).

Example::

    python benchmarks/center_sensitive_pooling.py --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from ld_monai.layers import CenterSensitivePooling

# (what, window, input shape, stride, padding)
CASES = [
    ("coarse search, whole image", 33, (1, 64, 256, 256), 2, True),
    ("whole image, fine window", 13, (1, 64, 256, 256), 1, True),
    ("fine stage, 19 crops", 13, (19, 64, 39, 39), 1, False),
    ("self-training windows, 19 crops", 13, (19, 64, 61, 61), 1, False),
]


def convolutions(pool: CenterSensitivePooling, x: torch.Tensor, stride: int, padding: bool) -> torch.Tensor:
    """The reference: every channel through a vertical and a horizontal 1-D convolution."""
    b, d, h, w = x.shape
    r, bell = (pool.window // 2 if padding else 0), pool.bell.to(x.dtype)
    flat = x.reshape(b * d, 1, h, w)
    out = F.conv2d(flat, bell.view(1, 1, -1, 1), padding=(r, 0), stride=(stride, 1))
    out = F.conv2d(out, bell.view(1, 1, 1, -1), padding=(0, r), stride=(1, stride))
    return out.reshape(b, d, *out.shape[2:])


def seconds(fn, repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} thread(s), mean of {args.repeats} runs\n")
    print("| case | window | input | convolutions (ms) | banded products (ms) | speed-up | max difference |")
    print("|---|---|---|---|---|---|---|")
    for what, window, shape, stride, padding in CASES:
        pool, x = CenterSensitivePooling(window), torch.randn(shape)
        difference = float((pool.average(x, stride, padding) - convolutions(pool, x, stride, padding)).abs().max())
        conv = seconds(lambda: convolutions(pool, x, stride, padding), args.repeats)
        banded = seconds(lambda: pool.average(x, stride, padding), args.repeats)
        print(f"| {what} | {window} | {' x '.join(map(str, shape))} | {1000 * conv:.1f} | {1000 * banded:.1f} | "
              f"{conv / banded:.1f} | {difference:.1e} |")


if __name__ == "__main__":
    main()
