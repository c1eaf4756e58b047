# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Does LD pretraining learn anatomy or position? One table over pretraining arms, and the results of record.

For each arm (an LD ``model.pt`` with the padding mode it was trained with) this measures, on the same images and
in one run:

* position leakage (``benchmarks/position_leakage.py``): the held-out R² of pixel position -> embedding and ->
  soft cluster assignments, each in (row, col) and in (radius, angle) about the field-of-view centre; the headline
  is the largest of the four (the shortcut's rings show in the clusters first);
* the anatomy probe (``benchmarks/embedding_probe.py``; run here with ``--probe``, or read from that benchmark's
  ``--json`` with ``--probe_result NAME=FILE``): linear probes on frozen encoder hypercolumns, LD against a random
  network, Dice for DRIVE vessels, Drishti-GS1 disc and cup, lungs;

and it folds in transfer results written by ``benchmarks/transfer.py`` (``--transfer_25`` / ``--transfer_100``:
its ``transfer_results.json``, random and LD init on DRIVE at 25 % and 100 % of the labels).

``--before`` and ``--after`` name two arms (today's recipe and the new default); ``--json`` writes
``{"position_leakage": {"before", "after"}, "probe_dice": {task: {"random", "ld"}}, "transfer_drive_25":
{"random": [per seed], "ld": [per seed]}, "transfer_drive_100": ..., "arms": {...}, "command": ...}``, where the
probe and the transfer are those of the ``--after`` arm.

    python benchmarks/ld_anatomy.py --arm today=runs/a0/checkpoints/model.pt \\
        --arm fixed=runs/a1/checkpoints/model.pt:reflect --before today --after fixed --probe \\
        --transfer_25 runs/transfer25/transfer_results.json --json docs/results/ld_anatomy.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ld_monai.utils import atomic_write_json

HERE = Path(__file__).resolve().parent
LEAKAGE_KEYS = ("xy", "polar", "clusters_xy", "clusters_polar")


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_arm(text: str) -> tuple[str, str, str]:
    """``name=path[:padding_mode]`` -> (name, path, padding mode)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"arm {text!r} must look like name=path/to/model.pt[:reflect].")
    name, path = text.split("=", 1)
    padding = "zeros"
    if ":" in path and path.rsplit(":", 1)[1] in ("zeros", "reflect", "replicate"):
        path, padding = path.rsplit(":", 1)
    return name, path, padding


def leakage_values(row: dict[str, Any]) -> dict[str, float]:
    """The leakage R² of a ``position_leakage.measure`` row and their maximum (the headline)."""
    values = {key: row[key] for key in LEAKAGE_KEYS if key in row}
    return {**values, "max": max(values.values())}


def transfer_seed_means(path: str) -> dict[str, list[float]]:
    """``{"random": [mean Dice per seed], "ld": [...]}`` from a ``transfer_results.json`` (vessel Dice)."""
    record = json.loads(Path(path).read_text())
    out: dict[str, list[float]] = {}
    for result in sorted(record["results"].values(), key=lambda r: r["seed"]):
        dice = next(iter(result["dice"].values()))
        out.setdefault(result["init"], []).append(float(np.mean(dice)))
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", action="append", type=parse_arm, required=True, metavar="NAME=PATH[:PADDING]")
    parser.add_argument("--before", help="the arm of today's recipe")
    parser.add_argument("--after", help="the arm of the new default")
    parser.add_argument("--probe", action="store_true", help="also run the anatomy probe of every arm")
    parser.add_argument("--probe_tasks", nargs="+", default=["vessel", "disc", "cup", "lung"])
    parser.add_argument("--probe_result", action="append", default=[], type=lambda t: t.split("=", 1),
                        metavar="NAME=FILE", help="an arm's probe, from embedding_probe.py --json (instead of --probe)")
    parser.add_argument("--num_images", type=int, default=8, help="views of DRIVE test images for the leakage")
    parser.add_argument("--transfer_25", help="transfer_results.json of the --after arm at 25 %% of the labels")
    parser.add_argument("--transfer_100", help="transfer_results.json of the --after arm at 100 %% of the labels")
    parser.add_argument("--json", help="write the results of record here")
    args = parser.parse_args(argv)
    command = shlex.join(["python", *(sys.argv if argv is None else ["benchmarks/ld_anatomy.py", *argv])])
    names = [name for name, _, _ in args.arm]
    for key in ("before", "after"):
        if getattr(args, key) and getattr(args, key) not in names:
            parser.error(f"--{key} {getattr(args, key)!r} is not one of the arms {names}.")

    leakage = _benchmark("position_leakage")
    rows = leakage.measure([p for _, p, _ in args.arm], names, num_images=args.num_images,
                           padding_modes=[m for _, _, m in args.arm])
    arms: dict[str, dict[str, Any]] = {}
    for row, (name, path, padding) in zip(rows[1:], args.arm):
        arms[name] = {"checkpoint": path, "padding_mode": padding, "position_leakage": leakage_values(row)}
    random_leakage = leakage_values(rows[0])
    print(leakage.markdown_table(rows), flush=True)

    probed = bool(args.probe or args.probe_result)
    for name, path in args.probe_result:
        if name not in arms:
            parser.error(f"--probe_result {name!r} is not one of the arms {names}.")
        result = json.loads(Path(path).read_text())
        arms[name].update(probe_dice=result["probe_dice"], probe_dice_embedding=result["probe_dice_embedding"],
                          probe_source={"file": str(path), "command": result.get("command")})
    if args.probe:
        probe = _benchmark("embedding_probe")
        for name, path, padding in args.arm:
            print(f"\nanatomy probe of {name}", flush=True)
            result = probe.measure(path, tasks=args.probe_tasks, padding_mode=padding)
            arms[name]["probe_dice"] = result["probe_dice"]
            arms[name]["probe_dice_embedding"] = result["probe_dice_embedding"]
            print(probe.markdown_table(result), flush=True)

    header = "| arm | leakage: embedding xy / polar | clusters xy / polar | headline |"
    lines = [header + ("" if not probed else
             " | ".join([""] + [f"probe {t} (LD / random)" for t in args.probe_tasks]) + " |"),
             "|---|---|---|---|" + ("---|" * len(args.probe_tasks) if probed else "")]

    def leakage_cells(values: dict[str, float]) -> list[str]:
        clusters = (f"{values['clusters_xy']:.3f} / {values['clusters_polar']:.3f}" if "clusters_xy" in values
                    else "-")
        return [f"{values['xy']:.3f} / {values['polar']:.3f}", clusters, f"{values['max']:.3f}"]

    lines.append("| random init | " + " | ".join(leakage_cells(random_leakage)) + " |"
                 + ("" if not probed else " - |" * len(args.probe_tasks)))
    for name, arm in arms.items():
        cells = leakage_cells(arm["position_leakage"])
        if probed:
            cells += [f"{arm['probe_dice'][t]['ld']:.3f} / {arm['probe_dice'][t]['random']:.3f}"
                      if "probe_dice" in arm else "-" for t in args.probe_tasks]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n" + "\n".join(lines), flush=True)

    record: dict[str, Any] = {"arms": arms, "random_init": {"position_leakage": random_leakage}}
    if args.before and args.after:
        record["position_leakage"] = {"before": arms[args.before]["position_leakage"]["max"],
                                      "after": arms[args.after]["position_leakage"]["max"]}
    if args.after and "probe_dice" in arms.get(args.after, {}):
        record["probe_dice"] = arms[args.after]["probe_dice"]
    for key, path in (("transfer_drive_25", args.transfer_25), ("transfer_drive_100", args.transfer_100)):
        if path:
            record[key] = transfer_seed_means(path)
            record[key]["source"] = str(path)
    record["command"] = command
    if args.json:
        atomic_write_json(args.json, record)
        print(f"\nwrote {args.json}")
    return record


if __name__ == "__main__":
    main()
