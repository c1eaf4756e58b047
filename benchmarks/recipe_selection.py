# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Choose a segmentation bundle's recipe on its training images alone: repeated validation splits (issue 17).

One validation split of a few images cannot choose between recipes (five lung validation images ranked a recipe
first that lost an image on the test split). Here every arm (a set of bundle settings) is trained once per split
seed ``s``: the dataset is prepared with validation seed ``s`` (``ld-monai prepare --seed s``, so each seed holds
out other training patients; the test split does not depend on the seed and is never read), the bundle trains with
the arm's settings and its best model is scored on that validation split at each image's own resolution
(``evaluate.json`` with ``eval_split validation``). The validation images of all splits are pooled: an arm's mean
Dice and its worst image are over every (split, image) pair. The best model is chosen on the same validation split
that scores it, so the figures are optimistic, equally for every arm.

Writes ``<output_dir>/<bundle>/<arm>/split<s>/`` and, with ``--json`` (rewritten after every arm), every arm's pooled
figures, per-split means, per-image Dice, training minutes (Ignite's trainer time), the bundle's version (an arm
``default`` is that version's default recipe) and the command. A split already trained and scored by today's bundle
configs with the same settings is read back, not trained again: an interrupted selection, or one with a further arm,
only trains what is missing.

Example (the lung bundle's default against 120 epochs with a decaying rate, 3 splits, about 40 minutes)::

    python benchmarks/recipe_selection.py --bundle lung_segmentation --data_dir ../shared/data --splits 3 \\
        --arm default --arm poly120 fine_epochs=120 lr_schedule=poly
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

import numpy as np

from ld_monai.apps.bundle_run import (
    BENCHMARK_DATASETS,
    exported_configs_unchanged,
    logged_settings,
    per_image_metrics,
    run_bundle,
    train_exported_bundle,
    trainer_minutes,
    validation_dices,
)
from ld_monai.apps.bundles import bundle_path
from ld_monai.apps.prepare import prepare_dataset
from ld_monai.utils import atomic_write_json


def parse_arm(words: list[str]) -> tuple[str, dict]:
    """``[name, key=value, ...]`` (values JSON or text) -> ``(name, {key: value})``."""
    name, settings = words[0], {}
    for pair in words[1:]:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--arm {name}: expected KEY=VALUE settings, got {pair!r}.")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return name, settings


def run_split(bundle_name: str, data_dir: Path, out: Path, settings: dict, seed: int, val_fraction: float) -> dict:
    """Train ``bundle_name`` with ``settings`` on the training part of validation split ``seed`` and score its best
    model on that split: ``{"train_minutes", "validation_curve", "dice": {structure: {image: Dice}}}``. A split
    that ``out`` already holds, trained by today's bundle configs with the same settings (its log says so) and scored,
    is read back instead."""
    dataset, raw = BENCHMARK_DATASETS[bundle_name]
    out = out.resolve()  # the bundle runs in its own folder
    out.mkdir(parents=True, exist_ok=True)
    datalist = prepare_dataset(dataset, data_dir / raw, out / "data", seed=seed, val_fraction=val_fraction)
    common = {"datalist_file": str(datalist), "output_dir": str(out / "run"), **settings}
    log, scores = out / "log.txt", out / "run" / "eval_validation" / "native"
    if not ((scores / "metrics_per_image.csv").is_file() and log.is_file() and logged_settings(log) == common
            and exported_configs_unchanged(bundle_name, out / bundle_name)):
        bundle, log, _ = train_exported_bundle(bundle_name, out, common)
        run_bundle(bundle, ["configs/train.json", "configs/evaluate.json"], {**common, "eval_split": "validation"},
                   log)
    native = per_image_metrics(scores)
    return {"train_minutes": round(trainer_minutes(log), 1), "validation_curve": validation_dices(log),
            "dice": {column[len("dice_"):]: values for column, values in native.items() if column.startswith("dice_")}}


def pooled(splits: list[dict]) -> dict:
    """An arm's figures over every (split, image) pair, per structure: mean, worst and its image; per-split means."""
    figures = {}
    for structure in splits[0]["dice"]:
        pairs = {f"split{s}/{image}": dice for s, split in enumerate(splits)
                 for image, dice in split["dice"][structure].items()}
        worst = min(pairs, key=pairs.get)
        figures[structure] = {
            "dice_mean": round(float(np.mean(list(pairs.values()))), 4),
            "dice_min": round(pairs[worst], 4), "worst": worst, "images": len(pairs),
            "per_split_mean": [round(float(np.mean(list(split["dice"][structure].values()))), 4) for split in splits],
        }
    return figures


def table(arms: dict) -> list[str]:
    """Markdown rows: arm, settings, per structure the pooled mean (per-split means) and the worst image."""
    lines = ["| arm | settings | structure | validation Dice, pooled | per split | worst image | training |",
             "|---|---|---|---|---|---|---|"]
    for name, arm in arms.items():
        settings = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in arm["settings"].items()) or "default"
        minutes = np.mean([split["train_minutes"] for split in arm["splits"]])
        for structure, fig in arm["pooled"].items():
            lines.append(f"| {name} | {settings} | {structure} | {fig['dice_mean']:.4f} ({fig['images']} images) | "
                         f"{' / '.join(f'{m:.4f}' for m in fig['per_split_mean'])} | {fig['worst']} "
                         f"{fig['dice_min']:.3f} | {minutes:.1f} min |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True, choices=sorted(BENCHMARK_DATASETS))
    parser.add_argument("--data_dir", default=os.environ.get("LD_MONAI_DATA_DIR", "../shared/data"))
    parser.add_argument("--output_dir", default="runs/recipe_selection")
    parser.add_argument("--arm", action="append", nargs="+", required=True, metavar="NAME [KEY=VALUE ...]",
                        help="a recipe: its name and the bundle settings that differ from the default")
    parser.add_argument("--splits", type=int, default=3, help="validation split seeds 0 .. splits-1 (default 3)")
    parser.add_argument("--val_fraction", type=float, default=0.2,
                        help="fraction of the training patients (or images) held out per split (default 0.2)")
    parser.add_argument("--json", help="write every arm's figures and the command here")
    args = parser.parse_args()
    arms = dict(parse_arm(words) for words in args.arm)
    command = ["python", "benchmarks/recipe_selection.py", "--bundle", args.bundle, "--data_dir", args.data_dir,
               "--output_dir", args.output_dir, "--splits", str(args.splits), "--val_fraction", str(args.val_fraction)]
    for name, settings in arms.items():
        command += ["--arm", name, *(f"{key}={json.dumps(value)}" for key, value in settings.items())]
    version = json.loads((bundle_path(args.bundle) / "configs" / "metadata.json").read_text())["version"]
    results = {}
    for name, settings in arms.items():
        splits = [run_split(args.bundle, Path(args.data_dir).resolve(),
                            Path(args.output_dir) / args.bundle / name / f"split{seed}", settings, seed,
                            args.val_fraction)
                  for seed in range(args.splits)]
        results[name] = {"settings": settings, "pooled": pooled(splits), "splits": splits}
        print("\n".join(table({name: results[name]})[2:]), flush=True)
        if args.json:
            atomic_write_json(args.json, {"bundle": args.bundle, "bundle_version": version, "splits": args.splits,
                                          "val_fraction": args.val_fraction, "arms": results,
                                          "command": shlex.join(command + ["--json", args.json])})
    print("\n".join(table(results)))
    if args.json:
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
