# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""One-shot landmark detection on files: the work of the ``oneshot_landmark_detection`` bundle and of
``ld-monai predict`` with it (Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440).

* :func:`load_landmark_network`: the LD network with the weights of LD pretraining, ready to embed;
* :func:`read_landmark_template`: the template (e.g. a :class:`ld_monai.inferers.LandmarkTemplate`) of an image
  file and a landmark table, and its labels;
* :func:`refine_landmark_template`: the template refined on the (unlabeled) files to search
  (:class:`ld_monai.inferers.TemplateRefinement`: adaptation, then self-training);
* :func:`detect_landmarks`: the template's landmarks in every file, in one ``landmarks.csv`` plus an overlay
  picture per file (:func:`ld_monai.visualize.render_landmark_overlay`);
* :func:`rank_template_files`: the files ranked as templates without labels, by cycle consistency
  (:func:`ld_monai.inferers.template_ranking.rank_templates`), in ``template_ranking.csv``;
* :func:`read_landmark_datalist`: the images, pixel spacings and landmark table of a prepared landmark datalist
  (``ld-monai prepare isbi2015``).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from tqdm import tqdm

from ld_monai.data.file_format import file_stem
from ld_monai.data.landmark_table import read_landmark_table, write_landmarks_csv
from ld_monai.inferers.landmark_detector import OneShotLandmarkDetector
from ld_monai.inferers.landmark_template import LandmarkTemplate
from ld_monai.inferers.one_shot_landmark import OneShotLandmarkInferer
from ld_monai.inferers.template_ranking import rank_templates
from ld_monai.inferers.template_refinement import TemplateRefinement
from ld_monai.networks.state_dict import load_pretrained
from ld_monai.transforms.radiograph_loading import LoadRadiograph
from ld_monai.utils import atomic_write
from ld_monai.visualize.landmark_overlay import render_landmark_overlay

__all__ = [
    "LandmarkDetection",
    "LandmarkDatalist",
    "detect_landmarks",
    "load_landmark_network",
    "rank_template_files",
    "read_landmark_datalist",
    "read_landmark_template",
    "refine_landmark_template",
]


def load_landmark_network(network: torch.nn.Module, checkpoint: str | os.PathLike | None,
                          device: torch.device | str | None = None) -> torch.nn.Module:
    """``network`` with every weight from ``checkpoint`` (the ``model.pt`` of ``ld_pretraining``), in eval mode.

    Raises:
        ValueError: no checkpoint given, or it lacks weights of ``network`` (an ``encoder.pt`` has no decoder and
            embedding head, which the matching needs).
        FileNotFoundError: the checkpoint does not exist.
    """
    if checkpoint is None:
        raise ValueError(
            "no checkpoint: pass the model.pt of LD pretraining (the ld_pretraining bundle with train_xray.json, or "
            "ld-monai demo --xray), e.g. --checkpoint runs/ld_ceph/checkpoints/model.pt."
        )
    untouched = load_pretrained(network, checkpoint)
    if untouched:
        raise ValueError(
            f"{checkpoint} lacks {len(untouched)} weights of the network (e.g. {untouched[0]}): one-shot matching "
            "needs the whole LD network, the model.pt of ld_pretraining, not encoder.pt."
        )
    return network.to(device).eval()


def read_landmark_template(inferer: OneShotLandmarkDetector, image: str | os.PathLike | None,
                           landmarks: str | os.PathLike | None, image_id: str | None = None,
                           annotator: str | None = None,
                           labels: Sequence[str] | None = None) -> tuple[object, list[str]]:
    """The template ``inferer`` (e.g. :class:`ld_monai.inferers.OneShotLandmarkInferer`) makes of an image file and
    its landmarks (``inferer.make_template``), and the labels of those landmarks.

    Args:
        inferer: any :class:`ld_monai.inferers.OneShotLandmarkDetector`; it is not changed.
        image: the template radiograph (read with :class:`ld_monai.transforms.LoadRadiograph`).
        landmarks: a CSV read with :func:`ld_monai.data.read_landmark_table` (columns ``image_id,label,x,y`` and,
            with several annotators, ``annotator``); (x, y) in pixels of ``image``.
        image_id: the template's id in the table; default: the image's file name without extension.
        annotator: whose landmarks (required when the table has several annotators).
        labels: the landmarks to find, in this order; default: all of the template's, in the table's order.

    Returns:
        the template (a :class:`ld_monai.inferers.LandmarkTemplate` for the LD inferer) and the labels, in the
        order of the rows of ``inferer(query, template)["landmarks"]``.

    Raises:
        ValueError: no image or table given, the template's id not in the table, a label missing or given twice
            for the template, landmarks outside the image (raised by the inferer).
    """
    if image is None or landmarks is None:
        raise ValueError("the template needs an image and its landmark table: set template_image and "
                         "template_landmarks.")
    image_id = file_stem(image) if image_id is None else str(image_id)
    table = read_landmark_table(landmarks, annotator=annotator, duplicates="first")
    who = f" (annotator {annotator!r})" if annotator is not None else ""
    if image_id not in table:
        raise ValueError(f"template {image_id!r} is not in {landmarks}{who}, which has {len(table)} images: "
                         f"{list(table)[:10]}{' ...' if len(table) > 10 else ''}; set template_id.")
    template = table[image_id]
    once = read_landmark_table(landmarks, annotator=annotator, duplicates="drop").get(image_id, {})
    repeated = [label for label in template if label not in once]
    if repeated:
        raise ValueError(f"template {image_id!r} has the labels {repeated} on several rows of {landmarks}{who}: "
                         "choose another template.")
    labels = list(template) if labels is None else [str(label) for label in labels]
    missing = [label for label in labels if label not in template]
    if missing or not labels:
        raise ValueError(f"template {image_id!r} in {landmarks}{who} has no landmark {missing or labels}; "
                         f"it has {list(template)}.")
    points = np.asarray([template[label] for label in labels])
    return inferer.make_template(LoadRadiograph()(image), points), labels


def refine_landmark_template(inferer: OneShotLandmarkInferer, template: LandmarkTemplate,
                             image_files: Sequence[str | os.PathLike], refinement: TemplateRefinement,
                             progress: bool = True) -> tuple[LandmarkTemplate, int]:
    """``template`` refined by ``refinement`` on the readable files among ``image_files``, unlabeled (typically the
    files about to be searched). Files that cannot be read, or that fail the template's query checks (another
    channel count or DICOM modality, NaN values: :meth:`ld_monai.inferers.LandmarkTemplate.check_query`), are left
    out (:func:`detect_landmarks` reports them). The images are kept at the network's input size: a thousand
    radiographs take about 256 MB.

    Returns:
        the refined template and how many files it was refined on (0: none readable, or both steps off; then
        ``template`` itself).
    """
    if not refinement.enabled:
        return template, 0
    loader, images = LoadRadiograph(), []
    for path in tqdm([os.fspath(f) for f in image_files], desc="reading the files to search", unit="file",
                     disable=not progress):
        try:
            image = loader(path)
            template.check_query(image)
        except ValueError:
            continue
        small = F.interpolate(image.as_tensor()[None].float(), size=inferer.image_size, mode="area")[0]
        images.append(MetaTensor(small, meta={"modality": image.meta.get("modality") or None}))
    if not images:
        return template, 0
    return refinement(inferer, template, images, progress=progress), len(images)


def _spacing_xy(image) -> tuple[float, float] | None:
    """(x, y) mm per pixel of a :class:`LoadRadiograph` image: a DICOM's PixelSpacing (or ImagerPixelSpacing), a
    NIfTI's pixdim; None for other files and for a DICOM without spacing."""
    meta = getattr(image, "meta", {})
    if "spacing_source" in meta:
        if meta["spacing_source"] == "none":
            return None
        row, col = (float(s) for s in meta["spacing"][:2])
    elif "pixdim" in meta:
        row, col = (float(s) for s in meta["pixdim"][1:3])
    else:
        return None
    return col, row


def _fallback_spacing(spacing_mm: float | Mapping[str, float] | None, path: str) -> tuple[float, float] | None:
    """(x, y) mm per pixel given by the caller for a file that carries none."""
    value = spacing_mm.get(path) if isinstance(spacing_mm, Mapping) else spacing_mm
    return None if value is None else (float(value), float(value))


@dataclass
class LandmarkDatalist:
    """What a prepared landmark datalist gives the bundle: the image files of the chosen splits (absolute paths),
    the pixel spacing of each (mm, isotropic), the landmark table (absolute path) and its reference annotator."""

    images: list[str]
    spacing_mm: dict[str, float]
    landmarks: str
    reference_annotator: str | None


def read_landmark_datalist(path: str | os.PathLike, splits: Sequence[str] = ("training", "validation")
                           ) -> LandmarkDatalist:
    """The ``splits`` of a landmark datalist written by ``ld-monai prepare`` (e.g. ``isbi2015``): paths in it are
    relative to its folder; ``spacing_mm`` of an entry is the spacing of a file that carries none (PNG, BMP).

    Raises:
        FileNotFoundError: no such datalist.
        ValueError: it names no landmark table (a segmentation datalist), or lacks one of ``splits``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"landmark datalist {path} does not exist (write one with ld-monai prepare isbi2015).")
    datalist = json.loads(path.read_text(encoding="utf-8"))
    if "landmarks" not in datalist:
        raise ValueError(f"{path} names no landmark table ('landmarks'): not a landmark datalist.")
    missing = [split for split in splits if split not in datalist]
    if missing:
        splits_there = [key for key, value in datalist.items()
                        if isinstance(value, list) and key not in ("labels", "structures")]
        raise ValueError(f"{path} has no split {missing}; it has {splits_there}.")
    root = path.parent.resolve()
    images, spacing = [], {}
    for split in splits:
        for entry in datalist[split]:
            image = os.path.normpath(root / entry["image"])
            images.append(image)
            if entry.get("spacing_mm") is not None:
                spacing[image] = float(entry["spacing_mm"])
    return LandmarkDatalist(images, spacing, os.path.normpath(root / datalist["landmarks"]),
                            datalist.get("reference_annotator"))


@dataclass
class LandmarkDetection:
    """What :func:`detect_landmarks` wrote: the table, the overlay of each file, and the files that failed."""

    landmarks_csv: Path
    overlays: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def _reason(path: str, error: Exception) -> str:
    """``error`` in one line without the file name at its start (the caller names the file)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text[len(path) + 2:] if text.startswith(f"{path}: ") else text


def detect_landmarks(inferer: OneShotLandmarkDetector, template, image_files: Sequence[str | os.PathLike],
                     output_dir: str | os.PathLike, labels: Sequence[str], progress: bool = True,
                     skip_failures: bool = False, overlay_max_side: int = 1024,
                     spacing_mm: float | Mapping[str, float] | None = None) -> LandmarkDetection:
    """Find the template's landmarks in every file and write ``output_dir/landmarks.csv`` and
    ``output_dir/overlays/<stem>.png`` (:func:`render_landmark_overlay`).

    The table (:data:`ld_monai.data.LANDMARK_CSV_COLUMNS`) has one row per file and label: ``image`` is the file
    name without extension, (x, y) in the file's pixels, in mm (px x spacing) when the file has a pixel spacing
    (DICOM PixelSpacing or ImagerPixelSpacing, NIfTI pixdim; else ``spacing_mm``; empty without either), and the
    match's cosine similarity as ``confidence``. It is written once, at the end, atomically.

    Args:
        inferer: e.g. :class:`ld_monai.inferers.OneShotLandmarkInferer`.
        template: its template (:func:`read_landmark_template`, :func:`refine_landmark_template`).
        image_files: radiographs read with :class:`ld_monai.transforms.LoadRadiograph`.
        output_dir: where the table and the overlays go.
        labels: the template's labels, in the order of the inferer's landmarks.
        progress: show a progress bar.
        skip_failures: a file that fails (unreadable, wrong modality, same name as an earlier file) is recorded in
            ``failed`` and the others go on; default: raise, naming the file.
        overlay_max_side: longer side of the overlays, in pixels.
        spacing_mm: isotropic pixel spacing of the files that carry none: one number for all, or per file path as
            given in ``image_files`` (:func:`read_landmark_datalist`).

    Raises:
        ValueError: no file, two files with the same name, a file that fails (unless ``skip_failures``).
    """
    if len(image_files) == 0:
        raise ValueError("no image to search for landmarks: the list of files is empty (set input_dir).")
    labels = list(labels)
    output_dir = Path(output_dir)
    result = LandmarkDetection(output_dir / "landmarks.csv")
    loader = LoadRadiograph()
    rows: list[dict] = []
    stems: dict[str, str] = {}
    for path in tqdm([os.fspath(f) for f in image_files], desc="landmarks", unit="file", disable=not progress):
        try:
            stem = file_stem(path)
            if stem in stems:
                raise ValueError(f"its name {stem!r} is already used by {stems[stem]}.")
            stems[stem] = path
            image = loader(path)
            found = inferer(image, template)
            points, confidence = np.asarray(found["landmarks"]), np.asarray(found["confidence"])
            if points.shape != (len(labels), 2):
                raise ValueError(f"the inferer found {points.shape[0]} landmarks, expected one per label {labels}.")
            spacing = _spacing_xy(image) or _fallback_spacing(spacing_mm, path)
            overlay = render_landmark_overlay(image, points, overlay_max_side)
        except Exception as error:  # noqa: BLE001 - reported per file or raised naming the file
            if not skip_failures:
                if isinstance(error, ValueError):
                    raise ValueError(f"{path}: {_reason(path, error)}") from error
                raise
            result.failed[path] = f"{type(error).__name__}: {_reason(path, error)}"
            if progress:
                tqdm.write(f"failed: {path}: {result.failed[path]}")
            continue
        for label, (x, y), score in zip(labels, points, confidence):
            mm = (x * spacing[0], y * spacing[1]) if spacing else (None, None)
            rows.append({"image": stem, "label": label, "x_px": x, "y_px": y, "x_mm": mm[0], "y_mm": mm[1],
                         "confidence": score})
        buffer = io.BytesIO()
        overlay.save(buffer, format="PNG")
        result.overlays[path] = atomic_write(output_dir / "overlays" / f"{stem}.png",
                                             lambda f: f.write(buffer.getvalue()))
    write_landmarks_csv(result.landmarks_csv, rows)
    return result


def rank_template_files(inferer: OneShotLandmarkInferer, image_files: Sequence[str | os.PathLike],
                        output_dir: str | os.PathLike, num_partners: int = 16, per_side: int = 8,
                        margin: float = 0.1, tolerance_px: float = 10.0, seed: int = 0,
                        progress: bool = True) -> Path:
    """Rank the files as templates without labels (:func:`ld_monai.inferers.template_ranking.rank_templates`:
    a grid of ``per_side`` x ``per_side`` probes matched into ``num_partners`` of the other files and back) and
    write ``output_dir/template_ranking.csv`` (``image,rank,cycle_mean_px,cycle_median_px,consistent_fraction``,
    best first, in the files' pixels); returns its path.

    Raises:
        ValueError: fewer than two files, two files with the same name.
    """
    loader = LoadRadiograph()
    images = {}
    for path in tqdm([os.fspath(f) for f in image_files], desc="reading the candidates", unit="file",
                     disable=not progress):
        stem = file_stem(path)
        if stem in images:
            raise ValueError(f"{path}: its name {stem!r} is already used by another candidate.")
        images[stem] = loader(path)
    scores = rank_templates(inferer, images, num_partners=num_partners, per_side=per_side, margin=margin,
                            tolerance_px=tolerance_px, seed=seed, progress=progress)
    buffer = io.StringIO()
    buffer.write("image,rank,cycle_mean_px,cycle_median_px,consistent_fraction\n")
    for score in scores:
        buffer.write(f"{score.name},{score.rank},{score.mean_px:.3f},{score.median_px:.3f},"
                     f"{score.consistent_fraction:.4f}\n")
    data = buffer.getvalue().encode("utf-8")
    return atomic_write(Path(output_dir) / "template_ranking.csv", lambda f: f.write(data))
