# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""One-shot landmark detection on the Hamedan cephalograms: LD embedding matching against two baselines.

One template image with its 19 landmarks (annotator ``--annotator``); every other image is a query. Methods, run
side by side on the same images:

* ``ld``: :class:`ld_monai.inferers.OneShotLandmarkInferer` on the embedding of an LD checkpoint
  (``--checkpoint``, e.g. ``ld_pretraining`` trained on the cephalograms with ``train_xray.json``);
* ``ld_uniform``: the same with uniform (box) windows instead of center-sensitive ones (the ablation);
* ``ncc``: normalised cross-correlation of intensity patches (:class:`ld_monai.inferers.NCCTemplateMatcher`);
* ``heatmap``: a U-Net regressing Gaussian heatmaps, trained on the augmented template alone
  (:class:`ld_monai.inferers.SingleTemplateHeatmapRegressor`).

Errors are radial, in pixels of the images as stored (821 x 1024; the set's pixel spacing is unknown), with success
rates within 10, 20, 30 and 40 px; the two annotators' disagreement is reported as the floor. Writes a Markdown
table, per-landmark errors (JSON) and a picture of the median query to ``--output_dir``.

Example::

    python benchmarks/oneshot_landmarks.py --checkpoint runs/ceph/checkpoints/model.pt
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ld_monai.data import landmark_array, read_landmark_table
from ld_monai.inferers import NCCTemplateMatcher, OneShotLandmarkInferer, SingleTemplateHeatmapRegressor
from ld_monai.metrics import mean_radial_error, radial_errors, success_detection_rates
from ld_monai.networks import LocalDiscriminationNet, load_pretrained
from ld_monai.transforms import LoadRadiograph

REPO = Path(__file__).resolve().parents[1]
RADII = (10, 20, 30, 40)
LABELS = [f"l{i}" for i in range(1, 20)]


def build_methods(args, template: torch.Tensor, points: np.ndarray) -> dict:
    """name -> callable(query (1, H, W)) -> (K, 2) landmarks; each fitted on the template."""
    methods = {}
    if {"ld", "ld_uniform"} & set(args.methods):
        if not args.checkpoint:
            raise SystemExit("--checkpoint is needed for the ld methods.")
        network = LocalDiscriminationNet(in_channels=1, num_clusters=0)
        missing = load_pretrained(network, args.checkpoint)
        if missing:
            raise SystemExit(f"{args.checkpoint} does not fit the LD network: missing {missing[:3]} ...")
        network.eval()
        for name, uniform in (("ld", False), ("ld_uniform", True)):
            if name not in args.methods:
                continue
            inferer = OneShotLandmarkInferer(network, image_size=args.image_size, coarse_window=args.coarse_window,
                                             fine_window=args.fine_window, search_radius=args.search_radius,
                                             template_scales=args.template_scales)
            if uniform:  # box windows: the bell made flat
                inferer.coarse_pool.bell.fill_(1.0 / args.coarse_window)
                inferer.fine_pool.bell.fill_(1.0 / args.fine_window)
            inferer.set_template(template, points)
            methods[name] = lambda q, inferer=inferer: inferer(q)["landmarks"]
    if "ncc" in args.methods:
        matcher = NCCTemplateMatcher(template[0].numpy(), points, patch_size=args.ncc_patch)
        methods["ncc"] = lambda q: matcher(q[0].numpy())[0]
    if "heatmap" in args.methods:
        start = time.time()
        regressor = SingleTemplateHeatmapRegressor(len(points), image_size=args.image_size,
                                                   iterations=args.heatmap_iterations, progress=True)
        regressor.fit(template, points)
        print(f"heatmap regressor trained on the template in {time.time() - start:.0f} s")
        methods["heatmap"] = lambda q: regressor(q)["landmarks"]
    return methods


def picture(image: torch.Tensor, truth: np.ndarray, found: dict, path: Path) -> None:
    """The query with the reference landmarks (white) and each method's (colour), 1/2 size."""
    gray = (image[0].numpy() * 255).astype(np.uint8)
    canvas = Image.fromarray(gray).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    colours = {"ld": (0, 220, 0), "ld_uniform": (0, 160, 255), "ncc": (255, 60, 60), "heatmap": (255, 200, 0)}
    for name, points in found.items():
        for (x, y), (tx, ty) in zip(points, truth):
            draw.line([(tx, ty), (x, y)], fill=colours.get(name, (255, 0, 255)), width=2)
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=colours.get(name, (255, 0, 255)), width=2)
    for x, y in truth:
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(255, 255, 255))
    y0 = 10
    for name in found:
        draw.text((10, y0), name, fill=colours.get(name, (255, 0, 255)))
        y0 += 14
    canvas = canvas.resize((canvas.width // 2, canvas.height // 2), Image.LANCZOS)
    canvas.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = Path(os.environ.get("LD_MONAI_DATA_DIR", REPO.parent / "shared" / "data")) / "ceph" / "Hamedan"
    parser.add_argument("--data_dir", default=str(data))
    parser.add_argument("--template", default="001")
    parser.add_argument("--annotator", default="Dr_farhadifar")
    parser.add_argument("--checkpoint", help="LD checkpoint (model.pt of ld_pretraining)")
    parser.add_argument("--methods", nargs="+", default=["ld", "ld_uniform", "ncc", "heatmap"])
    parser.add_argument("--image_size", type=int, nargs=2, default=[256, 256],
                        help="network input (H, W); the LD default matches the pretraining's 256 x 256")
    parser.add_argument("--coarse_window", type=int, default=33)
    parser.add_argument("--fine_window", type=int, default=9)
    parser.add_argument("--search_radius", type=int, default=12)
    parser.add_argument("--template_scales", type=float, nargs="+", default=[1.0])
    parser.add_argument("--ncc_patch", type=int, default=65)
    parser.add_argument("--heatmap_iterations", type=int, default=300)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N queries (0: all)")
    parser.add_argument("--output_dir", default=str(REPO / "runs" / "oneshot_landmarks"))
    args = parser.parse_args()

    folder = Path(args.data_dir)
    table = read_landmark_table(folder / "landmarks.csv", annotator=args.annotator, duplicates="drop")
    ids = sorted(i for i in table if (folder / "images" / f"{i}.png").is_file())
    if args.template not in ids:
        raise SystemExit(f"template {args.template} not among the images with landmarks.")
    queries = [i for i in ids if i != args.template][: args.limit or None]
    load = LoadRadiograph()
    template = load(folder / "images" / f"{args.template}.png")
    template_points = landmark_array(table, [args.template], LABELS)[0]
    methods = build_methods(args, template, template_points)
    truth = landmark_array(table, queries, LABELS)
    found = {name: np.zeros_like(truth) for name in methods}
    seconds = {name: [] for name in methods}
    for n, image_id in enumerate(queries):
        query = load(folder / "images" / f"{image_id}.png")
        for name, method in methods.items():
            start = time.perf_counter()
            found[name][n] = method(query)
            seconds[name].append(time.perf_counter() - start)
        print(f"{n + 1}/{len(queries)} {image_id}", end="\r", flush=True)
    print()

    other = read_landmark_table(folder / "landmarks.csv", annotator="Dr_mollabashi", duplicates="drop")
    both = [i for i in ids if i in other]
    floor = mean_radial_error(radial_errors(landmark_array(other, both, LABELS), landmark_array(table, both, LABELS)))
    rows, results = [], {}
    for name in methods:
        errors = radial_errors(found[name], truth)
        mre, sdr = mean_radial_error(errors), success_detection_rates(errors, RADII)
        results[name] = {"mre": mre, "sdr": sdr, "seconds_per_image": float(np.median(seconds[name]))}
        rates = " | ".join(f"{100 * sdr['overall'][r]:.1f}" for r in RADII)
        rows.append(f"| {name} | {mre['mre']:.1f} ± {mre['std']:.1f} | {mre['median']:.1f} | {rates} | "
                    f"{np.median(seconds[name]):.2f} |")
    header = ("| method | MRE (px) | median (px) | " + " | ".join(f"≤ {r} px (%)" for r in RADII)
              + " | s / image |\n|---|---|---|" + "---|" * len(RADII) + "---|")
    table_md = "\n".join([header] + rows + [
        f"| inter-annotator ({len(both)} images) | {floor['mre']:.1f} ± {floor['std']:.1f} | {floor['median']:.1f} |"
        + " |" * len(RADII) + " |"])
    text = (f"Template {args.template}, {len(queries)} queries, annotator {args.annotator}, network input "
            f"{args.image_size[0]} x {args.image_size[1]}\n\n{table_md}\n")
    print(text)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "oneshot_landmarks.md").write_text(text, encoding="utf-8")
    results["inter_annotator"] = floor
    results["config"] = {k: v for k, v in vars(args).items()}
    (out / "oneshot_landmarks.json").write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    if "ld" in found:
        per_image = np.nanmean(radial_errors(found["ld"], truth), axis=1)
        median = int(np.argsort(per_image)[len(per_image) // 2])
        picture(load(folder / "images" / f"{queries[median]}.png"), truth[median],
                {name: found[name][median] for name in methods}, out / "oneshot_median_query.png")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
