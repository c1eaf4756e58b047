# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Time one PEAC training iteration at the bundle's CPU default (forward of student and teacher, the four terms,
backward, AdamW step, the teacher's moving average) and check it against a straightforward eager version.

Two variants, interleaved over ``--rounds`` in one process so that machine noise hits them alike:

* ``straightforward`` (the oracle): the research code's single-process order of work, four forward passes
  ``s(x1)``, ``t(x2)``, ``s(x2)``, ``t(x1)`` of one view batch each, and the loss written out term by term with a
  loop over the samples for the local term;
* ``ld_monai``: :class:`ld_monai.networks.StudentTeacher` on ``cat[x1, x2]`` (one student and one teacher pass of
  both views) and :class:`ld_monai.losses.PEACLoss` (:func:`ld_monai.engines.peac_terms`).

Before timing, both compute the loss of one batch with the student in eval mode (no drop path): they must agree
to 1e-5 (relative). Reports views/s (two views per radiograph), GFLOP/s (``torch.utils.flop_counter``) as a
fraction of an sgemm peak measured in the same run, and the agreement.

    python benchmarks/peac_step.py                # batch 4, the bundle's CPU default network
    python benchmarks/peac_step.py --rounds 5 --json runs/peac_step.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ld_monai.engines import peac_terms
from ld_monai.handlers import TeacherEMA
from ld_monai.losses import PEACLoss
from ld_monai.networks import PEACNet, StudentTeacher
from ld_monai.transforms import RandGridCropPaird, RandPopARCorruptiond

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ld_step import sgemm_peak_gflops  # noqa: E402

VARIANTS = ("straightforward", "ld_monai")


def batch_of_views(batch: int, network: PEACNet, max_offset: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """``batch`` smooth random radiograph-like images cut and corrupted as the bundle does (unnormalised)."""
    torch.manual_seed(seed)
    side = (network.grid[0] + max_offset + 1) * network.cell_size
    crops = RandGridCropPaird("image", network.cell_size, network.grid[0], max_offset).set_random_state(seed)
    corrupt = RandPopARCorruptiond("view1", network.cell_size).set_random_state(seed)
    items = []
    for _ in range(batch):
        image = F.interpolate(torch.rand(1, 1, side // 16, side // 16), size=side, mode="bilinear")[0]
        items.append(corrupt(crops({"image": image})))
    return {key: torch.stack([torch.as_tensor(item[key]) for item in items]) for key in items[0]
            if key not in ("grid_offsets",)}


def straightforward_loss(student: PEACNet, teacher: PEACNet, views: dict[str, torch.Tensor]) -> torch.Tensor:
    """PEAC's loss (method spec B4) as written: four passes, the terms one by one, the local term per sample."""
    s1, s2 = student(views["view1"]), student(views["view2"])
    with torch.no_grad():
        t1, t2 = teacher(views["view1"]), teacher(views["view2"])
    order = F.cross_entropy(s1["order"].reshape(-1, s1["order"].shape[-1]), views["permutation"].reshape(-1))
    restore = F.mse_loss(s1["restoration"], views["restoration_target"])
    unit = [F.normalize(out["global"], dim=-1) for out in (s1, t2, s2, t1)]
    global_term = F.mse_loss(unit[0], unit[1]) + F.mse_loss(unit[2], unit[3])
    first, second, third, fourth = [], [], [], []
    for b in range(views["view1"].shape[0]):
        if views["shuffled"][b]:
            continue
        o1, o2 = views["overlap1"][b], views["overlap2"][b]
        first.append(s1["local"][b][o1])
        second.append(t2["local"][b][o2])
        third.append(t1["local"][b][o1])
        fourth.append(s2["local"][b][o2])
    local = 0.5 * (F.mse_loss(torch.cat(first), torch.cat(second)) + F.mse_loss(torch.cat(third), torch.cat(fourth))) \
        if first else torch.zeros(())
    return order + restore + PEACLoss().weights["global"] * global_term + local


def ld_monai_loss(network: StudentTeacher, loss: PEACLoss, views: dict[str, torch.Tensor]) -> torch.Tensor:
    targets = {key: views[key] for key in ("restoration_target", "permutation", "shuffled", "overlap1", "overlap2")}
    return peac_terms(loss, network(torch.cat([views["view1"], views["view2"]])), targets)["loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=4, help="radiographs per iteration (two views each)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed iterations of every variant")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    torch.manual_seed(0)
    student = PEACNet()  # the bundle's CPU default
    ema = TeacherEMA(student, total_iterations=1000)
    network = StudentTeacher(student, ema.teacher)
    loss = PEACLoss()
    views = batch_of_views(args.batch, student)
    optimizer = torch.optim.AdamW(student.parameters(), lr=5e-4, weight_decay=0.05)

    student.eval()
    with torch.no_grad():
        oracle, ours = straightforward_loss(student, ema.teacher, views), ld_monai_loss(network, loss, views)
    agreement = abs(float(oracle) - float(ours)) / abs(float(oracle))
    student.train()

    steps = {
        "straightforward": lambda: straightforward_loss(student, ema.teacher, views),
        "ld_monai": lambda: ld_monai_loss(network, loss, views),
    }

    def iteration(variant: str) -> float:
        start = time.perf_counter()
        value = steps[variant]()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        with torch.no_grad():  # the teacher's update that TeacherEMA makes (Ignite's EMAHandler), at momentum 0.999
            for teacher_weight, student_weight in zip(ema.teacher.parameters(), student.parameters()):
                teacher_weight.mul_(0.999).add_(student_weight, alpha=0.001)
        return time.perf_counter() - start

    for variant in VARIANTS:  # warm up
        iteration(variant)
    flops = {}
    for variant in VARIANTS:
        with FlopCounterMode(display=False) as counter:
            iteration(variant)
        flops[variant] = counter.get_total_flops()
    peak = sgemm_peak_gflops()
    times = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            times[variant].append(iteration(variant))
    print(f"sgemm peak {peak:.1f} GFLOP/s ({torch.get_num_threads()} threads); batch {args.batch} radiographs, "
          f"{2 * args.batch} views of {student.view_size} px; loss agreement {agreement:.1e} (relative)")
    print("| variant | s / iteration | views / s | GFLOP / iteration | GFLOP/s | % of sgemm peak |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for variant in VARIANTS:
        seconds = statistics.median(times[variant])
        gflops = flops[variant] / seconds / 1e9
        summary[variant] = {"seconds": seconds, "views_per_s": 2 * args.batch / seconds,
                            "gflop_per_iteration": flops[variant] / 1e9, "gflops": gflops,
                            "share_of_sgemm_peak": gflops / peak}
        print(f"| {variant} | {seconds:.2f} | {2 * args.batch / seconds:.2f} | {flops[variant] / 1e9:.1f} | "
              f"{gflops:.1f} | {100 * gflops / peak:.0f}% |")
    if agreement > 1e-5:
        raise SystemExit(f"the two losses disagree: {float(oracle)} against {float(ours)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "batch": args.batch,
                                               "sgemm_peak_gflops": peak, "loss_agreement": agreement,
                                               "variants": summary}, indent=2))


if __name__ == "__main__":
    main()
