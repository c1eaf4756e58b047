# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Files per second of radiograph ingestion: DICOM (per variant and transfer syntax) vs PNG, read alone and read
plus the lung bundle's preprocessing, and through a MONAI ``DataLoader`` with 0 and 2 workers.

Builds, in a temporary folder, ``--n`` DICOMs from real PNG chest X-rays (cycled; files under a ``masks`` folder
are skipped) upscaled to ``--size`` and made 12-bit (``uint8 * 16``), with ``write_radiograph_dicom``, cycling over
five variants: DX MONOCHROME2, CR MONOCHROME1 with ImagerPixelSpacing, DX with a VOI window (all uncompressed),
DX RLE Lossless and DX JPEG 2000 Lossless; and the same images as 8-bit PNGs of the same size. Then, with a warm
page cache, for ``--repeats`` rounds (median reported), side by side in one process:

* read: ``LoadRadiograph()(path)`` -> (1, size, size) float32 in [0, 1];
* read + preprocessing: ``segmentation_preprocessing("xray", image_size=256)`` (``LoadRadiographd``, resize to 256
  (anti-aliased bilinear since issue 17; area before), normalisation to [-1, 1]), the lung bundle's chain;
* a MONAI ``DataLoader`` over the same chain (``--batch_size``), ``num_workers=0`` vs ``--workers``, whole epochs
  (worker start-up included).

The build time (encoding) is reported per variant, outside the throughput. The Markdown table and all timings
are printed and saved in ``<output_dir>/dicom_ingestion.{md,json}``.

Example::

    python benchmarks/dicom_ingestion.py --png_dir ../shared/data/xray/cxr_lungs --size 2048 --repeats 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pydicom
import torch
from monai.data import DataLoader, Dataset
from monai.transforms import Compose
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from ld_monai.data import write_radiograph_dicom
from ld_monai.transforms import LoadRadiograph, segmentation_preprocessing

#: name -> keyword arguments of write_radiograph_dicom (files are assigned to variants in turn)
VARIANTS = {
    "DX MONOCHROME2": dict(modality="DX", pixel_spacing=(0.15, 0.15)),
    "CR MONOCHROME1, ImagerPixelSpacing": dict(modality="CR", photometric="MONOCHROME1",
                                               imager_pixel_spacing=(0.1, 0.1)),
    "DX, VOI window": dict(modality="DX", pixel_spacing=(0.15, 0.15), window=(2000, 3600)),
    "DX, RLE Lossless": dict(modality="DX", pixel_spacing=(0.15, 0.15), transfer_syntax=RLELossless),
    "DX, JPEG 2000 Lossless": dict(modality="DX", pixel_spacing=(0.15, 0.15), transfer_syntax=JPEG2000Lossless),
}
PNG = "PNG 8-bit (same images)"


def build(png_dir: Path, folder: Path, n: int, size: int) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Write the DICOMs and PNGs; returns {group: [paths]} and {group: build seconds}."""
    sources = sorted(p for p in png_dir.rglob("*.png") if "masks" not in p.parts)
    if not sources:
        raise SystemExit(f"no PNG under {png_dir}")
    files = {name: [] for name in [*VARIANTS, PNG]}
    seconds = dict.fromkeys(files, 0.0)
    names = itertools.cycle(VARIANTS)
    for i, source in zip(range(n), itertools.cycle(sources)):
        image = Image.open(source).convert("L").resize((size, size), Image.BICUBIC)
        pixels = np.asarray(image).astype(np.uint16) * 16  # 12-bit
        name = next(names)
        path = folder / f"{i:03d}.dcm"
        start = time.perf_counter()
        write_radiograph_dicom(pixels, path, bits_stored=12, **VARIANTS[name])
        seconds[name] += time.perf_counter() - start
        files[name].append(str(path))
        start = time.perf_counter()
        image.save(folder / f"{i:03d}.png")
        seconds[PNG] += time.perf_counter() - start
        files[PNG].append(str(folder / f"{i:03d}.png"))
    return files, seconds


def rate(function, paths: list[str]) -> float:
    """Files per second of ``function`` over ``paths``."""
    start = time.perf_counter()
    for path in paths:
        function(path)
    return len(paths) / (time.perf_counter() - start)


def loader_rate(paths: list[str], transform: Compose, workers: int, batch_size: int) -> float:
    """Files per second of one epoch of a MONAI DataLoader (worker start-up included)."""
    loader = DataLoader(Dataset([{"image": p} for p in paths], transform=transform), batch_size=batch_size,
                        num_workers=workers)
    start = time.perf_counter()
    count = 0
    for batch in loader:
        count += batch["image"].shape[0]
    elapsed = time.perf_counter() - start
    assert count == len(paths)
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data_dir = os.environ.get("LD_MONAI_DATA_DIR", "../shared/data")
    parser.add_argument("--png_dir", default=os.path.join(data_dir, "xray", "cxr_lungs"))
    parser.add_argument("--n", type=int, default=100, help="number of DICOM files (and of PNGs)")
    parser.add_argument("--size", type=int, default=2048, help="rows = columns of the radiographs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers compared with 0")
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--output_dir", default="runs/dicom_ingestion")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    out = Path(args.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"pydicom {pydicom.__version__}, {platform.python_version()}")
    read = LoadRadiograph()
    chain = segmentation_preprocessing("xray", image_size=256)
    print("preprocessing:", " -> ".join(type(t).__name__ for t in chain))
    preprocess = Compose(chain)
    with tempfile.TemporaryDirectory(prefix="dicom_ingestion_") as tmp:
        start = time.perf_counter()
        files, build_seconds = build(Path(args.png_dir), Path(tmp), args.n, args.size)
        seconds = time.perf_counter() - start
        print(f"built {args.n} DICOMs + {args.n} PNGs of {args.size}x{args.size} in {seconds:.0f} s")
        dicoms = [p for name in VARIANTS for p in files[name]]
        groups = {**{name: files[name] for name in VARIANTS}, "all DICOM": dicoms, PNG: files[PNG]}

        for path in dicoms + files[PNG]:  # warm-up: page cache, decoder plugins; and a check of the outputs
            image = preprocess({"image": path})["image"]
            assert tuple(image.shape) == (1, 256, 256) and torch.isfinite(image).all(), path
        rates = {group: {"read": [], "read + preprocessing": []} for group in groups}
        for repeat in range(args.repeats):
            for group, paths in groups.items():
                if group == "all DICOM":
                    continue  # the sum of the variants, computed below
                rates[group]["read"].append(rate(read, paths))
                rates[group]["read + preprocessing"].append(rate(lambda p: preprocess({"image": p}), paths))
            for kind in ("read", "read + preprocessing"):  # all DICOM: total files / total time of this repeat
                seconds = sum(len(files[name]) / rates[name][kind][-1] for name in VARIANTS)
                rates["all DICOM"][kind].append(len(dicoms) / seconds)
            print(f"repeat {repeat + 1}/{args.repeats}: " + ", ".join(
                f"{g} {r['read'][-1]:.2f}/{r['read + preprocessing'][-1]:.2f}" for g, r in rates.items()), flush=True)

        loader_rates = {}
        for group in ("all DICOM", PNG):
            for workers in (0, args.workers):
                runs = [loader_rate(groups[group], preprocess, workers, args.batch_size) for _ in range(args.repeats)]
                loader_rates[f"{group}, num_workers={workers}"] = runs
                print(f"DataLoader {group}, num_workers={workers}: {statistics.median(runs):.2f} files/s", flush=True)

        megabytes = {g: statistics.mean(os.path.getsize(p) for p in paths) / 1e6 for g, paths in groups.items()}
        syntaxes = {name: pydicom.uid.UID(VARIANTS[name].get("transfer_syntax", ExplicitVRLittleEndian)).keyword
                    for name in VARIANTS}

    median = {g: {k: statistics.median(v) for k, v in r.items()} for g, r in rates.items()}
    lines = ["| files | transfer syntax | n | MB / file | build s / file | read (files/s) | "
             "read + preprocessing (files/s) |", "|---|---|---|---|---|---|---|"]
    for group, paths in groups.items():
        syntax = syntaxes.get(group, "mixed" if group == "all DICOM" else "PNG")
        build_s = (f"{build_seconds[group] / len(paths):.3f}" if group in build_seconds
                   else f"{sum(build_seconds[v] for v in VARIANTS) / len(paths):.3f}")
        name = f"**{group}**" if group in ("all DICOM", PNG) else group
        lines.append(f"| {name} | {syntax} | {len(paths)} | {megabytes[group]:.1f} | {build_s} | "
                     f"{median[group]['read']:.2f} | {median[group]['read + preprocessing']:.2f} |")
    lines += ["", f"| DataLoader (batch {args.batch_size}, read + preprocessing, whole epoch) | files/s |", "|---|---|"]
    lines += [f"| {key} | {statistics.median(v):.2f} |" for key, v in loader_rates.items()]
    table = "\n".join(lines)
    print(f"\n{args.n} radiographs of {args.size}x{args.size}, median of {args.repeats} repeats\n\n{table}")
    record = {"args": vars(args), "rates": rates, "loader_rates": loader_rates, "build_seconds": build_seconds,
              "megabytes_per_file": megabytes, "table": table, "torch_threads": torch.get_num_threads(),
              "cpus": os.cpu_count()}
    (out / "dicom_ingestion.json").write_text(json.dumps(record, indent=1))
    (out / "dicom_ingestion.md").write_text(table + "\n")
    print(f"\nresults: {out / 'dicom_ingestion.json'}, {out / 'dicom_ingestion.md'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
