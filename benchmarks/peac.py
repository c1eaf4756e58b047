# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""PEAC against LD and a random network, on the same data and tools (issue 20): point propagation on the Hamedan
cephalograms (a correspondence benchmark with ground truth), lung segmentation from PEAC init, and co-segmentation
of the chest X-ray set.

Each arm embeds the 100 cephalograms with a pretraining bundle's network (:class:`ld_monai.apps.PatchEmbedder`, the
whole image with its ratio kept) and carries the 19 landmarks of template 001 (annotator ``Dr_farhadifar``) to
the 99 other images with :func:`ld_monai.inferers.propagate_points` (the most similar cell, then a sub-cell
refinement; what ``ld-monai correspondence --points`` does). Errors are in the pixels of the 821 x 1024 images
(no pixel spacing is known): the mean radial error (MRE) and the share within 20 px.

* ``peac``: ``peac_pretraining`` trained on the 100 cephalograms with ``PEAC_RECIPE`` (its CPU network, about 25
  minutes on 2 cores, about the LD arm's budget), no landmark used;
* ``ld``: ``ld_pretraining`` trained on them with the cephalogram recipe of ``docs/benchmarks.md`` (``LD_RECIPE``),
  or the checkpoint given by ``--ld_checkpoint`` trained so;
* ``random``: an untrained ``PEACNet`` of the PEAC arm's size (seed 0).

The one-shot landmark bundle's own figure (LD with its matcher: center-sensitive pooling, coarse to fine, shape
check) is a different tool on LD embeddings; it is reported beside these in ``docs/benchmarks.md``.

The chest X-ray tasks use ``peac_pretraining`` trained on the 825 unlabeled radiographs of ``xray/unlabeled``
(``PEAC_CXR_RECIPE``: about as many iterations as the cephalogram arm; a finished run in the output folder is
reused):

* ``lung_transfer``: ``lung_segmentation`` with the Swin of PEAC (``encoder`` ``swin``) from PEAC's ``encoder.pt``
  (frozen, then fine-tuned) against random init, same epochs, seed and images (``benchmarks/transfer.py``), with 25 %
  and 100 % of the training labels of the prepared ``cxr_lungs`` set, scored on its test patients;
* ``cosegmentation``: ``ld-monai cosegmentation`` (the elbow's number of parts) over all 66 images of ``cxr_lungs``;
  the part, and the union of parts, that best match the lung masks of the training and validation images are
  scored on the test images (the labels only name the lung part), for PEAC and for a random ``PEACNet``.

    python benchmarks/peac.py --tasks propagation lung_transfer cosegmentation --arms random ld peac \
        --data_dir ../shared/data --json docs/results/peac.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ld_monai.apps.bundle_run import export_afresh, train_exported_bundle
from ld_monai.apps.embedding_tools import cosegment_images
from ld_monai.apps.patch_embeddings import PatchEmbedder
from ld_monai.apps.prepare import prepare_dataset
from ld_monai.data.landmark_table import landmark_array, read_landmark_table
from ld_monai.inferers.patch_correspondence import propagate_points
from ld_monai.networks import PEACNet
from ld_monai.utils import atomic_write_json

#: PEAC's CPU network and a schedule of about 25 minutes on 2 cores for the 90 training cephalograms (the LD arm's
#: recipe takes about 20)
PEAC_RECIPE = {"modality": "xray", "epochs": 40, "warmup_epochs": 2, "batch_size": 4, "num_workers": 1}
#: LD's cephalogram recipe (the one-shot landmark runs of docs/benchmarks.md)
LD_RECIPE = {"modality": "xray", "image_size": 256, "crop_size": 224, "epoch_length": 100, "pd_epochs": 2,
             "ld_epochs": 4, "lr_step_epochs": 4, "batch_size": 2, "num_val_items": 8, "center_sensitive": True,
             "min_image_size": 128}
#: PEAC on the 825 unlabeled chest radiographs: 4 epochs of 742 training images, about the cephalogram arm's 3600
#: training images
PEAC_CXR_RECIPE = {"modality": "xray", "epochs": 4, "warmup_epochs": 1, "batch_size": 4, "num_workers": 1}
#: lung transfer (``benchmarks/transfer.py``): the lung bundle's 256 px, 40 epochs (PEAC: 10 frozen + 30 fine-tuned)
LUNG_TRANSFER = {"frozen_epochs": 10, "fine_epochs": 30, "image_size": 256, "seeds": [0]}
LABEL_FRACTIONS = (0.25, 1.0)
TEMPLATE, ANNOTATOR, WITHIN_PX = "001", "Dr_farhadifar", 20.0
ARMS = ("peac", "ld", "random")
TASKS = ("propagation", "lung_transfer", "cosegmentation")


def propagation_errors(embedder: PatchEmbedder, images: list[Path], truth: dict) -> np.ndarray:
    """Radial errors (targets, landmarks) in pixels of carrying the template's landmarks to every other image."""
    labels = list(truth[TEMPLATE])
    template_image = next(p for p in images if p.stem == TEMPLATE)
    template = embedder(template_image)
    cells = template.cells_of(torch.tensor(landmark_array(truth, [TEMPLATE], labels)[0]))
    targets = [p for p in images if p.stem != TEMPLATE and p.stem in truth]
    errors = []
    for path in tqdm(targets, desc="propagating landmarks"):
        embedded = embedder(path)
        found, _ = propagate_points(template.embedding, cells.float(), embedded.embedding)
        expected = landmark_array(truth, [path.stem], labels)[0]
        errors.append(np.linalg.norm(embedded.pixels_of(found).numpy() - expected, axis=1))
    return np.array(errors)


def summary(errors: np.ndarray) -> dict:
    valid = errors[np.isfinite(errors)]
    return {"mre_px": round(float(valid.mean()), 2), "within_20px": round(float((valid <= WITHIN_PX).mean()), 4),
            "median_px": round(float(np.median(valid)), 2), "num_targets": int(errors.shape[0]),
            "num_points": int(valid.size)}


def random_peac(out: Path) -> tuple[Path, Path]:
    """The ``peac_pretraining`` bundle exported into ``out`` and an untrained ``PEACNet`` of its size (seed 0)."""
    bundle = export_afresh("peac_pretraining", out)
    torch.manual_seed(0)
    torch.save(PEACNet().state_dict(), out / "random.pt")
    return bundle, out / "random.pt"


def embedder_for(arm: str, data_dir: Path, out: Path, ld_checkpoint: str | None) -> tuple[PatchEmbedder, dict]:
    """The arm's embedder and what its record keeps of how it was made."""
    images = str(data_dir / "ceph" / "Hamedan" / "images")
    if arm == "random":
        bundle, checkpoint = random_peac(out)
        return PatchEmbedder(bundle, checkpoint, device="cpu", overrides={"modality": "xray"}), {}
    if arm == "peac":
        start = time.time()
        bundle, _, minutes = train_exported_bundle("peac_pretraining", out, {
            **PEAC_RECIPE, "dataset_dir": images, "output_dir": str(out / "run")})
        checkpoint = out / "run" / "checkpoints" / "model.pt"
        record = {"train_minutes": round(minutes, 1), "settings": PEAC_RECIPE}
        print(f"peac trained in {(time.time() - start) / 60:.1f} min", flush=True)
        return PatchEmbedder(bundle, checkpoint, device="cpu", overrides={"modality": "xray"}), record
    overrides = {k: LD_RECIPE[k] for k in ("modality", "image_size")}
    if ld_checkpoint:
        bundle = export_afresh("ld_pretraining", out)
        return (PatchEmbedder(bundle, ld_checkpoint, device="cpu", overrides=overrides),
                {"checkpoint": "given (--ld_checkpoint), trained with LD_RECIPE", "settings": LD_RECIPE})
    bundle, _, minutes = train_exported_bundle("ld_pretraining", out, {
        **LD_RECIPE, "dataset_dir": images, "output_dir": str(out / "run")})
    return (PatchEmbedder(bundle, out / "run" / "checkpoints" / "model.pt", device="cpu", overrides=overrides),
            {"train_minutes": round(minutes, 1), "settings": LD_RECIPE})


def chest_xray_peac(data_dir: Path, out: Path) -> tuple[Path, Path, dict]:
    """``peac_pretraining`` trained on ``xray/unlabeled`` with ``PEAC_CXR_RECIPE`` in ``out`` (a finished run there is
    reused): (bundle, its run's checkpoint folder, record)."""
    checkpoints = out / "run" / "checkpoints"
    if (checkpoints / "encoder.pt").is_file() and (out / "record.json").is_file():
        print(f"chest X-ray PEAC: reusing {checkpoints}", flush=True)
        return out / "peac_pretraining", checkpoints, json.loads((out / "record.json").read_text())
    bundle, _, minutes = train_exported_bundle("peac_pretraining", out, {
        **PEAC_CXR_RECIPE, "dataset_dir": str(data_dir / "xray" / "unlabeled" / "images"),
        "output_dir": str(out / "run")})
    record = {"train_minutes": round(minutes, 1), "settings": PEAC_CXR_RECIPE, "images": "xray/unlabeled"}
    atomic_write_json(out / "record.json", record)
    print(f"chest X-ray PEAC trained in {minutes:.1f} min", flush=True)
    return bundle, checkpoints, record


def lung_transfer(datalist: Path, encoder: Path, out: Path) -> dict:
    """Lung segmentation from PEAC's encoder against random init (``benchmarks/transfer.py``), per label fraction:
    the mean test Dice of each init, with its spread and training time."""
    record: dict = {"settings": LUNG_TRANSFER}
    for fraction in LABEL_FRACTIONS:
        run_dir = out / f"labels_{fraction:g}"
        command = [sys.executable, str(Path(__file__).with_name("transfer.py")), "--bundle", "lung_segmentation",
                   "--datalist", str(datalist), "--encoder", str(encoder), "--encoder_network", "swin",
                   "--label_fraction", str(fraction), "--inits", "random", "ld", "--output_dir", str(run_dir)]
        for key, value in LUNG_TRANSFER.items():
            command += [f"--{key}", *map(str, value if isinstance(value, list) else [value])]
        subprocess.run(command, check=True)
        runs = json.loads((run_dir / "transfer_results.json").read_text())["results"].values()
        arms = {}
        for run in runs:
            dice = run["dice"]["lung"]
            arms["peac" if run["init"] == "ld" else run["init"]] = {
                "dice": round(float(np.mean(dice)), 4), "dice_std": round(float(np.std(dice)), 4),
                "num_test_images": len(dice), "train_minutes": round(run["train_seconds"] / 60, 1)}
        record[f"label_fraction_{fraction:g}"] = arms
        print(f"lung transfer, {fraction:.0%} labels: " + ", ".join(f"{k} {v['dice']:.4f}" for k, v in arms.items()),
              flush=True)
    return record


def lung_part_dice(datalist: Path, bundle: Path, checkpoint: Path, out: Path) -> dict:
    """Co-segmentation of every ``cxr_lungs`` image (``ld-monai cosegmentation``); the part and the union of parts
    (grown greedily while the mean Dice rises) that best match the training and validation lung masks, scored on the
    test images."""
    items = json.loads(datalist.read_text())
    splits = {split: [{key: (datalist.parent / item[key]).resolve() for key in ("image", "lung")}
                      for item in items[split]] for split in ("training", "validation", "test")}
    everything = [item for split in splits.values() for item in split]
    cosegment_images(bundle, [item["image"] for item in everything], out, checkpoint=checkpoint, device="cpu",
                     overrides={"modality": "xray"})
    overlap, area, mask_area = {}, {}, {}
    for item in everything:
        parts = np.asarray(Image.open(out / f"{item['image'].stem}_parts.png")).astype(np.int64)
        lung = np.asarray(Image.open(item["lung"])) > 0
        name = item["image"].stem
        area[name], overlap[name], mask_area[name] = np.bincount(parts.ravel(), minlength=256), \
            np.bincount(parts[lung], minlength=256), lung.sum()
    num_parts = int(max(np.flatnonzero(a).max() for a in area.values())) + 1

    def mean_dice(chosen: list[int], split: list[str]) -> float:
        return float(np.mean([2 * overlap[n][chosen].sum() / (area[n][chosen].sum() + mask_area[n]) for n in split]))

    names = {split: [item["image"].stem for item in values] for split, values in splits.items()}
    seen = names["training"] + names["validation"]
    best = max(range(num_parts), key=lambda part: mean_dice([part], seen))
    union = [best]
    while len(union) < num_parts:
        grown = max((part for part in range(num_parts) if part not in union),
                    key=lambda part: mean_dice(union + [part], seen))
        if mean_dice(union + [grown], seen) <= mean_dice(union, seen):
            break
        union.append(grown)
    return {"dice": round(mean_dice([best], names["test"]), 4), "part": best,
            "dice_union": round(mean_dice(union, names["test"]), 4), "union_parts": union, "num_parts": num_parts,
            "num_test_images": len(names["test"]), "picture": os.path.relpath(out / "cosegmentation.png")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS, help="networks of the propagation")
    parser.add_argument("--data_dir", default=os.environ.get("LD_MONAI_DATA_DIR", "../shared/data"))
    parser.add_argument("--output_dir", default="runs/peac_benchmark")
    parser.add_argument("--ld_checkpoint", help="an LD model trained on the cephalograms with LD_RECIPE (the ld arm "
                                                "then does not train)")
    parser.add_argument("--json", help="results of record, e.g. docs/results/peac.json (other results are kept)")
    args = parser.parse_args()
    data_dir, output_dir = Path(args.data_dir).resolve(), Path(args.output_dir).resolve()
    record = json.loads(Path(args.json).read_text()) if args.json and os.path.isfile(args.json) else {}

    def keep() -> None:
        if not args.json:
            return
        done = {"propagation": "hamedan_propagation", "lung_transfer": "lung_transfer",
                "cosegmentation": "cosegmentation_lung_dice"}
        tasks = [task for task in TASKS if done[task] in record]
        arms = sorted(record.get("hamedan_propagation", {}))
        record["command"] = shlex.join(["python", "benchmarks/peac.py", "--tasks", *tasks, "--arms", *arms,
                                        "--data_dir", args.data_dir, "--output_dir", args.output_dir,
                                        "--json", args.json])
        atomic_write_json(args.json, dict(sorted(record.items())))

    if "propagation" in args.tasks:
        images = sorted((data_dir / "ceph" / "Hamedan" / "images").iterdir())
        truth = read_landmark_table(data_dir / "ceph" / "Hamedan" / "landmarks.csv", annotator=ANNOTATOR,
                                    duplicates="drop")
        for arm in args.arms:
            out = output_dir / arm
            out.mkdir(parents=True, exist_ok=True)
            embedder, made = embedder_for(arm, data_dir, out, args.ld_checkpoint)
            result = {**summary(propagation_errors(embedder, images, truth)), **made}
            print(f"{arm}: MRE {result['mre_px']:.1f} px, within {WITHIN_PX:.0f} px {result['within_20px']:.1%}",
                  flush=True)
            record.setdefault("hamedan_propagation", {})[arm] = result
            keep()
    if {"lung_transfer", "cosegmentation"} & set(args.tasks):
        bundle, checkpoints, made = chest_xray_peac(data_dir, output_dir / "peac_cxr")
        record["chest_xray_peac"] = made
        datalist = prepare_dataset("cxr_lungs", data_dir / "xray" / "cxr_lungs", output_dir / "cxr_lungs")
    if "cosegmentation" in args.tasks:
        found = lung_part_dice(datalist, bundle, checkpoints / "model.pt", output_dir / "cosegmentation" / "peac")
        random_bundle, random_checkpoint = random_peac(output_dir / "cosegmentation")
        baseline = lung_part_dice(datalist, random_bundle, random_checkpoint, output_dir / "cosegmentation" / "random")
        print(f"co-segmentation lung Dice: PEAC {found['dice']:.4f} (union {found['dice_union']:.4f}), random "
              f"{baseline['dice']:.4f} (union {baseline['dice_union']:.4f})", flush=True)
        record["cosegmentation_lung_dice"] = found["dice"]
        record["cosegmentation"] = {"peac": found, "random": baseline}
        keep()
    if "lung_transfer" in args.tasks:
        record["lung_transfer"] = lung_transfer(datalist, checkpoints / "encoder.pt", output_dir / "lung_transfer")
        keep()
    if args.json:
        print(f"results of record: {args.json}")


if __name__ == "__main__":
    main()
