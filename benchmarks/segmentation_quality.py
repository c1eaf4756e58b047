# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Test Dice of the segmentation bundles' default recipes, as a user runs them: the figures of issue 17.

For each bundle: the dataset prepared from the raw folder (``ld-monai prepare``), the bundle exported
(``ld-monai bundle export``), ``train.json`` run with its defaults (random init; ``--set`` changes a setting) and
``evaluate.json`` on the test split, each in its own process. Read back: per-image Dice at the network's resolution
(``eval_test/``) and at each image's own resolution (``eval_test/native/``, the published protocol), AUC for
vessels, the training time, the best validation Dice (what settings are chosen by: never the test split). Also
the Dice without the bundle's anatomical clean-up (``keep_components``,
``fill_holes``, ``inside`` off), from the same checkpoint.

``--add BUNDLE=NAME`` trains a bundle on a further prepared dataset too (``extra_datalists``; e.g. STARE with
DRIVE), whose test split is never used; the combination is read back from the run's ``training_data.json``.

Writes ``<output_dir>/<bundle>/`` (datalist, bundle, run) and, with ``--json``, the results of record:
``{"drive_vessel": {"dice", "dice_native", "auc"}, "drishti_disc", "drishti_cup", "cxr_lung", "train_minutes",
...}`` (Dice at native resolution unless the key says otherwise), the per-image values and the command. The
bundles of an existing ``--json`` file (and of ``--previous`` ones) that are not run again are kept, and its
``command`` reproduces all of them (each bundle trains in its own process from its own seed).

Example (the lung bundle alone, about 12 minutes on 2 cores)::

    python benchmarks/segmentation_quality.py --bundles lung_segmentation --data_dir ../shared/data \\
        --json docs/results/segmentation.json
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
    per_image_metrics,
    run_bundle,
    train_exported_bundle,
    validation_dices,
)
from ld_monai.apps.prepare import prepare_dataset
from ld_monai.utils import atomic_write_json

#: bundle -> key of record per structure (each bundle is trained on its ``BENCHMARK_DATASETS`` entry)
TASKS = {
    "retinal_vessel_segmentation": {"vessel": "drive_vessel"},
    "optic_disc_segmentation": {"disc": "drishti_disc", "cup": "drishti_cup"},
    "lung_segmentation": {"lung": "cxr_lung"},
}
NO_CLEANUP = {"keep_components": {}, "fill_holes": [], "inside": {}}
#: further training data a bundle can take (``--add BUNDLE=NAME``): name -> (dataset preparer, raw folder)
EXTRA_DATA = {"stare": ("stare", "fundus/STARE"), "drive": ("drive", "fundus/DRIVE")}


def parse_settings(pairs: list[str]) -> dict[str, dict]:
    """``bundle:key=value`` (value JSON or text) -> ``{bundle: {key: value}}``."""
    settings: dict[str, dict] = {}
    for pair in pairs:
        bundle, _, assignment = pair.partition(":")
        key, _, value = assignment.partition("=")
        if bundle not in TASKS or not key:
            raise SystemExit(f"--set {pair!r}: expected BUNDLE:KEY=VALUE with BUNDLE one of {sorted(TASKS)}.")
        try:
            settings.setdefault(bundle, {})[key] = json.loads(value)
        except json.JSONDecodeError:
            settings.setdefault(bundle, {})[key] = value
    return settings


def parse_extra_data(pairs: list[str]) -> dict[str, list[str]]:
    """``bundle=name`` -> ``{bundle: [name, ...]}`` (names of :data:`EXTRA_DATA`)."""
    extra: dict[str, list[str]] = {}
    for pair in pairs:
        bundle, _, name = pair.partition("=")
        if bundle not in TASKS or name not in EXTRA_DATA:
            raise SystemExit(f"--add {pair!r}: expected BUNDLE=NAME with BUNDLE one of {sorted(TASKS)} and NAME one "
                             f"of {sorted(EXTRA_DATA)}.")
        extra.setdefault(bundle, []).append(name)
    return extra


def evaluate_bundle(name: str, data_dir: Path, out: Path, settings: dict, extra_data: list[str] = ()) -> dict:
    """Train and evaluate bundle ``name`` with ``settings``; ``extra_data`` (names of :data:`EXTRA_DATA`) are
    prepared and added to its training and validation data (``extra_datalists``), never to its test split."""
    dataset, raw = BENCHMARK_DATASETS[name]
    out = out.resolve()  # the bundle runs in its own folder
    out.mkdir(parents=True, exist_ok=True)
    datalist = prepare_dataset(dataset, data_dir / raw, out / "data")
    if extra_data:
        settings = {**settings, "extra_datalists": [
            str(prepare_dataset(EXTRA_DATA[extra][0], data_dir / EXTRA_DATA[extra][1], out / f"data_{extra}"))
            for extra in extra_data]}
    run_dir = out / "run"
    common = {"datalist_file": str(datalist), "output_dir": str(run_dir), **settings}
    bundle, log, minutes = train_exported_bundle(name, out, common)
    run_bundle(bundle, ["configs/train.json", "configs/evaluate.json"], common, log)
    no_cleanup = {**common, **NO_CLEANUP, "eval_dir": str(run_dir / "eval_test_no_cleanup")}
    run_bundle(bundle, ["configs/train.json", "configs/evaluate.json"], no_cleanup, log)
    return {
        "train_minutes": round(minutes, 1),
        "best_validation_dice": max(validation_dices(log)),
        "settings": {key: value for key, value in settings.items() if key != "extra_datalists"},
        "extra_data": list(extra_data),
        "training_data": json.loads((run_dir / "training_data.json").read_text())["datalists"],
        "network": per_image_metrics(run_dir / "eval_test"),
        "native": per_image_metrics(run_dir / "eval_test" / "native"),
        "native_no_cleanup": per_image_metrics(run_dir / "eval_test_no_cleanup" / "native"),
    }


def mean(values: dict[str, float]) -> float:
    return round(float(np.mean(list(values.values()))), 4)


def reproducing_command(record: dict, data_dir: str, output_dir: str, json_file: str) -> str:
    """One command that reproduces every bundle of ``record`` with its settings and extra data (each bundle is
    trained in its own process from its own seed, so running them together or apart gives the same figures)."""
    command = ["python", "benchmarks/segmentation_quality.py", "--bundles", *sorted(record["per_image"]),
               "--data_dir", data_dir, "--output_dir", output_dir]
    for bundle, result in sorted(record["per_image"].items()):
        command += [arg for key, value in sorted(result["settings"].items())
                    for arg in ("--set", f"{bundle}:{key}={json.dumps(value)}")]
        command += [arg for extra in result.get("extra_data", []) for arg in ("--add", f"{bundle}={extra}")]
    return shlex.join(command + ["--json", json_file])


def add_to_record(record: dict, name: str, result: dict) -> None:
    """Bundle ``name``'s result under the keys of record (:data:`TASKS`) and in ``train_minutes`` and ``per_image``."""
    record["train_minutes"][name] = result["train_minutes"]
    record["per_image"][name] = result
    for structure, key in TASKS[name].items():
        native, network = result["native"][f"dice_{structure}"], result["network"][f"dice_{structure}"]
        if name == "retinal_vessel_segmentation":
            record[key] = {"dice": mean(network), "dice_native": mean(native),
                           "auc": mean(result["native"][f"auc_{structure}"])}
        else:
            record[key] = mean(native)


def per_image_table(name: str, result: dict) -> list[str]:
    """A markdown table of bundle ``name``'s test images: Dice per structure at each image's own resolution (and at
    the network's), AUC for vessels; worst image first (the model cards' per-image tables)."""
    structures = list(TASKS[name])
    columns = [(f"Dice {s}, own resolution", "native", f"dice_{s}") for s in structures]
    columns += [(f"Dice {s}, network resolution", "network", f"dice_{s}") for s in structures]
    columns += [(f"AUC {s}", "native", f"auc_{s}") for s in structures if f"auc_{s}" in result["native"]]
    first = result["native"][f"dice_{structures[0]}"]
    lines = ["| image | " + " | ".join(title for title, _, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for image in sorted(first, key=first.get):
        lines.append(f"| {image} | " + " | ".join(f"{result[level][column][image]:.4f}"
                                                 for _, level, column in columns) + " |")
    return lines


def summary_lines(name: str, result: dict) -> list[str]:
    """Rows of the benchmark's table for bundle ``name``."""
    lines = []
    for structure in TASKS[name]:
        native, network = result["native"][f"dice_{structure}"], result["network"][f"dice_{structure}"]
        raw = result["native_no_cleanup"][f"dice_{structure}"]
        worst = min(native, key=native.get)
        lines.append(f"| {name} | {structure} | {mean(native):.4f} ± {np.std(list(native.values())):.4f} "
                     f"({mean(raw):.4f}) | {mean(network):.4f} | {worst} {native[worst]:.3f} | "
                     f"{result['train_minutes']} min | {result['best_validation_dice']:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundles", nargs="*", default=sorted(TASKS), choices=sorted(TASKS),
                        help="bundles to run (none: only combine the --previous records into --json)")
    parser.add_argument("--data_dir", default=os.environ.get("LD_MONAI_DATA_DIR", "../shared/data"))
    parser.add_argument("--output_dir", default="runs/segmentation_quality")
    parser.add_argument("--set", action="append", default=[], metavar="BUNDLE:KEY=VALUE",
                        help="a bundle setting other than the default, e.g. lung_segmentation:fine_epochs=80")
    parser.add_argument("--add", action="append", default=[], metavar="BUNDLE=NAME",
                        help=f"train BUNDLE on a further dataset too (its test split is never used): "
                             f"{sorted(EXTRA_DATA)}")
    parser.add_argument("--json", help="results of record, e.g. docs/results/segmentation.json; the bundles of an "
                                       "existing file that are not run again are kept")
    parser.add_argument("--previous", nargs="*", default=[],
                        help="earlier --json files of this benchmark whose bundles, when not run again, are kept too")
    args = parser.parse_args()
    settings, extra_data = parse_settings(args.set), parse_extra_data(args.add)
    record: dict = {"train_minutes": {}, "per_image": {}}
    previous = args.previous + ([args.json] if args.json and os.path.isfile(args.json) else [])
    for file in previous:
        for name, result in json.loads(Path(file).read_text())["per_image"].items():
            if name not in args.bundles:
                add_to_record(record, name, result)
    for name in args.bundles:
        result = evaluate_bundle(name, Path(args.data_dir).resolve(), Path(args.output_dir) / name,
                                 settings.get(name, {}), extra_data.get(name, []))
        add_to_record(record, name, result)
    lines = ["| bundle | structure | Dice, own resolution (no clean-up) | Dice, network resolution | worst image | "
             "training | best validation Dice |", "|---|---|---|---|---|---|---|"]
    print("\n".join(lines + [line for name, result in record["per_image"].items()
                              for line in summary_lines(name, result)]), flush=True)
    for name, result in record["per_image"].items():
        print(f"\n{name}, per test image:\n" + "\n".join(per_image_table(name, result)), flush=True)
    if args.json:
        record["command"] = reproducing_command(record, args.data_dir, args.output_dir, args.json)
        atomic_write_json(args.json, dict(sorted(record.items())))
        print(f"results of record: {args.json}")


if __name__ == "__main__":
    main()
