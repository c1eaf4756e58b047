# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``ld-monai predict``: run a trained segmentation bundle (also a shape-guided one, whose guided cluster segments),
or the one-shot landmark bundle, on clinical files.

Segmentation: the bundle's own ``inference.json`` (MONAI ``ConfigWorkflow``, type ``infer``), its dataset fed one
file at a time so that one bad file never stops the others. For each input (DICOM CR/DX, NIfTI, PNG/JPEG/TIFF; a
file or every image of a folder) it writes what the bundle writes: the label map as NIfTI with the input's geometry
and as PNG (``<stem>_mask.nii.gz``, ``<stem>_mask.png``), an overlay picture (``<stem>_overlay.png``) and, for
DICOM input, a DICOM SEG referencing the source instance (``<stem>_seg.dcm``).

Landmarks (a bundle whose metadata declares ``"ld_monai_kind": "landmark_detection"``, e.g.
``oneshot_landmark_detection``): the bundle's own ``inference.json`` run once on the inputs, which writes the
template's landmarks in every input in one ``landmarks.csv`` (pixels, mm when the file has a pixel spacing) plus
``overlays/<stem>.png`` (:func:`ld_monai.apps.landmark_detection.detect_landmarks`, its failures recorded per file);
the template is given as bundle overrides (``template_image``, ``template_landmarks``, ``template_id``,
``template_annotator``, ``labels``).

A file that fails is reported with its reason and leaves no output behind; the others go on. ``summary.json``
lists what succeeded and what failed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monai.bundle import ConfigWorkflow
from tqdm import tqdm

from ld_monai.apps.bundle_files import bundle_config_file, bundle_parser, find_checkpoint
from ld_monai.apps.bundles import bundle_kind
from ld_monai.data.file_format import file_stem
from ld_monai.data.image_folder import image_folder_datalist
from ld_monai.networks.state_dict import load_pretrained
from ld_monai.utils import atomic_write

__all__ = ["BundlePredictor", "PredictionSummary", "predict"]


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


class BundlePredictor:
    """The ``inference.json`` workflow of a trained segmentation bundle, run on one file at a time.

    The workflow is built once (network, checkpoint, pre- and postprocessing, handlers: what ``python -m
    monai.bundle run --config_file configs/inference.json`` runs) with ``prediction_dir`` set to ``output_dir``;
    :meth:`segment` points its dataset at one file and runs its evaluator.

    Args:
        bundle_dir: a standalone bundle folder (``configs/inference.json``; ``ld-monai bundle export`` writes one).
        output_dir: where the outputs go.
        checkpoint: the weights; default: ``<bundle_dir>/models/model.pt`` (model-zoo layout), else the
            ``checkpoint`` of ``inference.json`` (``<bundle_dir>/runs/checkpoints/model.pt`` after training).
        device: e.g. ``"cpu"`` or ``"cuda:0"``; default: the bundle's (CUDA when available).
        overrides: bundle settings ``{key: value}``, as ``monai.bundle run --key value`` would set them.

    Raises:
        ValueError: the checkpoint does not fit the bundle's network.
        FileNotFoundError: not a bundle with ``inference.json``, or no checkpoint.
    """

    def __init__(self, bundle_dir: str | os.PathLike, output_dir: str | os.PathLike,
                 checkpoint: str | os.PathLike | None = None, device: str | None = None,
                 overrides: dict | None = None) -> None:
        bundle = Path(bundle_dir).resolve()
        self.output_dir = Path(output_dir).resolve()
        # no progress bar of the bundle's (one per file) and no worker processes started for every file
        settings = {"bundle_root": str(bundle), "prediction_dir": str(self.output_dir), "initialize": [],
                    "num_workers": 0, **(overrides or {})}
        if device is not None:
            settings["device"] = f"$torch.device({device!r})"
        self.workflow = ConfigWorkflow(
            config_file=str(bundle_config_file(bundle, "inference.json")),
            meta_file=str(bundle_config_file(bundle, "metadata.json")), logging_file=False, workflow_type="infer",
            **settings,
        )
        configured = self.workflow.parser.get_parsed_content("checkpoint") if checkpoint is None else None
        self.checkpoint = find_checkpoint(bundle, configured, checkpoint)
        self.workflow.parser["checkpoint"] = str(self.checkpoint)
        dataset = self.workflow.parser["dataset"]  # a bundle built on ld_pretraining names it: "@infer#dataset"
        dataset_id = dataset[1:] if isinstance(dataset, str) and dataset.startswith("@") else "dataset"
        self.workflow.parser[f"{dataset_id}#data"] = []
        self.workflow.initialize()
        untouched = load_pretrained(self.workflow.parser.get_parsed_content("network"), self.checkpoint)
        if untouched:
            raise ValueError(
                f"{self.checkpoint} does not fit the network of {bundle.name}: {len(untouched)} weights missing "
                f"(e.g. {untouched[0]})."
            )
        self.name = bundle.name
        self.evaluator = self.workflow.evaluator
        self.evaluator.state.epoch_length = 1  # one file per run
        # ignite's resumable runs keep the generator of a failed run, which makes the next run return at once
        self.evaluator.interrupt_resume_enabled = False
        self.evaluator.logger.setLevel(logging.CRITICAL)  # a failing file is reported by segment's caller

    def segment(self, path: str | os.PathLike) -> list[Path]:
        """Segment one file with the bundle's workflow; returns the files it wrote. Raises on any failure, after
        removing what it had written."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        before = set(self.output_dir.iterdir())
        self.workflow.dataset.data = [{"image": os.fspath(path)}]
        self.evaluator.set_data(self.evaluator.data_loader)  # a fresh iterator, also after a failed file
        try:
            self.evaluator.run()
            if self.evaluator.state.iteration != 1:
                raise RuntimeError(f"the bundle's evaluator ran {self.evaluator.state.iteration} iterations, not 1.")
        except BaseException:
            for output in set(self.output_dir.iterdir()) - before:
                output.unlink()
            raise
        return sorted(set(self.output_dir.iterdir()) - before)


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
            while error.__cause__ is not None:  # MONAI wraps a transform's error ("applying transform ...")
                error = error.__cause__
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            reason = reason[len(path) + 2:] if reason.startswith(f"{path}: ") else reason  # the key names the file
            summary.failed[path] = f"{type(error).__name__}: {reason}"
            if progress:
                tqdm.write(f"failed: {path}: {summary.failed[path]}")
    return summary


def _find_landmarks(bundle_dir, files: list[str], output_dir, checkpoint, device, progress: bool,
                    overrides: dict | None) -> PredictionSummary:
    """The landmark bundle's own ``inference.json`` (template, refinement on the files, detection), run as a unit
    on ``files`` with per-file failures recorded instead of raised."""
    bundle, output = Path(bundle_dir).resolve(), Path(output_dir).resolve()
    parser = bundle_parser(bundle, ["inference.json"], overrides, device)
    found = find_checkpoint(bundle, parser.get_parsed_content("checkpoint"), checkpoint)
    settings = {**(overrides or {}), "bundle_root": str(bundle), "output_dir": str(output), "checkpoint": str(found),
                "input_files": files, "skip_failures": True, "progress": progress}
    if device is not None:
        settings["device"] = f"$torch.device({device!r})"
    workflow = ConfigWorkflow(config_file=str(bundle_config_file(bundle, "inference.json")),
                              meta_file=str(bundle_config_file(bundle, "metadata.json")), logging_file=False,
                              workflow_type=None, **settings)
    workflow.initialize()
    workflow.run()
    result = workflow.parser.get_parsed_content("detection")
    summary = PredictionSummary(str(bundle), str(found), str(output), action="searched for landmarks")
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
