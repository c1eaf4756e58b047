# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Run an exported bundle's configs in a fresh process, as a user does, and read back what the run wrote.

Used by the benchmarks that train bundles with their defaults or with other settings
(``benchmarks/segmentation_quality.py``, ``benchmarks/recipe_selection.py``).
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ld_monai.apps.bundles import export_bundle

__all__ = [
    "BENCHMARK_DATASETS", "bundle_arguments", "run_bundle", "export_afresh", "train_exported_bundle", "exported_configs_unchanged",
    "per_image_metrics", "validation_dices", "logged_settings", "trainer_minutes",
]

#: segmentation bundle -> (``ld-monai prepare`` dataset, its raw folder below the shared data folder) that the
#: benchmarks train and score it on
BENCHMARK_DATASETS = {
    "retinal_vessel_segmentation": ("drive", "fundus/DRIVE"),
    "optic_disc_segmentation": ("drishti_gs1", "fundus/Drishti-GS1"),
    "lung_segmentation": ("cxr_lungs", "xray/cxr_lungs"),
}


def bundle_arguments(settings: dict) -> list[str]:
    """``--key value`` for ``python -m monai.bundle run``, values as Python literals: its command line (Fire) reads
    ``False``, ``None`` and ``['a']`` as such, but ``false`` and ``null`` as strings (which would count as true)."""
    return [arg for key, value in settings.items()
            for arg in (f"--{key}", value if isinstance(value, str) else repr(value))]


def run_bundle(bundle: str | os.PathLike, configs: list[str], settings: dict, log: str | os.PathLike,
               run_id: str = "run", processes: int = 1) -> None:
    """``python -m monai.bundle run <run_id>`` of ``configs`` (merged in this order) in folder ``bundle``, output
    appended to ``log``; raises if the run fails. With ``processes > 1`` it runs under ``torchrun --standalone
    --nproc_per_node=<processes>`` (give the bundle's ``multi_gpu_train.json`` among the configs)."""
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [*launcher, "-m", "monai.bundle", "run", run_id, "--config_file", json.dumps(configs),
               "--meta_file", "configs/metadata.json", "--logging_file", "configs/logging.conf"]
    command += bundle_arguments(settings)
    with open(log, "a") as out:
        if subprocess.run(command, cwd=bundle, stdout=out, stderr=subprocess.STDOUT).returncode:
            raise RuntimeError(f"run failed ({shlex.join(command)}); see {log}")


def export_afresh(name: str, out: Path) -> Path:
    """Export bundle ``name`` into ``out`` over an earlier export: today's configs, not an earlier run's."""
    shutil.rmtree(out / name, ignore_errors=True)
    return export_bundle(name, out)


def train_exported_bundle(name: str, out: Path, settings: dict) -> tuple[Path, Path, float]:
    """Export bundle ``name`` afresh into ``out`` (:func:`export_afresh`) and run its ``train.json`` with
    ``settings``; returns (bundle folder, log file, training minutes). The log starts empty, so it holds this run
    alone."""
    bundle = export_afresh(name, out)
    log = out / "log.txt"
    log.unlink(missing_ok=True)
    start = time.time()
    run_bundle(bundle, ["configs/train.json"], settings, log)
    return bundle, log, (time.time() - start) / 60


def exported_configs_unchanged(name: str, bundle: str | os.PathLike) -> bool:
    """Whether the configs of ``bundle``, an earlier export of bundle ``name``, are today's (same files, same text):
    a run of it can then stand for a run of today's bundle with the same settings."""
    configs = Path(bundle) / "configs"
    if not configs.is_dir():
        return False
    with tempfile.TemporaryDirectory() as folder:
        today = export_bundle(name, folder) / "configs"
        files = sorted(path.name for path in today.iterdir())
        return files == sorted(path.name for path in configs.iterdir()) and all(
            (today / file).read_bytes() == (configs / file).read_bytes() for file in files)


def per_image_metrics(eval_dir: str | os.PathLike) -> dict[str, dict[str, float]]:
    """``{column: {image: value}}`` of an evaluation's ``metrics_per_image.csv`` (dice_<structure>, auc_<structure>;
    :class:`ld_monai.handlers.SegmentationReport`)."""
    with open(Path(eval_dir) / "metrics_per_image.csv") as f:
        rows = list(csv.DictReader(f))
    return {column: {row["name"]: float(row[column]) for row in rows} for column in rows[0] if column != "name"}


def validation_dices(log: str | os.PathLike) -> list[float]:
    """The validation Dice of every validation of a training, in order, as its log reports them (MONAI's
    ``StatsHandler``: ``Epoch[n] Metrics -- val_mean_dice: <value>``)."""
    return [float(line.rsplit("val_mean_dice:", 1)[1].split()[0])
            for line in Path(log).read_text().splitlines() if "Metrics -- val_mean_dice:" in line]


def logged_settings(log: str | os.PathLike) -> dict:
    """The settings of the first run in ``log``, as ``monai.bundle run`` lists them in its input summary
    (``> key: value`` lines, values as Python literals), without its config, metadata and logging files."""
    settings, inside = {}, False
    for line in Path(log).read_text().splitlines():
        if "--- input summary of monai.bundle.scripts.run ---" in line:
            inside = True
        elif inside and line.rstrip().endswith("---"):
            break
        elif inside and " - INFO - > " in line:
            key, _, value = line.split(" - INFO - > ", 1)[1].partition(": ")
            settings[key] = ast.literal_eval(value)
    for key in ("config_file", "meta_file", "logging_file"):
        settings.pop(key, None)
    return settings


def trainer_minutes(log: str | os.PathLike) -> float:
    """Minutes of the first training in ``log``: the Ignite trainer's run time (``SupervisedTrainer``,
    ``LocalDiscriminationTrainer``, ...: ``Engine run finished. Time taken: H:MM:SS``), without the process start-up
    and the dataset caching."""
    for line in Path(log).read_text().splitlines():
        if "Trainer - INFO - Engine run finished. Time taken:" in line:
            hours, minutes, seconds = line.rsplit("Time taken:", 1)[1].strip().split(":")
            return int(hours) * 60 + int(minutes) + float(seconds) / 60
    raise ValueError(f"{log}: no finished training in this log.")
