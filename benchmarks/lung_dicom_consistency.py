# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Does a trained lung model segment the same radiograph equally well from PNG, DICOM and NIfTI?

Takes the test split of a prepared chest X-ray datalist (``ld-monai prepare cxr_lungs``), writes every test image
again as DICOM (CR MONOCHROME1 JPEG 2000 without VOI; DX MONOCHROME2 with a VOI window) and as NIfTI, runs
``ld-monai predict`` (:func:`ld_monai.apps.predict.predict`) on each folder with the same checkpoint, and scores each
mask (the NIfTI written in the input's geometry) against the ground truth (Dice at native resolution) and against
the prediction from the PNG (agreement Dice). Prints a Markdown table; writes it and the per-image values to
``<output_dir>/lung_dicom_consistency.{md,json}``.

Example::

    python benchmarks/lung_dicom_consistency.py --datalist data/cxr_lungs/datalist.json \\
        --checkpoint bundles_out/lung_segmentation/runs/cxr/checkpoints/model.pt
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image
from pydicom.uid import JPEG2000Lossless

from ld_monai.data import file_stem, load_segmentation_datalist, write_radiograph_dicom
from ld_monai.apps.bundles import export_bundle
from ld_monai.apps.predict import predict

REPO = Path(__file__).resolve().parents[1]

#: variant -> how a 12-bit copy of the PNG is written (None: the PNG itself)
VARIANTS = {
    "PNG (as trained)": None,
    "DICOM CR MONOCHROME1, JPEG 2000, no VOI": dict(modality="CR", photometric="MONOCHROME1",
                                                     imager_pixel_spacing=(0.15, 0.15),
                                                     transfer_syntax=JPEG2000Lossless),
    "DICOM DX MONOCHROME2, window 2048/4096": dict(modality="DX", pixel_spacing=(0.14, 0.14), window=(2048, 4096)),
    "DICOM DX MONOCHROME1, window 1800/2800 (clips)": dict(modality="DX", photometric="MONOCHROME1",
                                                            window=(1800, 2800)),
    "NIfTI 2-D": "nifti",
}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(a, b).sum() / total)


def write_variant(png: Path, folder: Path, how) -> None:
    gray = np.asarray(Image.open(png).convert("L"))
    if how is None:
        (folder / png.name).write_bytes(png.read_bytes())
    elif how == "nifti":
        nib.save(nib.Nifti1Image(gray.astype(np.int16), np.eye(4)), folder / f"{file_stem(png)}.nii.gz")
    else:
        write_radiograph_dicom(gray.astype(np.uint16) * 16, folder / f"{file_stem(png)}.dcm", **how)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datalist", required=True, help="datalist.json of `ld-monai prepare cxr_lungs`")
    parser.add_argument("--checkpoint", required=True, help="a trained lung_segmentation model.pt")
    parser.add_argument("--split", default="test")
    parser.add_argument("--output_dir", default=str(REPO / "runs" / "lung_dicom_consistency"))
    args = parser.parse_args()
    items = load_segmentation_datalist(args.datalist, args.split, ["lung"])
    truth = {file_stem(i["image"]): np.asarray(Image.open(i["lung"]).convert("L")) > 0 for i in items}
    masks: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = export_bundle("lung_segmentation", tmp)
        for k, (variant, how) in enumerate(VARIANTS.items()):
            inputs, outputs = Path(tmp) / f"in{k}", Path(tmp) / f"out{k}"
            inputs.mkdir()
            for item in items:
                write_variant(Path(item["image"]), inputs, how)
            summary = predict(bundle, inputs, outputs, checkpoint=args.checkpoint,
                              device="cpu", progress=False)
            if summary.failed:
                raise RuntimeError(f"{variant}: {summary.failed}")
            seconds[variant] = summary.seconds / len(items)
            masks[variant] = {s: np.asarray(nib.load(outputs / f"{s}_mask.nii.gz").dataobj) > 0 for s in truth}
    reference = masks["PNG (as trained)"]
    rows, per_image = [], {}
    for variant, predicted in masks.items():
        scores = [dice(predicted[s], truth[s]) for s in truth]
        agreement = [dice(predicted[s], reference[s]) for s in truth]
        identical = sum(np.array_equal(predicted[s], reference[s]) for s in truth)
        per_image[variant] = {s: {"dice": d, "agreement_with_png": a} for s, d, a in zip(truth, scores, agreement)}
        rows.append(f"| {variant} | {statistics.mean(scores):.3f} ± {statistics.stdev(scores):.3f} | "
                    f"{statistics.mean(agreement):.4f} (min {min(agreement):.4f}) | {identical}/{len(truth)} | "
                    f"{seconds[variant]:.2f} |")
    table = "\n".join(
        [f"| input ({len(truth)} {args.split} images) | Dice vs ground truth | agreement with the PNG mask "
         "(Dice) | masks identical to PNG's | s / file (predict, all outputs) |", "|---|---|---|---|---|"] + rows
    )
    print(table)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lung_dicom_consistency.md").write_text(table + "\n", encoding="utf-8")
    (out / "lung_dicom_consistency.json").write_text(json.dumps(per_image, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
