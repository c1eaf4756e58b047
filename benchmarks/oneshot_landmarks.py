# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""One-shot landmark detection: LD embedding matching against two baselines, on the Hamedan cephalograms (19
landmarks), the ISBI 2015 cephalometric training images (19 landmarks, in mm) or the Drishti-GS1 optic disc centres.

``--dataset hamedan``: one template image with its 19 landmarks (annotator ``--annotator``), every other image a
query; the two annotators' disagreement is reported as the floor. ``--dataset isbi2015``: the same on the 150
ISBI 2015 training images as ``ld-monai prepare isbi2015`` prepares them (default template 125, the published
one-shot template; reference: the mean of the two doctors; errors also in mm, SDR within 2, 2.5, 3 and 4 mm);
``--json`` writes the record of ``--record_method`` (default ``ld_self_trained_crossfit``, the strict protocol:
the template is refined on the other half of the queries, nothing is learned from the images it searches).
``--dataset drishti``: the template is the first
image of the official training split, the queries are the test split. Methods, run side by side on the same
images:

* ``ld``: :class:`ld_monai.inferers.OneShotLandmarkInferer` on the encoder hypercolumns
  (:class:`ld_monai.networks.HypercolumnEmbedding`) of an LD checkpoint (``--checkpoint``, e.g. ``ld_pretraining``
  trained on the cephalograms with ``train_xray.json``);
* ``ld_adapted``: ``ld`` with its template adapted (:func:`ld_monai.inferers.adapt_template`) on all queries,
  unlabeled (the bundle's run: the files to search refine the template's landmark embeddings);
* ``ld_adapted_crossfit``: the same, but each query is searched with a template adapted on the other half of the
  queries (odd / even), never on itself;
* ``ld_self_trained``, ``ld_self_trained_crossfit``: ``ld_adapted`` (``_crossfit``) followed by
  :func:`ld_monai.inferers.self_train_template` on the same unlabeled queries (the bundle's run: both steps of
  :class:`ld_monai.inferers.TemplateRefinement`);
* ``ld_c2f``, ``ld_c2f_self_trained``, ``ld_c2f_self_trained_crossfit``: ``ld`` (self-trained, cross-fitted)
  refined at ``--fine_image_size`` (default twice ``--image_size``) around the landmarks found at ``--image_size``
  (:class:`ld_monai.inferers.CoarseToFineLandmarkInferer`; each resolution's template refined by its own matches);
* ``ld_self_trained_crossfit_heatmap``: CC2D's second stage (Yao et al., MICCAI 2021), strict: for each half of
  the queries, the heatmap network of ``heatmap`` fitted on the template and the other half's pseudo-labels (that
  half searched by ``ld_self_trained_crossfit``'s template refined on it; ``--pseudo_label_iterations``), then
  searching this half; its refinement seconds include the pseudo-labels and the fits;
* ``ld_embedding``: ``ld`` on the 32-D LD embedding alone (the paper's descriptor);
* ``ld_no_shape``: ``ld`` without the shape check (each landmark matched on its own);
* ``ld_uniform``: ``ld`` with uniform (box) windows instead of center-sensitive ones;
* ``random_init``: ``ld`` on a randomly initialised network (the control: what pretraining adds);
* ``template_copy``: the template's landmark positions copied (the control: how aligned the images are);
* ``ncc``: normalised cross-correlation of intensity patches (:class:`landmark_baselines.NCCTemplateMatcher`);
* ``heatmap``: a U-Net regressing Gaussian heatmaps, trained on the augmented template alone
  (:class:`landmark_baselines.SingleTemplateHeatmapRegressor`).

Every method is a :class:`ld_monai.inferers.OneShotLandmarkDetector`: a template made once (per fold), then each
query searched with it. The baselines live beside this script, in ``benchmarks/landmark_baselines``.

Errors are radial, in pixels of the images as stored (Hamedan 821 x 1024, Drishti-GS1 640 wide; pixel spacings
are unknown), with success rates within 10, 20, 30 and 40 px. Writes a Markdown table, the errors (JSON) and a
picture of the median query to ``--output_dir``. With several ``--template`` ids (Hamedan or ISBI 2015), each
template is run in turn against the other images (files suffixed with its id) and
``oneshot_<dataset>_templates.md`` / ``.json`` give each method's figures per template and their mean and spread:
how much the choice of the one annotated image matters; ``--ranking`` (a ``template_ranking.csv`` of the bundle's
``rank_templates.json``) adds each template's label-free rank and the Spearman correlation of its cycle error with
each figure, and ``--json`` writes that summary.

Example::

    python benchmarks/oneshot_landmarks.py --checkpoint "runs/ceph/checkpoints/checkpoint_epoch=6.pt"
    python benchmarks/oneshot_landmarks.py --checkpoint "runs/ceph/checkpoints/checkpoint_epoch=6.pt" \
        --methods ld_self_trained_crossfit --template 001 016 027 043 059 073 085 101 121 139
    python benchmarks/oneshot_landmarks.py --dataset isbi2015 --template 125 --checkpoint \
        "runs/ld_isbi/checkpoints/checkpoint_epoch=6.pt" --json docs/results/oneshot_isbi.json
    python benchmarks/oneshot_landmarks.py --dataset isbi2015 --template 149 125 146 --checkpoint \
        "runs/ld_isbi/checkpoints/checkpoint_epoch=6.pt" --methods ld_self_trained_crossfit \
        --ranking runs/isbi_ranking/template_ranking.csv --json docs/results/oneshot_isbi_template_ranking_check.json
    python benchmarks/oneshot_landmarks.py --dataset drishti --template_flip \
        --checkpoint "runs/drishti/checkpoints/checkpoint_epoch=3.pt"
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from monai.transforms import LoadImage
from PIL import Image, ImageDraw
from scipy.stats import spearmanr
from tqdm import tqdm

from ld_monai.apps.prepare import prepare_dataset
from ld_monai.data import landmark_array, read_landmark_table
from ld_monai.inferers import (
    CoarseToFineLandmarkInferer,
    OneShotLandmarkDetector,
    OneShotLandmarkInferer,
    TemplateRefinement,
)
from ld_monai.metrics import mean_radial_error, radial_errors, success_detection_rates
from ld_monai.networks import HypercolumnEmbedding, LocalDiscriminationNet, load_pretrained
from ld_monai.transforms import LoadRadiograph

from landmark_baselines import NCCTemplateMatcher, SingleTemplateHeatmapRegressor  # beside this script

REPO = Path(__file__).resolve().parents[1]
RADII = (10, 20, 30, 40)
RADII_MM = (2.0, 2.5, 3.0, 4.0)
IMAGENET = (torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))


@dataclass
class Task:
    """A template, queries with reference landmarks, and how the LD network sees the images."""

    template: torch.Tensor
    template_points: np.ndarray
    query_files: list[Path]
    truth: np.ndarray
    load: Callable[[Path], torch.Tensor]
    in_channels: int
    normalize: Callable[[torch.Tensor], torch.Tensor]
    image_size: tuple[int, int]
    ncc_patch: int
    floor: dict | None
    labels: list[str]
    spacing_mm: float | None = None


def hamedan_task(args, data_dir: Path, template_id: str) -> Task:
    """Template ``template_id`` and every other Hamedan cephalogram (annotator ``--annotator``)."""
    folder = data_dir / "ceph" / "Hamedan"
    labels = [f"l{i}" for i in range(1, 20)]
    table = read_landmark_table(folder / "landmarks.csv", annotator=args.annotator, duplicates="drop")
    ids = sorted(i for i in table if (folder / "images" / f"{i}.png").is_file())
    if template_id not in ids:
        raise SystemExit(f"template {template_id} not among the images with landmarks.")
    queries = [i for i in ids if i != template_id][: args.limit or None]
    other = read_landmark_table(folder / "landmarks.csv", annotator="Dr_mollabashi", duplicates="drop")
    both = [i for i in ids if i in other]
    floor = mean_radial_error(radial_errors(landmark_array(other, both, labels), landmark_array(table, both, labels)))
    floor["num_images"] = len(both)
    load = LoadRadiograph()
    return Task(load(folder / "images" / f"{template_id}.png"), landmark_array(table, [template_id], labels)[0],
                [folder / "images" / f"{i}.png" for i in queries], landmark_array(table, queries, labels), load, 1,
                lambda x: (x - 0.5) / 0.5, (256, 256), 65, floor, labels)


def isbi2015_task(args, data_dir: Path, template_id: str, out: Path) -> Task:
    """Template ``template_id`` and every other ISBI 2015 training image, as ``ld-monai prepare isbi2015`` prepares
    them (into ``out/isbi2015_data``): the doctors' mean as the reference, their disagreement as the floor, mm."""
    datalist_path = prepare_dataset("isbi2015", data_dir / "ceph" / "ISBI2015", out / "isbi2015_data")
    datalist = json.loads(datalist_path.read_text(encoding="utf-8"))
    entries = {e["name"]: e for split in ("training", "validation") for e in datalist[split]}
    spacings = {e["spacing_mm"] for e in entries.values()}
    if len(spacings) != 1:
        raise SystemExit(f"the ISBI 2015 images have several pixel spacings {sorted(spacings)}.")
    labels, table = datalist["labels"], datalist_path.parent / datalist["landmarks"]
    reference = read_landmark_table(table, annotator=datalist["reference_annotator"])
    ids = sorted(i for i in entries if i in reference)
    if template_id not in ids:
        raise SystemExit(f"template {template_id} not among the ISBI 2015 training images with landmarks.")
    queries = [i for i in ids if i != template_id][: args.limit or None]
    senior, junior = (read_landmark_table(table, annotator=who) for who in ("senior", "junior"))
    floor = mean_radial_error(radial_errors(landmark_array(senior, ids, labels), landmark_array(junior, ids, labels)))
    floor["num_images"] = len(ids)
    load = LoadRadiograph()
    image = lambda i: datalist_path.parent / entries[i]["image"]  # noqa: E731
    return Task(load(image(template_id)), landmark_array(reference, [template_id], labels)[0],
                [image(i) for i in queries], landmark_array(reference, queries, labels), load, 1,
                lambda x: (x - 0.5) / 0.5, (256, 256), 65, floor, labels, spacings.pop())


def drishti_task(args, data_dir: Path) -> Task:
    """The first training image's disc centre as the template; the 51 test images as queries."""
    folder = data_dir / "fundus" / "Drishti-GS1"
    rows = read_landmark_table(folder / "index.csv", image_column="image", label_column=None,
                               x_column="disc_center_x", y_column="disc_center_y", annotator_column=None)
    with open(folder / "index.csv", newline="") as f:
        split = {row["image"]: row["split"] for row in csv.DictReader(f)}
    template_id = sorted(i for i in rows if split[i] == "Training")[0]
    queries = sorted(i for i in rows if split[i] == "Test")[: args.limit or None]
    reader = LoadImage(image_only=True, ensure_channel_first=True, reader="PILReader", reverse_indexing=False)

    def load(path: Path) -> torch.Tensor:
        return reader(path).as_tensor().float() / 255.0

    return Task(load(folder / "Training" / "images" / f"{template_id}.png"),
                landmark_array(rows, [template_id], ["landmark"])[0],
                [folder / "Test" / "images" / f"{i}.png" for i in queries], landmark_array(rows, queries, ["landmark"]),
                load, 3, lambda x: (x - IMAGENET[0].to(x.device)) / IMAGENET[1].to(x.device), (256, 304), 161, None,
                ["landmark"])


def intensity(image: torch.Tensor) -> torch.Tensor:
    """(1, H, W) gray image of a (C, H, W) one: the input of the intensity baselines."""
    return image.mean(dim=0, keepdim=True)


class TemplateCopy:
    """The control detector: the template's landmark positions, scaled to the query's size (how aligned the images
    are)."""

    def make_template(self, image: torch.Tensor, landmarks) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(landmarks, dtype=float), np.array(image.shape[:0:-1], dtype=float)

    def __call__(self, image: torch.Tensor, template: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        points, size = template
        return {"landmarks": (points + 0.5) * (np.array(image.shape[:0:-1]) / size) - 0.5,
                "confidence": np.ones(len(points))}


@dataclass
class Method:
    """A detector, its template per fold (query n is searched with ``templates[n % len(templates)]``) and how it
    sees an image."""

    detector: OneShotLandmarkDetector
    templates: list
    view: Callable[[torch.Tensor], torch.Tensor] = lambda image: image

    def find(self, query: torch.Tensor, n: int) -> np.ndarray:
        """The landmarks (K, 2) of query ``n``."""
        return self.detector(self.view(query), self.templates[n % len(self.templates)])["landmarks"]


def crossfit_folds(num_queries: int) -> list[list[int]]:
    """The two halves of the queries (odd, even indices): the template refined on ``folds[k]`` searches the queries
    ``n`` with ``n % 2 == k`` (:class:`Method`), so no query helps find its own landmarks."""
    return [list(range(1, num_queries, 2)), list(range(0, num_queries, 2))]


def build_methods(args, task: Task) -> tuple[dict[str, Method], dict]:
    """name -> :class:`Method`, each with its templates made from the task's template (and refined); and the seconds
    the refined methods spent refining."""
    methods, adapt_seconds = {}, {}
    template, points = task.template, task.template_points
    # name -> (network weights, descriptor, inferer options)
    ld_variants = {
        "ld": ("ld", "hypercolumn", {}),
        "ld_adapted": ("ld", "hypercolumn", {}),
        "ld_adapted_crossfit": ("ld", "hypercolumn", {}),
        "ld_self_trained": ("ld", "hypercolumn", {}),
        "ld_self_trained_crossfit": ("ld", "hypercolumn", {}),
        "ld_embedding": ("ld", "embedding", {}),
        "ld_no_shape": ("ld", "hypercolumn", {"alignment_radius": None}),
        "ld_uniform": ("ld", "hypercolumn", {}),
        "random_init": ("random", "hypercolumn", {}),
        "ld_c2f": ("ld", "hypercolumn", {}),
        "ld_c2f_self_trained": ("ld", "hypercolumn", {}),
        "ld_c2f_self_trained_crossfit": ("ld", "hypercolumn", {}),
    }
    networks = {}
    for name, (weights, descriptor, options) in ld_variants.items():
        if name not in args.methods:
            continue
        if weights not in networks:
            torch.manual_seed(0)
            networks[weights] = LocalDiscriminationNet(in_channels=task.in_channels, num_clusters=0,
                                                       padding_mode=args.padding_mode)
            if weights == "ld":
                if not args.checkpoint:
                    raise SystemExit("--checkpoint is needed for the ld methods.")
                missing = load_pretrained(networks[weights], args.checkpoint)
                if missing:
                    raise SystemExit(f"{args.checkpoint} does not fit the LD network: missing {missing[:3]} ...")
            networks[weights].eval()
        network = networks[weights]
        settings = {"alignment_radius": args.alignment_radius or None, **options}
        inferer = OneShotLandmarkInferer(
            HypercolumnEmbedding(network) if descriptor == "hypercolumn" else network,
            image_size=args.image_size or task.image_size, coarse_window=args.coarse_window,
            fine_window=args.fine_window, search_radius=args.search_radius, template_scales=args.template_scales,
            template_flip=args.template_flip, normalize=task.normalize, **settings)
        if name == "ld_uniform":  # box windows: the bell made flat
            inferer.coarse_pool.bell.fill_(1.0 / args.coarse_window)
            inferer.fine_pool.bell.fill_(1.0 / args.fine_window)
        detector = inferer
        if name.startswith("ld_c2f"):  # refined at a higher resolution around the landmarks found at this one
            size = args.image_size or task.image_size
            fine = OneShotLandmarkInferer(
                HypercolumnEmbedding(network), image_size=args.fine_image_size or [2 * side for side in size],
                coarse_window=args.coarse_window, fine_window=args.fine_window, search_radius=args.search_radius,
                template_scales=args.template_scales, template_flip=args.template_flip, normalize=task.normalize,
                **settings)
            detector = CoarseToFineLandmarkInferer(inferer, fine)
        own = detector.make_template(template, points)
        templates = [own]
        if "adapted" in name or "self_trained" in name:
            # the template refined on all queries, unlabeled (the bundle's run); *_crossfit: on the other half of the
            # queries only (even / odd), so that no query helps find its own landmarks
            folds = [list(range(len(task.query_files)))] if not name.endswith("_crossfit") else crossfit_folds(
                len(task.query_files))
            refinement = TemplateRefinement(adapt_rounds=args.adapt_rounds, adapt_fraction=args.adapt_fraction,
                                            self_train_fraction=args.self_train_fraction
                                            if "self_trained" in name else 0.0)
            start = time.time()
            templates = []
            for fold in folds:
                images = [task.query_files[i] for i in fold]
                if isinstance(detector, CoarseToFineLandmarkInferer):
                    templates.append(detector.refine(refinement, own, images, load=task.load, progress=True))
                else:
                    templates.append(refinement(inferer, own, images, load=task.load, progress=True))
            adapt_seconds[name] = time.time() - start
        methods[name] = Method(detector, templates)
    if "ld_self_trained_crossfit_heatmap" in args.methods:
        name, base = "ld_self_trained_crossfit_heatmap", methods.get("ld_self_trained_crossfit")
        if base is None:
            raise SystemExit(f"{name} trains on the pseudo-labels of ld_self_trained_crossfit: add it to --methods.")
        start = time.time()
        regressor = SingleTemplateHeatmapRegressor(image_size=args.image_size or task.image_size,
                                                   iterations=args.pseudo_label_iterations, progress=True)
        networks = []
        for fold, template_of_fold in zip(crossfit_folds(len(task.query_files)), base.templates):
            # the half that fold's template was refined on, pseudo-labelled by it; the other half is searched
            images = [task.load(task.query_files[i]) for i in tqdm(fold, desc="pseudo-labels")]
            pseudo = [np.clip(base.detector(image, template_of_fold)["landmarks"], 0,
                              np.array(image.shape[:0:-1]) - 1) for image in images]
            networks.append(regressor.fit([intensity(template)] + [intensity(image) for image in images],
                                          [points] + pseudo))
        adapt_seconds[name] = adapt_seconds["ld_self_trained_crossfit"] + time.time() - start
        methods[name] = Method(regressor, networks, intensity)
    if "template_copy" in args.methods:
        copy = TemplateCopy()
        methods["template_copy"] = Method(copy, [copy.make_template(template, points)])
    if "ncc" in args.methods:
        matcher = NCCTemplateMatcher(patch_size=args.ncc_patch or task.ncc_patch)
        methods["ncc"] = Method(matcher, [matcher.make_template(intensity(template), points)], intensity)
    if "heatmap" in args.methods:
        start = time.time()
        regressor = SingleTemplateHeatmapRegressor(image_size=args.image_size or task.image_size,
                                                   iterations=args.heatmap_iterations, progress=True)
        trained = regressor.make_template(intensity(template), points)
        print(f"heatmap regressor trained on the template in {time.time() - start:.0f} s")
        methods["heatmap"] = Method(regressor, [trained], intensity)
    return methods, adapt_seconds


COLOURS = {"ld": (0, 220, 0), "ld_adapted": (120, 255, 120), "ld_self_trained": (0, 255, 180),
           "ld_self_trained_crossfit_heatmap": (255, 140, 0),
           "ld_embedding": (0, 120, 0), "ld_no_shape": (160, 0, 255), "ld_uniform": (0, 160, 255),
           "random_init": (128, 128, 128), "template_copy": (255, 255, 255), "ncc": (255, 60, 60),
           "heatmap": (255, 200, 0)}


def picture(image: torch.Tensor, truth: np.ndarray, found: dict, path: Path) -> None:
    """The query with the reference landmarks (white) and each method's (colour), 1/2 size."""
    gray = (intensity(image)[0].numpy() * 255).astype(np.uint8)
    canvas = Image.fromarray(gray).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for name, points in found.items():
        for (x, y), (tx, ty) in zip(points, truth):
            draw.line([(tx, ty), (x, y)], fill=COLOURS.get(name, (255, 0, 255)), width=2)
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=COLOURS.get(name, (255, 0, 255)), width=2)
    for x, y in truth:
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(255, 255, 255))
    y0 = 10
    for name in found:
        draw.text((10, y0), name, fill=COLOURS.get(name, (255, 0, 255)))
        y0 += 14
    canvas = canvas.resize((canvas.width // 2, canvas.height // 2), Image.LANCZOS)
    canvas.save(path, optimize=True)


def evaluate(args, task: Task, out: Path, suffix: str = "") -> dict:
    """Every method on every query of ``task``: writes the Markdown table, the JSON figures and the median query's
    picture to ``out`` (file names ending in ``suffix``) and returns the figures, method -> {"mre", "sdr", ...}."""
    methods, adapt_seconds = build_methods(args, task)
    found = {name: np.zeros_like(task.truth) for name in methods}
    seconds = {name: [] for name in methods}
    for n, path in enumerate(tqdm(task.query_files, desc="queries")):
        query = task.load(path)
        for name, method in methods.items():
            start = time.perf_counter()
            found[name][n] = method.find(query, n)
            seconds[name].append(time.perf_counter() - start)

    rows, results = [], {}
    for name in methods:
        errors = radial_errors(found[name], task.truth)
        mre, sdr = mean_radial_error(errors), success_detection_rates(errors, RADII)
        results[name] = {"mre": mre, "sdr": sdr, "seconds_per_image": float(np.median(seconds[name]))}
        if name in adapt_seconds:
            results[name]["adapt_seconds"] = adapt_seconds[name]
        cells = [f"{mre['mre']:.1f} ± {mre['std']:.1f}", f"{mre['median']:.1f}"]
        cells += [f"{100 * sdr['overall'][r]:.1f}" for r in RADII]
        if task.spacing_mm:
            errors_mm = errors * task.spacing_mm
            mm = {"mre": mean_radial_error(errors_mm), "sdr": success_detection_rates(errors_mm, RADII_MM)}
            results[name]["mm"] = mm
            cells += [f"{mm['mre']['mre']:.2f} ± {mm['mre']['std']:.2f}"]
            cells += [f"{100 * mm['sdr']['overall'][r]:.1f}" for r in RADII_MM]
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {np.median(seconds[name]):.2f} |")
    columns = ["MRE (px)", "median (px)"] + [f"≤ {r} px (%)" for r in RADII]
    if task.spacing_mm:
        columns += ["MRE (mm)"] + [f"≤ {r:g} mm (%)" for r in RADII_MM]
    header = "| method | " + " | ".join(columns) + " | s / image |\n|---|" + "---|" * (len(columns) + 1)
    lines = [header] + rows
    if task.floor:
        cells = [f"{task.floor['mre']:.1f} ± {task.floor['std']:.1f}", f"{task.floor['median']:.1f}"]
        cells += [""] * len(RADII)
        if task.spacing_mm:
            cells += [f"{task.floor['mre'] * task.spacing_mm:.2f}"] + [""] * len(RADII_MM)
        lines.append(f"| inter-annotator ({task.floor['num_images']} images) | " + " | ".join(cells) + " | |")
        results["inter_annotator"] = task.floor
    size = args.image_size or task.image_size
    text = (f"{args.dataset}{suffix}: {len(task.query_files)} queries, network input {size[0]} x {size[1]}\n\n"
            + "\n".join(lines) + "\n")
    print(text)
    (out / f"oneshot_{args.dataset}{suffix}.md").write_text(text, encoding="utf-8")
    (out / f"oneshot_{args.dataset}{suffix}.json").write_text(json.dumps(
        {**results, "config": vars(args), "command": shlex.join(["python", *sys.argv])}, indent=1, default=float),
        encoding="utf-8")
    first = next(iter(found))
    per_image = np.nanmean(radial_errors(found[first], task.truth), axis=1)
    median = int(np.argsort(per_image)[len(per_image) // 2])
    shown = [name for name in ("ld", "ld_self_trained", "ncc", "heatmap") if name in found] or [first]
    picture(task.load(task.query_files[median]), task.truth[median], {name: found[name][median] for name in shown},
            out / f"oneshot_{args.dataset}{suffix}_median_query.png")
    return results


def seconds_per_image(result: dict, num_queries: int) -> float:
    """A method's seconds per searched image, its refinement shared out over the queries."""
    return result["seconds_per_image"] + result.get("adapt_seconds", 0.0) / max(num_queries, 1)


def write_record(args, task: Task, results: dict, template_id: str, path: Path) -> None:
    """The result of record of a dataset in mm (``--json``): ``--record_method``'s MRE, SDR and per-landmark MRE,
    its seconds per image (refinement included), the other methods' MRE and SDR as controls, and the command."""
    if not task.spacing_mm:
        raise SystemExit(f"--json needs a dataset in mm (isbi2015), not {args.dataset}.")
    if args.record_method not in results:
        raise SystemExit(f"--record_method {args.record_method} is not among --methods {args.methods}.")

    def in_mm(result: dict) -> dict:
        mm = result["mm"]
        return {"mre_mm": mm["mre"]["mre"], "sdr_mm": {f"{r:g}": mm["sdr"]["overall"][r] for r in RADII_MM}}

    chosen = results[args.record_method]
    refined = "adapted" in args.record_method or "self_trained" in args.record_method
    strict = "_crossfit" in args.record_method or not refined
    record = {
        "protocol": f"template {template_id}, queries the {len(task.query_files)} other {args.dataset} training "
        f"images, reference the mean of the two doctors, {task.spacing_mm:g} mm/pixel; method {args.record_method} "
        + ("(strict: nothing learned from the searched images)" if strict else
           "(test-time adaptation: refined on the searched images, unlabeled)"),
        **in_mm(chosen),
        "per_landmark_mre_mm": dict(zip(task.labels, chosen["mm"]["mre"]["per_landmark"])),
        "seconds_per_image": seconds_per_image(chosen, len(task.query_files)),
        "controls": {name: in_mm(result) for name, result in results.items()
                     if name not in (args.record_method, "inter_annotator")},
        "inter_annotator_mre_mm": task.floor["mre"] * task.spacing_mm,
        "network_input": list(args.image_size or task.image_size),
        "checkpoint": args.checkpoint,
        "command": shlex.join(["python", *sys.argv]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"record: {path}")


def summarise_templates(args, per_template: dict[str, dict], out: Path) -> dict:
    """Each method's MRE and share within 20 px (and, in mm, within 4 mm; fractions) per template, with their mean ±
    standard deviation over the templates: ``oneshot_<dataset>_templates.md`` and ``.json``. With ``--ranking`` (a
    ``template_ranking.csv`` of the bundle's ``rank_templates.json``), also each template's rank and cycle error and
    the Spearman correlation of the cycle error with each figure: does the label-free ranking order the templates?"""
    ids = list(per_template)
    methods = [name for name in per_template[ids[0]] if name != "inter_annotator"]
    in_mm = "mm" in per_template[ids[0]][methods[0]]
    ranking = read_ranking(Path(args.ranking), ids) if args.ranking else None
    summary, lines = {}, ["| method | " + " | ".join(ids) + " | mean ± std |", "|---|" + "---|" * (len(ids) + 1)]
    if ranking:
        lines.append("| label-free rank (cycle error, px) | " + " | ".join(
            f"{ranking[t]['rank']} ({ranking[t]['cycle_mean_px']:.1f})" for t in ids) + " | |")
    for name in methods:
        figures = {"mre_px": [per_template[t][name]["mre"]["mre"] for t in ids],
                   "within_20px": [per_template[t][name]["sdr"]["overall"][20] for t in ids]}
        if in_mm:
            figures["mre_mm"] = [per_template[t][name]["mm"]["mre"]["mre"] for t in ids]
            figures["within_4mm"] = [per_template[t][name]["mm"]["sdr"]["overall"][4.0] for t in ids]
        summary[name] = {"templates": ids}
        for key, values in figures.items():
            values = np.array(values)
            summary[name].update({key: values.tolist(), f"{key}_mean": float(values.mean()),
                                  f"{key}_std": float(values.std())})
            shown = values if key.startswith("mre") else 100 * values
            lines.append(f"| {name}: {key.replace('within_', '% within ')} | " + " | ".join(f"{v:.1f}" for v in shown)
                         + f" | {shown.mean():.1f} ± {shown.std():.1f} |")
            if ranking:
                cycle = [ranking[t]["cycle_mean_px"] for t in ids]
                summary[name][f"spearman_cycle_error_{key}"] = float(spearmanr(cycle, values).statistic)
    if ranking:
        summary["ranking"] = {t: ranking[t] for t in ids}
    text = f"{args.dataset}: {len(ids)} templates, each against the other images\n\n" + "\n".join(lines) + "\n"
    if ranking:
        text += "\nSpearman correlation of the cycle error with each figure:\n\n" + "\n".join(
            f"- {name}: " + ", ".join(f"{key[len('spearman_cycle_error_'):]} {value:+.2f}"
                                      for key, value in summary[name].items() if key.startswith("spearman"))
            for name in methods) + "\n"
    print(text)
    (out / f"oneshot_{args.dataset}_templates.md").write_text(text, encoding="utf-8")
    (out / f"oneshot_{args.dataset}_templates.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def read_ranking(path: Path, ids: list[str]) -> dict[str, dict]:
    """Rank and cycle error of each of ``ids`` in a ``template_ranking.csv``."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = {row["image"]: row for row in csv.DictReader(f)}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise SystemExit(f"templates {missing} are not in the ranking {path}.")
    return {i: {"rank": int(rows[i]["rank"]), "cycle_mean_px": float(rows[i]["cycle_mean_px"])} for i in ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["hamedan", "isbi2015", "drishti"], default="hamedan")
    parser.add_argument("--data_dir", default=os.environ.get("LD_MONAI_DATA_DIR", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--template", nargs="+", help="template image id(s) (default: 001 for Hamedan, 125 for ISBI "
                        "2015); several: each in turn, with a summary over them")
    parser.add_argument("--annotator", default="Dr_farhadifar", help="Hamedan reference annotator")
    parser.add_argument("--checkpoint", help="LD checkpoint of ld_pretraining (e.g. the last epoch's)")
    parser.add_argument("--padding_mode", default="zeros", choices=["zeros", "reflect", "replicate"],
                        help="the padding the LD network was pretrained with (ld_pretraining's default: zeros)")
    parser.add_argument("--methods", nargs="+", default=["ld", "ld_adapted", "ld_adapted_crossfit", "ld_self_trained",
                                                         "ld_self_trained_crossfit", "ld_embedding", "ld_no_shape",
                                                         "ld_uniform", "random_init", "template_copy", "ncc",
                                                         "heatmap"])
    parser.add_argument("--image_size", type=int, nargs=2, help="network input (H, W): the pretraining's size; default "
                        "256 x 256 for Hamedan, 256 x 304 for Drishti-GS1")
    parser.add_argument("--fine_image_size", type=int, nargs=2, help="ld_c2f*: network input (H, W) of the fine "
                        "matcher, which refines the landmarks found at --image_size (default: twice it)")
    parser.add_argument("--coarse_window", type=int, default=33)
    parser.add_argument("--fine_window", type=int, default=13)
    parser.add_argument("--search_radius", type=int, default=12)
    parser.add_argument("--alignment_radius", type=int, default=24, help="shape check radius; 0: off")
    parser.add_argument("--template_scales", type=float, nargs="+", default=[1.0])
    parser.add_argument("--template_flip", action="store_true", help="average the template embeddings over a "
                        "left-right flip (fundus: left and right eyes are mirror images)")
    parser.add_argument("--adapt_fraction", type=float, default=0.25, help="ld_adapted: share of the queries "
                        "whose most confident matches refine each landmark")
    parser.add_argument("--adapt_rounds", type=int, default=1)
    parser.add_argument("--self_train_fraction", type=float, default=0.25, help="ld_self_trained: share of the "
                        "queries whose most confident matches train each landmark's direction (at most 64)")
    parser.add_argument("--ncc_patch", type=int, help="NCC patch side (px of the images as stored); default 65 for "
                        "Hamedan, 161 for Drishti-GS1 (the disc with its rim)")
    parser.add_argument("--heatmap_iterations", type=int, default=300)
    parser.add_argument("--pseudo_label_iterations", type=int, default=1000, help="ld_self_trained_crossfit_heatmap: "
                        "iterations of the heatmap network fitted on each half's pseudo-labels")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N queries (0: all)")
    parser.add_argument("--output_dir", default=str(REPO / "runs" / "oneshot_landmarks"))
    parser.add_argument("--json", help="isbi2015: write the result of record of --record_method here; with several "
                        "templates, the summary over them")
    parser.add_argument("--ranking", help="several templates: the template_ranking.csv of rank_templates.json, to "
                        "correlate with the figures")
    parser.add_argument("--record_method", default="ld_self_trained_crossfit")
    args = parser.parse_args()

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(args.data_dir)
    if args.dataset == "drishti":
        evaluate(args, drishti_task(args, data_dir), out)
        return
    args.template = args.template or ["125" if args.dataset == "isbi2015" else "001"]
    if args.dataset == "isbi2015":
        task = lambda template: isbi2015_task(args, data_dir, template, out)  # noqa: E731
    else:
        task = lambda template: hamedan_task(args, data_dir, template)  # noqa: E731
    if len(args.template) == 1:
        chosen = task(args.template[0])
        results = evaluate(args, chosen, out)
        if args.json:
            write_record(args, chosen, results, args.template[0], Path(args.json))
    else:
        summary = summarise_templates(args, {template: evaluate(args, task(template), out, f"_template_{template}")
                                             for template in args.template}, out)
        if args.json:
            Path(args.json).write_text(json.dumps({**summary, "checkpoint": args.checkpoint,
                                                   "command": shlex.join(["python", *sys.argv])}, indent=1) + "\n",
                                       encoding="utf-8")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
