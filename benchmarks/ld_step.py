# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Time one full LD training iteration (forward, the four losses, backward, Adam step) on the CPU.

Compares, side by side in one run, the research code's computation (``baseline``: eager network, the loss of
``ld_monai.losses.reference`` with per-sample loops, dense exp/log and the (N, M, D, H, W) region product) with
``ld_monai``'s path (``vectorised``: ``LocalDiscriminationLoss``; ``channels_last``: plus the network in
channels-last memory format, the eager path and the bundle's default where ``torch.compile`` does not work;
``compiled``: ``LocalDiscriminationLoss`` and ``torch.compile`` of the network, the bundle's ``"compile": true``;
``compiled_channels_last``: both; ``default``: what the bundle does here, ``compiled`` where
``ld_monai.networks.compile_available()`` and ``channels_last`` otherwise; only the network is compiled, see
``ld_monai/networks/compile.py`` for why not the loss), and reports views/s, the speed-up over ``baseline`` (or,
without it, over the first variant listed), achieved GFLOP/s (``torch.utils.flop_counter``) as a fraction of an
sgemm peak measured in the same run, and peak memory. Every variant runs in its own process (clean peak-RSS and
compile caches); variants are interleaved over ``--rounds`` so that machine noise hits them alike.

    python benchmarks/ld_step.py                       # both paper configurations, all variants
    python benchmarks/ld_step.py --configs b2_256 --rounds 2
    python benchmarks/ld_step.py --configs b2_256 --variants channels_last default   # before / after the default
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CONFIGS = {"b1_448": (1, 448), "b2_256": (2, 256)}  # (batch of image pairs, crop side): 5 and 10 views
VARIANTS = ("baseline", "vectorised", "channels_last", "compiled", "compiled_channels_last", "default")


def sgemm_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_variant(variant: str, batch: int, size: int, iterations: int) -> dict:
    """One process: build, warm up (compiling if asked), time ``iterations`` training iterations."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ld_monai.losses import LocalDiscriminationLoss
    from ld_monai.losses.reference import local_discrimination_loss_reference
    from ld_monai.networks import LocalDiscriminationNet, compile_available

    path = variant
    if variant == "default":  # the bundle's "compile": "$ld_monai.networks.compile_available(@device)"
        path = "compiled" if compile_available("cpu") else "channels_last"
    torch.manual_seed(0)
    net = LocalDiscriminationNet(in_channels=3, embedding_dim=32, num_clusters=16)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(5 * batch, 3, size, size)
    k = torch.randint(0, 4, (batch, 2))
    lam = 0.2 + 0.6 * torch.rand(batch)
    if path in ("channels_last", "compiled_channels_last"):
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if path == "baseline":
        forward, loss = net, local_discrimination_loss_reference
    else:
        forward, loss = net, LocalDiscriminationLoss()
        if path in ("compiled", "compiled_channels_last"):
            forward = torch.compile(net)  # as MONAI's SupervisedTrainer(compile=True) does

    def step() -> float:
        out = forward(x)
        terms = loss(out["embedding"], out["assignment"], k, lam)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        return float(terms["loss"])

    warmup = _timed(step)
    times, values = [], []
    for _ in range(iterations):
        start = time.perf_counter()
        values.append(step())
        times.append(time.perf_counter() - start)
    flops = 0
    if path in ("vectorised", "channels_last"):  # the same model for every variant: count on an eager network
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
    return {
        "variant": variant,
        "path": path,
        "batch": batch,
        "size": size,
        "views": 5 * batch,
        "seconds": statistics.median(times),
        "warmup_seconds": warmup,
        "loss_after_one_step": values[0],
        "flops": flops,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations per process (median)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repetitions of every variant")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        variant, batch, size, iterations = args._child
        print(json.dumps(run_variant(variant, int(batch), int(size), int(iterations))))
        return

    import torch

    peak = sgemm_peak_gflops()
    print(f"sgemm peak: {peak:.1f} GFLOP/s ({torch.get_num_threads()} threads, torch {torch.__version__})", flush=True)
    results = []
    for _ in range(args.rounds):
        for config in args.configs:
            batch, size = CONFIGS[config]
            for variant in args.variants:
                cmd = [sys.executable, __file__, "--_child", variant, str(batch), str(size), str(args.iterations)]
                out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
                if out.returncode:
                    raise RuntimeError(f"{variant} {config} failed:\n{out.stderr[-3000:]}")
                result = json.loads(out.stdout.strip().splitlines()[-1])
                results.append(result)
                print(f"  {config} {variant:>22}: {result['seconds']:.2f} s/iteration ({result['path']})", flush=True)
    print()
    reference = "baseline" if "baseline" in args.variants else args.variants[0]
    print(
        f"| config | variant | s / iteration | views / s | speed-up over {reference} | GFLOP/s | % of sgemm peak | "
        "peak RSS (MB) | loss after 1 step |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for config in args.configs:
        batch, size = CONFIGS[config]
        rows = [r for r in results if (r["batch"], r["size"]) == (batch, size)]
        flops = max(r["flops"] for r in rows) or None
        base = statistics.median(r["seconds"] for r in rows if r["variant"] == reference)
        for variant in args.variants:
            mine = [r for r in rows if r["variant"] == variant]
            seconds = statistics.median(r["seconds"] for r in mine)
            rss = max(r["peak_rss_mb"] for r in mine)
            loss_value = mine[0]["loss_after_one_step"]
            gflops = flops / seconds / 1e9 if flops else float("nan")
            speedup = base / seconds if base else float("nan")
            summary[f"{config}/{variant}"] = {
                "seconds": seconds, "speedup": speedup, "speedup_over": reference, "gflops": gflops, "rss_mb": rss,
                "path": mine[0]["path"],
            }
            name = variant if mine[0]["path"] == variant else f"{variant} ({mine[0]['path']})"
            print(
                f"| {5 * batch}x{size}² | {name} | {seconds:.2f} | {5 * batch / seconds:.2f} | {speedup:.2f}x | "
                f"{gflops:.1f} | {100 * gflops / peak:.0f}% | {rss:.0f} | {loss_value:.4f} |"
            )
        if flops:
            print(f"\n{config}: {flops / 1e9:.1f} GFLOP per iteration (forward + backward)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sgemm_peak_gflops": peak, "results": results, "summary": summary}, f, indent=2)


if __name__ == "__main__":
    main()
