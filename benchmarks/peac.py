# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""PEAC against LD and a random network, on the same data and tool (issue 20): point propagation on the Hamedan
cephalograms, a correspondence benchmark with ground truth.

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

    python benchmarks/peac.py --arms random ld peac --data_dir ../shared/data --json docs/results/peac.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ld_monai.apps.bundle_run import export_afresh, train_exported_bundle
from ld_monai.apps.patch_embeddings import PatchEmbedder
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
TEMPLATE, ANNOTATOR, WITHIN_PX = "001", "Dr_farhadifar", 20.0
ARMS = ("peac", "ld", "random")


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


def embedder_for(arm: str, data_dir: Path, out: Path, ld_checkpoint: str | None) -> tuple[PatchEmbedder, dict]:
    """The arm's embedder and what its record keeps of how it was made."""
    images = str(data_dir / "ceph" / "Hamedan" / "images")
    if arm == "random":
        bundle = export_afresh("peac_pretraining", out)
        torch.manual_seed(0)
        torch.save(PEACNet().state_dict(), out / "random.pt")
        return PatchEmbedder(bundle, out / "random.pt", device="cpu", overrides={"modality": "xray"}), {}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--data_dir", default=os.environ.get("LD_MONAI_DATA_DIR", "../shared/data"))
    parser.add_argument("--output_dir", default="runs/peac_benchmark")
    parser.add_argument("--ld_checkpoint", help="an LD model trained on the cephalograms with LD_RECIPE (the ld arm "
                                                "then does not train)")
    parser.add_argument("--json", help="results of record, e.g. docs/results/peac.json (other arms are kept)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir).resolve()
    images = sorted((data_dir / "ceph" / "Hamedan" / "images").iterdir())
    truth = read_landmark_table(data_dir / "ceph" / "Hamedan" / "landmarks.csv", annotator=ANNOTATOR, duplicates="drop")
    record = json.loads(Path(args.json).read_text()) if args.json and os.path.isfile(args.json) else {}
    for arm in args.arms:
        out = (Path(args.output_dir) / arm).resolve()
        out.mkdir(parents=True, exist_ok=True)
        embedder, made = embedder_for(arm, data_dir, out, args.ld_checkpoint)
        result = {**summary(propagation_errors(embedder, images, truth)), **made}
        print(f"{arm}: MRE {result['mre_px']:.1f} px, within {WITHIN_PX:.0f} px {result['within_20px']:.1%}",
              flush=True)
        record.setdefault("hamedan_propagation", {})[arm] = result
        if args.json:
            arms = sorted(record["hamedan_propagation"])
            record["command"] = shlex.join(["python", "benchmarks/peac.py", "--arms", *arms, "--data_dir",
                                            args.data_dir, "--output_dir", args.output_dir, "--json", args.json])
            atomic_write_json(args.json, dict(sorted(record.items())))
    if args.json:
        print(f"results of record: {args.json}")



if __name__ == "__main__":
    main()
