# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Shape-guided segmentation without target labels (issue 19): the shape-guided bundles trained and scored as a
user runs them, beside label-free baselines.

An arm is ``TASK:PRIOR_LOSS``, e.g. ``drishti_disc:adv`` or ``drive_vessel:octa_kl``. For each arm the task's
bundle is exported (``ld-monai bundle export``) and its ``train.json`` is run on the task's unlabeled training
images with the prior (no label of those images is read), then ``evaluate.json`` scores the guided cluster on the
test split of the task's prepared dataset, by the threshold rule (cluster assignment > 0.5, the research code's
rule A) and by re-clustering (rule B), and by rule A with the polarity that the model decided after training
(``cluster_polarity`` 'prior': the cluster or its complement, whichever covers a share of the validation images
closer to the prior masks' mean foreground fraction; ``ld_monai.apps.cluster_polarity``). None has a threshold
chosen with labels. ``--rescore`` scores earlier runs again.

``TASK:ARM@RECIPE`` pretrains with a recipe of ``RECIPES`` on top of the paper's, e.g. ``drishti_disc:adv@closed``
with the settings that close LD's position shortcut.

``TASK:ARM_refined`` (after ``TASK:ARM``) is the refinement: a segmentation bundle trained on the guided cluster's
pseudo-labels of the training images, weighted by their certainty (method spec A8.2 (b)). Baselines, side by side:

* ``drive_vessel:frangi`` and ``drive_vessel:sato``: a Hessian vessel filter thresholded by Otsu inside the field
  of view (``benchmarks/segmentation_baselines``), no training;
* ``TASK:oracle``: plain LD (the bundle with ``prior_weight`` 0: no prior) and the one of its clusters (as a
  partition: where the cluster's assignment is the largest, rule ``argmax``; without a prior no cluster need pass
  0.5) that best overlaps the test labels. The choice uses the test labels, so it is an **oracle**, not a method.

Writes ``<output_dir>/<task>/<arm>/`` (bundle, run, log) and, with ``--json``, the results of record
``{"drishti_disc": {"adv": {"dice", "dice_recluster", "dice_polarity", ...}, ...}, "drive_vessel": {...},
"cxr_lung": {...}}``: Dice at each image's own resolution (the published protocol), per-image values, minutes,
settings, and the command. Arms of an existing ``--json`` file that are not run again are kept.

Example (the disc with the research code's adversarial prior, about 20 minutes on 2 cores)::

    python benchmarks/shape_prior.py --arms drishti_disc:adv --data_dir ../shared/data \\
        --json docs/results/shape_prior.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from ld_monai.apps.bundle_run import export_afresh, per_image_metrics, run_bundle, train_exported_bundle
from ld_monai.apps.bundles import bundle_configs
from ld_monai.apps.prepare import prepare_dataset
from ld_monai.data import load_segmentation_datalist
from ld_monai.utils import atomic_write_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
from segmentation_baselines import HessianVesselFilter  # noqa: E402

#: CPU recipe of every arm (the cephalogram pretraining's): 6 epochs of 100 iterations of batch 2, the first 2 patch
#: discrimination
CPU_RECIPE = {"image_size": 256, "crop_size": 224, "epoch_length": 100, "pd_epochs": 2, "ld_epochs": 4,
              "lr_step_epochs": 4, "batch_size": 2, "num_val_items": 8}
#: task -> its bundle, structure, unlabeled training images, ``ld-monai prepare`` dataset and folder (the test
#: split), the priors (name -> folder under the data; None: the bundle's own, simulated or drawn) and
#: settings beyond CPU_RECIPE
TASKS = {
    "drishti_disc": {
        "bundle": "shape_guided_optic_disc_segmentation", "structure": "disc",
        "images": "fundus/Drishti-GS1/Training/images", "dataset": ("drishti_gs1", "fundus/Drishti-GS1"),
        "priors": {"ellipse": None}, "settings": {},
    },
    "drive_vessel": {
        "bundle": "shape_guided_vessel_segmentation", "structure": "vessel",
        "images": "fundus/DRIVE/training/images", "dataset": ("drive", "fundus/DRIVE"),
        "priors": {"octa": "fundus/shape_priors/OCTA_vessel_masks", "dsa": "fundus/shape_priors/DSA_vessel_masks",
                   "trees": None},  # trees: the bundle's simulated vessel trees
        "settings": {},  # at 256 px the 1-8 px vessels of the 565-px photographs are 0.5-4 px wide
    },
    "cxr_lung": {
        "bundle": "shape_guided_lung_segmentation", "structure": "lung",
        "images": "xray/unlabeled/images", "dataset": ("cxr_lungs", "xray/cxr_lungs"),
        "priors": {"scr": "xray/SCR_annotations", "drawn": None},  # drawn: the bundle's hand-drawn outlines
        "settings": {"min_image_size": 128},  # 14 of the 825 radiographs are smaller than 256 px (157 px the least)
    },
}
LOSSES = {"adv": "adversarial", "kl": "kl", "w1": "wasserstein"}
FILTERS = ("frangi", "sato")
#: pretraining recipes beyond the paper's (``ARM@RECIPE``): ``closed``, the settings that keep LD's position shortcut
#: closed over a whole run (``docs/benchmarks.md``, "Keeping the crop border out of the loss")
RECIPES = {"closed": {"padding_mode": "reflect", "distinct_images": True, "mirror": True, "independent_crops": True,
                      "crop_scale": [0.5, 0.8], "region_weight": 1.0, "repeated_image_negatives": False,
                      "border_margin": 0.25}}


def parse_arm(arm: str) -> tuple[str, str]:
    task, _, name = arm.partition(":")
    if task not in TASKS:
        raise SystemExit(f"unknown task {task!r} in {arm!r}: one of {sorted(TASKS)}")
    return task, name


def split_recipe(name: str) -> tuple[str, dict]:
    """``adv@closed`` -> (``adv``, the ``closed`` recipe's settings); a name without ``@`` has the paper's recipe."""
    name, _, recipe = name.partition("@")
    if recipe and recipe not in RECIPES:
        raise SystemExit(f"unknown recipe {recipe!r}: one of {sorted(RECIPES)}")
    return name, RECIPES.get(recipe, {})


def prior_and_loss(task: str, name: str) -> tuple[str, str]:
    """``octa_kl`` -> (``octa``, ``kl``); ``adv`` / ``kl`` alone name the task's first prior."""
    priors = TASKS[task]["priors"]
    prior, _, loss = name.rpartition("_")
    prior = prior or next(iter(priors))
    if prior not in priors or loss not in LOSSES:
        raise SystemExit(f"unknown arm {task}:{name}: PRIOR_LOSS with PRIOR in {sorted(priors)} and LOSS in "
                         f"{sorted(LOSSES)}, or oracle" + (f", {', '.join(FILTERS)}" if task == "drive_vessel" else ""))
    return prior, loss


def mean(values: dict[str, float]) -> float:
    return round(float(np.mean(list(values.values()))), 4)


def scores(eval_dir: Path, structure: str) -> dict:
    native = per_image_metrics(eval_dir / "native")
    return {key: native[f"{key}_{structure}"] for key in ("dice", "auc") if f"{key}_{structure}" in native}


def train_and_score(task: str, name: str, data_dir: Path, out: Path, settings: dict,
                    minutes: float | None = None) -> dict:
    """Train the task's bundle for arm ``name`` and score its guided cluster (the oracle: every cluster). With
    ``minutes`` (the training time of record), the arm's earlier run in ``out`` is scored again by today's bundle
    instead of trained."""
    spec = TASKS[task]
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    datalist = prepare_dataset(spec["dataset"][0], data_dir / spec["dataset"][1], out / "data")
    name, recipe = split_recipe(name)
    if name == "oracle":  # plain LD: the prior's weight 0, the KL prior so that no discriminator trains
        prior, loss, arm_settings = next(iter(spec["priors"])), "kl", {"prior_weight": 0.0}
    else:
        (prior, loss), arm_settings = prior_and_loss(task, name), {}
    folder = spec["priors"][prior]
    common = {**CPU_RECIPE, **spec["settings"], **recipe, **arm_settings, **settings, "prior": LOSSES[loss],
              "dataset_dir": str(data_dir / spec["images"]), "output_dir": str(out / "run")}
    if folder:
        common["prior_dir"] = str(data_dir / folder)
    if minutes is None:
        shutil.rmtree(out / "run", ignore_errors=True)  # a rerun starts afresh, not among an earlier run's files
        bundle, log, minutes = train_exported_bundle(spec["bundle"], out, common)
        (out / "settings.json").write_text(json.dumps(common))  # what a refinement of this arm runs with
    else:
        if not (out / "settings.json").is_file() or json.loads((out / "settings.json").read_text()) != common:
            raise SystemExit(f"--rescore {task}:{name}: no earlier run with these settings in {out}")
        bundle, log = export_afresh(spec["bundle"], out), out / "log.txt"
        run_bundle(bundle, ["configs/train.json"], common, log, run_id="decide_polarity")  # today's decision
    evaluate = {**common, "datalist_file": str(datalist)}
    configs = ["configs/train.json", "configs/evaluate.json"]
    result = {"train_minutes": round(minutes, 1), "prior": prior, "loss": LOSSES[loss],
              "bundle_version": bundle_configs(spec["bundle"])["metadata.json"]["version"],
              "settings": {key: value for key, value in common.items() if key not in ("dataset_dir", "output_dir")},
              "images": spec["images"]}
    if name == "oracle":
        clusters = {}
        for cluster in range(bundle_configs(spec["bundle"])["train.json"]["num_clusters"]):
            eval_dir = out / "run" / f"eval_test_cluster{cluster}"
            run_bundle(bundle, configs, {**evaluate, "guided_cluster": cluster, "cluster_rule": "argmax",
                                         "eval_dir": str(eval_dir)}, log)
            clusters[cluster] = scores(eval_dir, spec["structure"])
        best = max(clusters, key=lambda c: mean(clusters[c]["dice"]))
        result.update(oracle_cluster=best, cluster_rule="argmax",
                      cluster_dice={c: mean(s["dice"]) for c, s in clusters.items()}, per_image=clusters[best])
        result["dice"] = mean(clusters[best]["dice"])
        return result
    run_bundle(bundle, configs, evaluate, log)
    recluster_dir = out / "run" / "eval_test_recluster"
    run_bundle(bundle, configs, {**evaluate, "cluster_rule": "recluster", "eval_dir": str(recluster_dir)}, log)
    polarity_dir = out / "run" / "eval_test_polarity"
    run_bundle(bundle, configs, {**evaluate, "cluster_polarity": "prior", "eval_dir": str(polarity_dir)}, log)
    threshold = scores(out / "run" / "eval_test", spec["structure"])
    recluster = scores(recluster_dir, spec["structure"])
    polarity = scores(polarity_dir, spec["structure"])
    result.update(dice=mean(threshold["dice"]), dice_recluster=mean(recluster["dice"]),
                  dice_polarity=mean(polarity["dice"]), per_image=threshold, per_image_recluster=recluster,
                  per_image_polarity=polarity)
    if "auc" in threshold:
        result["auc"] = mean(threshold["auc"])
    return result


def refine_and_score(task: str, source: str, data_dir: Path, out: Path) -> dict:
    """The refinement of arm ``source`` (run before, into ``out``'s sibling folder ``source``): its guided cluster's
    pseudo-labels of its own training images (``pseudo_labels.json``), then the segmentation bundle that its
    metadata names, trained on them with the certainty weights from the shape-guided encoder, scored on the test
    split."""
    spec = TASKS[task]
    source_out = (out.parent / source).resolve()
    if not (source_out / "run" / "checkpoints" / "model.pt").is_file():
        raise SystemExit(f"{task}:{source}_refined refines arm {task}:{source}: run that arm first (same --output_dir)")
    source_settings = json.loads((source_out / "settings.json").read_text())
    log = source_out / "log.txt"
    run_bundle(source_out / spec["bundle"], ["configs/train.json", "configs/pseudo_labels.json"], source_settings, log)
    refinement = bundle_configs(spec["bundle"])["metadata.json"]["ld_monai_refinement"]
    out = out.resolve()
    common = {**refinement["settings"], "output_dir": str(out / "run"),
              "padding_mode": source_settings.get("padding_mode", "zeros"),  # as the encoder was pretrained
              "pretrained_encoder": str(source_out / "run" / "checkpoints" / "encoder.pt")}
    shutil.rmtree(out / "run", ignore_errors=True)
    bundle, log, minutes = train_exported_bundle(refinement["bundle"], out, {
        **common, "datalist_file": str(source_out / "run" / "pseudo_labels" / "datalist.json")})
    datalist = prepare_dataset(spec["dataset"][0], data_dir / spec["dataset"][1], out / "data")
    evaluation = {**common, "datalist_file": str(datalist)}
    if task == "drive_vessel":  # scored inside the field of view, as the guided cluster
        evaluation["mask_key"] = "mask"
    run_bundle(bundle, ["configs/train.json", "configs/evaluate.json"], evaluation, log)
    native = scores(out / "run" / "eval_test", spec["structure"])
    result = {"source_arm": source, "bundle": refinement["bundle"], "train_minutes": round(minutes, 1),
              "bundle_version": bundle_configs(refinement["bundle"])["metadata.json"]["version"],
              "settings": refinement["settings"], "dice": mean(native["dice"]), "per_image": native}
    if "auc" in native:
        result["auc"] = mean(native["auc"])
    return result


def vessel_filter_scores(method: str, data_dir: Path, out: Path) -> dict:
    """Dice of a Hessian vessel filter on the DRIVE test split, at the photographs' own resolution."""
    datalist = prepare_dataset("drive", data_dir / "fundus/DRIVE", out.resolve() / "data")
    segment = HessianVesselFilter(method)
    dice = {}
    for item in load_segmentation_datalist(datalist, "test", ["vessel"], "mask"):
        photograph = np.asarray(Image.open(item["image"]).convert("RGB"), dtype=np.float64) / 255
        field_of_view = np.asarray(Image.open(item["mask"]).convert("L")) > 127
        truth = (np.asarray(Image.open(item["vessel"]).convert("L")) > 127) & field_of_view
        found = segment(photograph, field_of_view)
        dice[item["name"]] = float(2 * (found & truth).sum() / (found.sum() + truth.sum()))
    return {"dice": mean(dice), "per_image": {"dice": dice}, "method": method}


def reproducing_command(record: dict, data_dir: str, output_dir: str, json_file: str) -> str:
    """Commands that reproduce every arm of ``record``, one per set of ``--set`` settings (a refinement goes with
    its source arm, after it), joined by ``&&``."""
    groups: dict[str, list[str]] = {}
    for task in TASKS:
        for name, result in record.get(task, {}).items():
            groups.setdefault(json.dumps(result.get("extra_settings", {}), sort_keys=True), []).append(f"{task}:{name}")
    commands = []
    for settings, arms in sorted(groups.items(), key=lambda group: (len(group[0]), group[0])):  # defaults first
        sets = [arg for key, value in json.loads(settings).items() for arg in ("--set", f"{key}={json.dumps(value)}")]
        commands.append(shlex.join(["python", "benchmarks/shape_prior.py", "--arms", *sorted(arms), "--data_dir",
                                    data_dir, "--output_dir", output_dir, *sets, "--json", json_file]))
    return " && ".join(commands)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", required=True, help="TASK:ARM, e.g. drishti_disc:adv drive_vessel:octa_kl "
                                                                 "drive_vessel:frangi cxr_lung:oracle")
    parser.add_argument("--data_dir", default=os.environ.get("LD_MONAI_DATA_DIR", "../shared/data"))
    parser.add_argument("--output_dir", default="runs/shape_prior")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting of every arm other than the CPU recipe (value JSON or text)")
    parser.add_argument("--json", help="results of record, e.g. docs/results/shape_prior.json")
    parser.add_argument("--rescore", action="store_true",
                        help="score the arms' earlier runs (same --output_dir and settings) with today's evaluation "
                             "instead of training them again; their training time of record is kept")
    args = parser.parse_args()
    settings = {}
    for pair in args.set:
        key, _, value = pair.partition("=")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    data_dir = Path(args.data_dir).resolve()
    record = json.loads(Path(args.json).read_text()) if args.json and os.path.isfile(args.json) else {}
    for arm in args.arms:
        task, name = parse_arm(arm)
        out = Path(args.output_dir) / task / name
        if task == "drive_vessel" and name in FILTERS:
            result = vessel_filter_scores(name, data_dir, out)
        elif name.endswith("_refined"):
            result = refine_and_score(task, name.removesuffix("_refined"), data_dir, out)
            result["extra_settings"] = record.get(task, {}).get(result["source_arm"], {}).get("extra_settings", {})
        else:
            minutes = record.get(task, {}).get(name, {}).get("train_minutes") if args.rescore else None
            if args.rescore and minutes is None:
                raise SystemExit(f"--rescore {arm}: the arm has no training of record in {args.json}")
            result = train_and_score(task, name, data_dir, out, settings, minutes)
            result["extra_settings"] = settings
        record.setdefault(task, {})[name] = result
        print(f"{arm}: Dice {result['dice']:.4f}" + (f", re-clustered {result['dice_recluster']:.4f}"
                                                      if "dice_recluster" in result else "")
              + (f", polarity by the prior {result['dice_polarity']:.4f}" if "dice_polarity" in result else "")
              + (f" (oracle cluster {result['oracle_cluster']})" if "oracle_cluster" in result else ""), flush=True)
        if args.json:
            record["command"] = reproducing_command(record, args.data_dir, args.output_dir, args.json)
            atomic_write_json(args.json, dict(sorted(record.items())))
    if args.json:
        print(f"results of record: {args.json}")


if __name__ == "__main__":
    main()
