# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``ld-monai predict``: run a trained segmentation bundle, or the one-shot landmark bundle, on clinical files.

Segmentation, one file at a time. For each input (DICOM CR/DX, NIfTI, PNG/JPEG/TIFF; a file or every image of a
folder): the label map as NIfTI with the input's geometry and as PNG (``<stem>_mask.nii.gz``, ``<stem>_mask.png``),
an overlay picture (``<stem>_overlay.png``) and, for DICOM input, a DICOM SEG referencing the source instance
(``<stem>_seg.dcm``).

Landmarks (a bundle whose metadata declares ``"ld_monai_kind": "landmark_detection"``, e.g.
``oneshot_landmark_detection``):
the template's landmarks in every input, in one ``landmarks.csv`` (pixels, mm when the file has a pixel spacing),
plus ``overlays/<stem>.png`` (:func:`ld_monai.apps.landmark_detection.detect_landmarks`); the template is given as
bundle overrides (``template_image``, ``template_landmarks``, ``template_id``, ``template_annotator``, ``labels``).

A file that fails is reported with its reason and leaves no output behind; the others go on. ``summary.json``
lists what succeeded and what failed.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from monai.bundle import ConfigParser
from monai.data import decollate_batch, list_data_collate
from monai.transforms import Compose
from PIL import Image
from tqdm import tqdm

from ld_monai.apps.bundles import bundle_kind
from ld_monai.apps.landmark_detection import adapt_landmark_template, detect_landmarks
from ld_monai.data.dicom_seg_writer import write_dicom_seg
from ld_monai.data.file_format import file_stem, is_dicom_file
from ld_monai.data.image_folder import image_folder_datalist
from ld_monai.networks.state_dict import load_pretrained
from ld_monai.utils import atomic_write
from ld_monai.visualize.segmentation_overlay import render_segmentation_overlay

__all__ = ["BundlePredictor", "PredictionSummary", "predict", "OVERLAY_MAX_SIDE"]

#: overlays of large radiographs are downscaled to this longer side (pixels)
OVERLAY_MAX_SIDE = 1024


@dataclass
class PredictionSummary:
    """What ``predict`` did: the files that succeeded (with their outputs) and those that failed (with why)."""

    bundle: str
    checkpoint: str
    output_dir: str
    succeeded: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    action: str = "segmented"

    def report(self) -> str:
        lines = [f"{len(self.succeeded)} of {len(self.succeeded) + len(self.failed)} file(s) {self.action} in "
                 f"{self.seconds:.1f} s; outputs in {self.output_dir}"]
        if self.failed:
            lines.append(f"{len(self.failed)} failed:")
            lines += [f"  {name}: {reason}" for name, reason in self.failed.items()]
        return "\n".join(lines)


def _bundle_parser(bundle: Path, config_files: list[str], overrides: dict | None, device: str | None) -> ConfigParser:
    """The bundle's configs (and metadata) with ``bundle_root``, the overrides and the device set."""
    configs = bundle / "configs"
    files = [configs / name for name in config_files]
    for path in files + [configs / "metadata.json"]:
        if not path.is_file():
            raise FileNotFoundError(f"{bundle}: not a bundle with inference ({path.name} is missing).")
    parser = ConfigParser()
    parser.read_config([str(f) for f in files])
    parser.read_meta(str(configs / "metadata.json"))
    parser["bundle_root"] = str(bundle)
    for key, value in (overrides or {}).items():
        parser[key] = value
    if device is not None:
        parser["device"] = f"$torch.device({device!r})"
    return parser


def _find_checkpoint(bundle: Path, parser: ConfigParser, checkpoint: str | os.PathLike | None) -> Path:
    """``checkpoint``, else ``<bundle>/models/model.pt``, else the bundle's ``checkpoint`` setting."""
    if checkpoint is not None:
        candidates = [Path(checkpoint)]
    else:
        configured = parser.get_parsed_content("checkpoint")
        candidates = [bundle / "models" / "model.pt"] + ([Path(configured)] if configured else [])
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"no checkpoint for {bundle.name}: looked for {', '.join(str(p) for p in candidates)}; train the bundle "
        "(for a landmark bundle: LD pretraining) or pass --checkpoint."
    )


class BundlePredictor:
    """A trained segmentation bundle (``train.json`` + ``inference.json``) ready to segment single files.

    Uses the bundle's own network, ``infer_preprocessing`` and ``infer_postprocessing`` (so the masks are what
    ``inference.json`` writes), with ``prediction_dir`` set to ``output_dir``.

    Args:
        bundle_dir: the bundle folder (``configs/``).
        output_dir: where the outputs go.
        checkpoint: the weights; default: ``<bundle_dir>/models/model.pt`` (model-zoo layout), else the
            ``checkpoint`` of ``inference.json`` (``<bundle_dir>/runs/checkpoints/model.pt`` after training).
        device: e.g. ``"cpu"`` or ``"cuda:0"``; default: the bundle's (CUDA when available).
        overrides: bundle settings ``{key: value}``, as ``monai.bundle run --key value`` would set them.

    Raises:
        ValueError: the bundle is not a segmentation bundle, or the checkpoint does not fit its network.
        FileNotFoundError: no checkpoint.
    """

    def __init__(self, bundle_dir: str | os.PathLike, output_dir: str | os.PathLike,
                 checkpoint: str | os.PathLike | None = None, device: str | None = None,
                 overrides: dict | None = None) -> None:
        bundle = Path(bundle_dir).resolve()
        parser = _bundle_parser(bundle, ["train.json", "inference.json"], overrides, device)
        if "structures" not in parser or "infer_postprocessing" not in parser:
            raise ValueError(
                f"{bundle}: ld-monai predict runs segmentation bundles (with 'structures' and "
                "'infer_postprocessing' in their configs)."
            )
        self.output_dir = Path(output_dir).resolve()
        parser["prediction_dir"] = str(self.output_dir)
        self.name = bundle.name
        self.version = str(parser.get("_meta_#version", "0"))
        self.structures = [str(s) for s in parser.get_parsed_content("structures")]
        self.device = parser.get_parsed_content("device")
        self.memory_format = parser.get_parsed_content("memory_format")
        self.amp = bool(parser.get_parsed_content("amp")) and self.device.type == "cuda"
        self.checkpoint = _find_checkpoint(bundle, parser, checkpoint)
        self.network = parser.get_parsed_content("network")
        untouched = load_pretrained(self.network, self.checkpoint)
        if untouched:
            raise ValueError(
                f"{self.checkpoint} does not fit the network of {bundle.name}: {len(untouched)} weights missing "
                f"(e.g. {untouched[0]})."
            )
        self.network.eval()
        preprocessing = parser.get_parsed_content("infer_preprocessing")
        self.load = preprocessing.transforms[0]  # the loader: its output is the picture under the overlay
        self.prepare = Compose(preprocessing.transforms[1:])
        self.postprocessing = parser.get_parsed_content("infer_postprocessing")

    def outputs_of(self, path: str | os.PathLike) -> list[Path]:
        """The files :meth:`segment` writes for ``path``."""
        stem = file_stem(path)
        names = [f"{stem}_mask.nii.gz", f"{stem}_mask.png", f"{stem}_overlay.png"]
        if is_dicom_file(path):
            names.append(f"{stem}_seg.dcm")
        return [self.output_dir / n for n in names]

    @torch.no_grad()
    def segment(self, path: str | os.PathLike) -> list[Path]:
        """Segment one file and write its outputs; returns their paths. Raises on any failure."""
        loaded = self.load({"image": os.fspath(path)})
        batch = list_data_collate([self.prepare(loaded)])
        image = batch["image"].to(self.device, memory_format=self.memory_format)
        with torch.autocast(self.device.type, enabled=self.amp):
            batch["pred"] = self.network(image).float().cpu()
        item = self.postprocessing(decollate_batch(batch)[0])
        structures = item["structures"].cpu().numpy().astype(bool)
        outputs = self.outputs_of(path)
        picture = render_segmentation_overlay(loaded["image"][:3], structures, structure_names=self.structures)
        overlay = Image.fromarray(picture)
        if max(overlay.size) > OVERLAY_MAX_SIDE:
            overlay.thumbnail((OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE), Image.LANCZOS)
        buffer = io.BytesIO()
        overlay.save(buffer, format="PNG")
        atomic_write(outputs[2], lambda f: f.write(buffer.getvalue()))
        if is_dicom_file(path):
            write_dicom_seg(structures, path, outputs[3], self.structures, self.name, self.version)
        return outputs


def _input_files(inputs: str | os.PathLike) -> list[str]:
    path = Path(inputs)
    if path.is_dir():
        return [entry["image"] for entry in image_folder_datalist(path)]
    if not path.is_file():
        raise FileNotFoundError(f"input {path} is neither a file nor a folder.")
    return [str(path.resolve())]


def _segment(bundle_dir, files: list[str], output_dir, checkpoint, device, progress: bool,
             overrides: dict | None) -> PredictionSummary:
    predictor = BundlePredictor(bundle_dir, output_dir, checkpoint=checkpoint, device=device, overrides=overrides)
    predictor.output_dir.mkdir(parents=True, exist_ok=True)
    summary = PredictionSummary(str(Path(bundle_dir).resolve()), str(predictor.checkpoint), str(predictor.output_dir))
    stems: dict[str, str] = {}
    for path in tqdm(files, desc=f"{predictor.name}", unit="file", disable=not progress or len(files) < 2):
        stem = file_stem(path)
        if stem in stems:
            summary.failed[path] = f"its output name {stem!r} is already used by {stems[stem]}"
            continue
        stems[stem] = path
        try:
            summary.succeeded[path] = [str(p) for p in predictor.segment(path)]
        except Exception as error:  # noqa: BLE001 - reported per file; the others go on
            for output in predictor.outputs_of(path):
                output.unlink(missing_ok=True)
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            reason = reason[len(path) + 2:] if reason.startswith(f"{path}: ") else reason  # the key names the file
            summary.failed[path] = f"{type(error).__name__}: {reason}"
            if progress:
                tqdm.write(f"failed: {path}: {summary.failed[path]}")
    return summary


def _find_landmarks(bundle_dir, files: list[str], output_dir, checkpoint, device, progress: bool,
                    overrides: dict | None) -> PredictionSummary:
    bundle, output = Path(bundle_dir).resolve(), Path(output_dir).resolve()
    parser = _bundle_parser(bundle, ["inference.json"], overrides, device)
    parser["output_dir"] = str(output)
    parser["checkpoint"] = str(_find_checkpoint(bundle, parser, checkpoint))
    labels = parser.get_parsed_content("template_labels")  # loads the network and sets the inferer's template
    inferer = parser.get_parsed_content("inferer")
    # the template refined on the files to search, as the bundle's run does
    adapt_landmark_template(inferer, files, *(parser.get_parsed_content(key) for key in (
        "adapt_fraction", "adapt_rounds", "self_train_fraction")), progress=progress)
    result = detect_landmarks(inferer, files, output, labels, progress=progress and len(files) > 1,
                              skip_failures=True)
    summary = PredictionSummary(str(bundle), parser["checkpoint"], str(output), action="searched for landmarks")
    summary.succeeded = {path: [str(result.landmarks_csv), str(overlay)] for path, overlay in result.overlays.items()}
    summary.failed = result.failed
    return summary


def predict(bundle_dir: str | os.PathLike, inputs: str | os.PathLike | Sequence[str], output_dir: str | os.PathLike,
            checkpoint: str | os.PathLike | None = None, device: str | None = None,
            progress: bool = True, overrides: dict | None = None) -> PredictionSummary:
    """Segment a file, a folder (every image in it, DICOM recognised by content) or a list of files; with a
    landmark bundle (``ld_monai_kind`` ``landmark_detection`` in its metadata), find the template's landmarks in
    them, the template given by ``overrides`` (``template_image``, ``template_landmarks``, ``template_id``,
    ``template_annotator``).

    One bad file never stops the rest: its error goes into the summary and its partial outputs are removed.
    Two inputs with the same stem would overwrite each other's outputs, so the second one fails. The summary is
    also written to ``output_dir/summary.json``.
    """
    start = time.time()
    files = _input_files(inputs) if isinstance(inputs, (str, os.PathLike)) else [os.fspath(f) for f in inputs]
    kind = bundle_kind(bundle_dir)
    if kind == "pretraining":
        raise ValueError(f"{bundle_dir} is a pretraining bundle: ld-monai predict runs segmentation and landmark "
                         "bundles; run its inference.json for embeddings and cluster maps.")
    run = _find_landmarks if kind == "landmark_detection" else _segment
    summary = run(bundle_dir, files, output_dir, checkpoint, device, progress, overrides)
    summary.seconds = time.time() - start
    text = json.dumps(
        {"bundle": summary.bundle, "checkpoint": summary.checkpoint, "num_inputs": len(files),
         "num_succeeded": len(summary.succeeded), "num_failed": len(summary.failed),
         "succeeded": summary.succeeded, "failed": summary.failed, "seconds": round(summary.seconds, 2)},
        indent=2,
    )
    atomic_write(Path(summary.output_dir) / "summary.json", lambda f: f.write(text.encode("utf-8")))
    return summary
