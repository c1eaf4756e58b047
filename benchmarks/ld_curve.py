# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Leakage and anatomy against pretraining iterations: the curves of one LD pretraining run.

For the per-epoch checkpoints of one run (``checkpoint_epoch=N.pt``, kept with the bundle setting
``keep_checkpoints=0``; choose some with ``--epochs``), this measures in one pass over the data:

* position leakage (``benchmarks/position_leakage.py``, on LD validation views of DRIVE test images): the held-out
  R² of position -> embedding and -> soft clusters, and the largest of the four (the headline);
* the anatomy probe (``benchmarks/embedding_probe.py``): linear probes on frozen encoder hypercolumns of every
  checkpoint against one random network of the same architecture and padding, Dice per task.

It prints one table, draws both curves against the training iteration (read from each checkpoint's trainer
state) into ``--picture``, and writes ``--json``: ``{"iterations": [...], "checkpoints": [...],
"position_leakage": {"xy": [...], ..., "max": [...]}, "position_leakage_random": {...}, "probe_dice": {task:
{"random": float, "ld": [...]}}, "padding_mode", "command"}``. The curves size a longer (GPU) run: where leakage
and the probe still move, more iterations pay.

    python benchmarks/ld_curve.py --run runs/long/a1 --padding_mode reflect \\
        --json docs/results/ld_curve.json --picture docs/images/ld_curve.png
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import torch

from ld_monai.utils import atomic_write_json

HERE = Path(__file__).resolve().parent
LEAKAGE_KEYS = ("xy", "polar", "clusters_xy", "clusters_polar")


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def epoch_checkpoints(run: Path, epochs: list[int] | None) -> dict[int, Path]:
    """``{epoch: path}`` of the run's ``checkpoints/checkpoint_epoch=N.pt`` (those of ``epochs`` if given)."""
    found = {}
    for path in (run / "checkpoints").glob("checkpoint_epoch=*.pt"):
        match = re.fullmatch(r"checkpoint_epoch=(\d+)\.pt", path.name)
        if match:
            found[int(match.group(1))] = path
    if epochs:
        missing = sorted(set(epochs) - set(found))
        if missing:
            raise FileNotFoundError(f"no checkpoint of epoch(s) {missing} in {run / 'checkpoints'} "
                                    f"(have {sorted(found)}).")
        found = {e: found[e] for e in epochs}
    if not found:
        raise FileNotFoundError(f"no checkpoint_epoch=N.pt in {run / 'checkpoints'}: train with keep_checkpoints=0.")
    return dict(sorted(found.items()))


def trainer_iteration(path: Path) -> int:
    """The trainer's iteration count stored in a training checkpoint."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "trainer" not in state:
        raise KeyError(f"{path} has no trainer state: pass training checkpoints (checkpoint_epoch=N.pt).")
    return int(state["trainer"]["iteration"])


def draw(record: dict[str, Any], path: str) -> None:
    """Two panels against iterations: leakage (max of the four R²) and probe Dice of LD minus random per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = record["iterations"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key in ("max", "xy", "clusters_polar"):
        left.plot(its, record["position_leakage"][key], marker="o", label=f"LD, {key}")
    left.axhline(record["position_leakage_random"]["max"], color="gray", ls="--", label="random init, max")
    left.set(xlabel="pretraining iteration", ylabel="held-out R² of position", title="position leakage")
    left.legend(fontsize=8)
    for task, dice in record["probe_dice"].items():
        right.plot(its, [d - dice["random"] for d in dice["ld"]], marker="o", label=task)
    right.axhline(0.0, color="gray", ls="--")
    right.set(xlabel="pretraining iteration", ylabel="Dice, LD - random", title="anatomy probe (hypercolumns)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="output_dir of an ld_pretraining run (keep_checkpoints=0)")
    parser.add_argument("--epochs", type=int, nargs="*", default=None, help="epochs to measure (default: all)")
    parser.add_argument("--padding_mode", default="zeros", choices=["zeros", "reflect", "replicate"])
    parser.add_argument("--probe_tasks", nargs="+", default=["vessel", "disc", "cup", "lung"])
    parser.add_argument("--num_images", type=int, default=8, help="views of DRIVE test images for the leakage")
    parser.add_argument("--max_images", type=int, default=None, help="cap the probe's images per dataset (quick runs)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 is faster under load)")
    parser.add_argument("--json", help="write the curves here")
    parser.add_argument("--picture", help="draw the curves here (PNG)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", *(sys.argv if argv is None else ["benchmarks/ld_curve.py", *argv])])

    checkpoints = epoch_checkpoints(Path(args.run), args.epochs)
    names = [f"epoch {e}" for e in checkpoints]
    iterations = [trainer_iteration(p) for p in checkpoints.values()]
    leakage = _benchmark("position_leakage")
    rows = leakage.measure(list(checkpoints.values()), names, num_images=args.num_images,
                           padding_modes=[args.padding_mode] * len(checkpoints))
    print(leakage.markdown_table(rows), flush=True)
    probe = _benchmark("embedding_probe")
    result = probe.measure(dict(zip(names, map(str, checkpoints.values()))), tasks=args.probe_tasks,
                           max_images=args.max_images, padding_mode=args.padding_mode,
                           log=lambda line: print(line, flush=True))
    print(probe.markdown_table(result), flush=True)

    curves = {key: [row[key] for row in rows[1:]] for key in LEAKAGE_KEYS if key in rows[1]}
    curves["max"] = [max(row[key] for key in LEAKAGE_KEYS if key in row) for row in rows[1:]]
    random_row = rows[0]
    record: dict[str, Any] = {
        "iterations": iterations,
        "checkpoints": [str(p) for p in checkpoints.values()],
        "position_leakage": curves,
        "position_leakage_random": {**{k: random_row[k] for k in LEAKAGE_KEYS if k in random_row},
                                    "max": max(random_row[k] for k in LEAKAGE_KEYS if k in random_row)},
        "probe_dice": {task: {"random": dice["random"], "ld": [dice[n] for n in names]}
                       for task, dice in result["probe_dice"].items()},
        "padding_mode": args.padding_mode,
        "command": command,
    }
    lines = ["| iteration | leakage (max) | " + " | ".join(f"probe {t} (LD - random)" for t in record["probe_dice"])
             + " |", "|---|---|" + "---|" * len(record["probe_dice"])]
    for i, it in enumerate(iterations):
        cells = [f"{d['ld'][i] - d['random']:+.3f}" for d in record["probe_dice"].values()]
        lines.append(f"| {it} | {curves['max'][i]:.3f} | " + " | ".join(cells) + " |")
    print("\n" + "\n".join(lines), flush=True)
    if args.json:
        atomic_write_json(args.json, record)
        print(f"wrote {args.json}")
    if args.picture:
        draw(record, args.picture)
        print(f"drew {args.picture}")
    return record


if __name__ == "__main__":
    main()
