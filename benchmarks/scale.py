# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Scaling out (issue 21): LD in N Gloo processes against one process with the whole batch, and the loader's views/s
against the step's.

* ``equivalence``: the LD network (``LocalDiscriminationNet``, BatchNorm in eval mode: per-process batch statistics
  are the one thing that differs, see ``docs/distributed.md``) trained for ``steps`` SGD steps on fixed five-view
  batches, once in one process with all ``pairs`` pairs and once in ``world`` Gloo processes under
  ``DistributedDataParallel`` with ``pairs / world`` each and ``LocalDiscriminationLoss(gather_across_processes=
  True)``; every loss term, the first step's gradients and the final weights are compared (largest absolute
  difference).

    python benchmarks/scale.py --json docs/results/scale.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ld_monai.data.ld_batch import NUM_VIEWS
from ld_monai.losses import LocalDiscriminationLoss
from ld_monai.networks import LocalDiscriminationNet


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="results of record, e.g. docs/results/scale.json")
    args = parser.parse_args()
    result = ld_equivalence()
    print(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    main()
