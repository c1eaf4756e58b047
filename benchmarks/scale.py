# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Scaling out (issue 21): LD in N Gloo processes against one process with the whole batch, and the loader's views/s
against the step's.

* ``equivalence``: the LD network (``LocalDiscriminationNet``, BatchNorm in eval mode: per-process batch statistics
  are the one thing that differs, see ``docs/distributed.md``) trained for ``steps`` SGD steps on fixed five-view
  batches, once in one process with all ``pairs`` pairs and once in ``world`` Gloo processes under
  ``DistributedDataParallel`` with ``pairs / world`` each and ``LocalDiscriminationLoss(gather_across_processes=
  True)``; every loss term, the first step's gradients and the final weights are compared (largest absolute
  difference).
* ``loader``: ``ld_pretraining`` at its CPU default (batches of 4 pairs, 448-px views of 512-px images, the bundle's
  loader workers) on the first ``--images`` unlabeled fundus photographs of ``--data_dir``: views/s of its training
  loader alone against views/s of its training step alone (the trainer's iteration on a loaded batch, repeated), in
  one process, and the step projected to a GPU (``GPU_FP32_TFLOPS`` at the sgemm efficiency measured here).
* ``processes``: the same bundle (smaller: 256-px views, batch 2) trained by ``torchrun`` with 1 and with 2 Gloo
  processes for ``--iterations`` iterations each (every process one thread, so both use the 2 cores alike): images
  (two per pair) per second of the whole run, from Ignite's run time.

    python benchmarks/scale.py --data_dir ../shared/data --json docs/results/scale.json
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ld_monai.apps.bundle_files import bundle_parser
from ld_monai.apps.bundle_run import export_afresh, run_bundle, trainer_minutes
from ld_monai.data.ld_batch import NUM_VIEWS
from ld_monai.losses import LocalDiscriminationLoss
from ld_monai.networks import LocalDiscriminationNet
from ld_monai.utils import atomic_write_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ld_step import sgemm_peak_gflops  # noqa: E402

#: the fp32 peak assumed for a GPU step: NVIDIA A100 (SXM), 19.5 TFLOP/s without TF32 (NVIDIA A100 datasheet)
GPU_FP32_TFLOPS = 19.5


def five_view_batch(pairs: int, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """A fixed five-view batch of ``pairs`` pairs with all the loss's inputs: turned second views, mixing weights,
    overlapping crop boxes and source images (two pairs share a photograph)."""
    g = torch.Generator().manual_seed(seed)
    offsets = torch.randint(0, size // 4, (pairs, 2, 2, 2), generator=g).double()
    boxes = torch.cat([offsets, torch.full((pairs, 2, 2, 2), float(size))], dim=-1)
    sources = torch.arange(2 * pairs).view(pairs, 2)
    sources[-1, 1] = sources[0, 0]
    return {"views": torch.rand(NUM_VIEWS * pairs, 1, size, size, generator=g),
            "rotation_k": torch.randint(0, 8, (pairs, 2), generator=g),
            "mix_lambda": 0.2 + 0.6 * torch.rand(pairs, generator=g), "crop_boxes": boxes, "source_index": sources}


def rank_share(batch: dict[str, torch.Tensor], rank: int, world: int) -> dict[str, torch.Tensor]:
    """The pairs of process ``rank`` of ``world``: a contiguous block of pairs of every view."""
    pairs = batch["rotation_k"].shape[0]
    share = slice(rank * pairs // world, (rank + 1) * pairs // world)
    views = batch["views"].unflatten(0, (NUM_VIEWS, pairs))[:, share].flatten(0, 1)
    return {"views": views, **{key: value[share] for key, value in batch.items() if key != "views"}}


def equivalence_network(seed: int = 0) -> nn.Module:
    """The LD network with its clustering head, BatchNorm in eval mode (running statistics)."""
    torch.manual_seed(seed)
    network = LocalDiscriminationNet(in_channels=1, embedding_dim=16, num_clusters=4)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
    return network


def train_steps(network: nn.Module, batch: dict[str, torch.Tensor], steps: int, gather: bool) -> dict:
    """``steps`` SGD steps of the LD loss; the first step's loss terms and gradients and the final weights."""
    loss = LocalDiscriminationLoss(grid=(4, 4), repeated_image_negatives=False, gather_across_processes=gather)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.05, momentum=0.9)
    first = {}
    for step in range(steps):
        output = network(batch["views"])
        terms = loss(output["embedding"], output["assignment"], batch["rotation_k"], batch["mix_lambda"],
                     batch["crop_boxes"], batch["source_index"])
        optimizer.zero_grad()
        terms["loss"].backward()
        if step == 0:
            first = {"terms": {k: float(v.detach()) for k, v in terms.items()},
                     "gradients": {k: p.grad.clone() for k, p in network.named_parameters()}}
        optimizer.step()
    weights = {k.removeprefix("module."): v.detach().clone() for k, v in network.state_dict().items()}
    return {**first, "weights": weights}


def _distributed_worker(rank: int, world: int, store: str, pairs: int, steps: int, gather: bool, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        network = DistributedDataParallel(equivalence_network())
        result = train_steps(network, rank_share(five_view_batch(pairs), rank, world), steps, gather)
        result["gradients"] = {k.removeprefix("module."): v for k, v in result["gradients"].items()}
        if rank == 0:
            torch.save(result, out)
    finally:
        dist.destroy_process_group()


def ld_equivalence(world: int = 2, pairs: int = 4, steps: int = 3, gather: bool = True) -> dict:
    """Largest absolute differences between ``world`` Gloo processes and one process with the whole batch
    (``gather=False``: each process's loss on its own pairs, as before issue 21)."""
    single = train_steps(equivalence_network(), five_view_batch(pairs), steps, gather=False)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "rank0.pt")
        store = os.path.join(folder, "store")
        mp.spawn(_distributed_worker, args=(world, store, pairs, steps, gather, out), nprocs=world)
        several = torch.load(out, weights_only=True)

    def largest(a: dict, b: dict) -> float:
        return max(float((torch.as_tensor(a[k]) - torch.as_tensor(b[k])).abs().max()) for k in a)

    return {"loss_terms": largest(single["terms"], several["terms"]),
            "first_step_gradients": largest(single["gradients"], several["gradients"]),
            "weights_after_steps": largest(single["weights"], several["weights"]),
            "terms": single["terms"], "world": world, "pairs": pairs, "steps": steps}


def subset(source: Path, folder: Path, count: int) -> Path:
    """A folder of links to the first ``count`` images of ``source``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir())[:count]:
        if not (folder / path.name).exists():
            (folder / path.name).symlink_to(path)
    return folder


def loader_against_step(images: Path, out: Path, batches: int, steps: int) -> dict:
    """Views/s of ``ld_pretraining``'s training loader alone and of its training step alone, at the CPU default."""
    bundle = export_afresh("ld_pretraining", out)
    parser = bundle_parser(bundle, ["train.json"], {"dataset_dir": str(images), "output_dir": str(out / "run")},
                           "cpu")
    loader = parser.get_parsed_content("train#dataloader")
    batch_size = parser.get_parsed_content("batch_size")
    iterator = iter(loader)
    batch = next(iterator)  # the workers start
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    loader_seconds = time.perf_counter() - start
    trainer = parser.get_parsed_content("train#trainer")
    trainer._iteration(trainer, batch)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        trainer._iteration(trainer, batch)
    step_seconds = time.perf_counter() - start
    views = NUM_VIEWS * batch_size
    cpu_tflops = sgemm_peak_gflops() / 1000
    step = views * steps / step_seconds
    return {"loader_views_per_s": round(views * batches / loader_seconds, 2), "step_views_per_s": round(step, 3),
            "loader_workers": parser.get_parsed_content("num_workers"), "views_per_batch": views,
            "cpu_sgemm_tflops": round(cpu_tflops, 3), "assumed_gpu_fp32_tflops": GPU_FP32_TFLOPS,
            "projected_gpu_step_views_per_s": round(step * GPU_FP32_TFLOPS / cpu_tflops, 1)}


def images_per_second(images: Path, out: Path, processes: int, iterations: int) -> float:
    """Images (two per pair) per second of ``ld_pretraining`` trained by ``processes`` Gloo processes."""
    settings = {"dataset_dir": str(images), "output_dir": str(out / f"run{processes}"), "image_size": 288,
                "crop_size": 256, "batch_size": 2, "epoch_length": iterations // 2, "pd_epochs": 1, "ld_epochs": 1,
                "num_val_items": 2, "num_picture_images": 1, "num_workers": 1, "compile": False}
    log = out / f"log{processes}.txt"
    log.unlink(missing_ok=True)
    os.environ["OMP_NUM_THREADS"] = str(max(1, 2 // processes))
    configs = ["configs/train.json"] + (["configs/multi_gpu_train.json"] if processes > 1 else [])
    run_bundle(export_afresh("ld_pretraining", out), configs, settings, log, processes=processes)
    return round(2 * settings["batch_size"] * processes * iterations / (60 * trainer_minutes(log)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=os.environ.get("LD_MONAI_DATA_DIR", "../shared/data"))
    parser.add_argument("--output_dir", default="runs/scale")
    parser.add_argument("--images", type=int, default=64, help="photographs used (the first, by name)")
    parser.add_argument("--batches", type=int, default=20, help="loader batches timed")
    parser.add_argument("--steps", type=int, default=3, help="training steps timed")
    parser.add_argument("--iterations", type=int, default=20, help="iterations of each torchrun training")
    parser.add_argument("--json", help="results of record, e.g. docs/results/scale.json")
    args = parser.parse_args()
    out = Path(args.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    images = subset(Path(args.data_dir).resolve() / "fundus" / "unlabeled" / "images", out / "images", args.images)
    equivalence = ld_equivalence()
    print(f"2 Gloo processes against one: loss terms {equivalence['loss_terms']:.2e}, first gradients "
          f"{equivalence['first_step_gradients']:.2e}, weights after {equivalence['steps']} steps "
          f"{equivalence['weights_after_steps']:.2e}", flush=True)
    throughput = loader_against_step(images, out / "loader", args.batches, args.steps)
    print(f"loader {throughput['loader_views_per_s']} views/s against the step's {throughput['step_views_per_s']} "
          f"({throughput['loader_views_per_s'] / throughput['step_views_per_s']:.1f} x)", flush=True)
    single = images_per_second(images, out / "processes", 1, args.iterations)
    several = images_per_second(images, out / "processes", 2, args.iterations)
    print(f"images/s: 1 process {single}, 2 Gloo processes {several}", flush=True)
    record = {"equivalence_max_abs_diff": max(equivalence[k] for k in ("loss_terms", "first_step_gradients",
                                                                       "weights_after_steps")),
              "equivalence": equivalence, **throughput,
              "loader_to_step_ratio": round(throughput["loader_views_per_s"] / throughput["step_views_per_s"], 2),
              "single_images_per_s": single, "gloo_2proc_images_per_s": several,
              "command": shlex.join(["python", "benchmarks/scale.py", *sys.argv[1:]])}
    if args.json:
        atomic_write_json(args.json, record)
        print(f"results of record: {args.json}")


if __name__ == "__main__":
    main()
