# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Per-image evaluation report of a segmentation evaluator: Dice (and AUC) per image, CSV + JSON summary.

Local discrimination (Chen et al., arXiv 2108.09440, Appendix A7) reports the Dice of each test image,
averaged over the test set, for retinal vessel, optic disc/cup and lung segmentation. :class:`SegmentationReport`
records exactly that for a MONAI evaluator, writes it to disk and refuses to report on an incomplete test set.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from monai.utils.enums import CommonKeys as Keys

from ld_monai.distributed import is_distributed, is_main_process
from ld_monai.handlers.engine_output import item_name, iteration_items, lookup
from ld_monai.metrics import auc_per_image, dice_per_image
from ld_monai.utils import atomic_write

__all__ = ["SegmentationReport"]

logger = logging.getLogger(__name__)


class SegmentationReport:
    """Ignite handler: per-image Dice (and ROC AUC) of a :class:`monai.engines.SupervisedEvaluator`.

    At every ``ITERATION_COMPLETED`` it scores each image of the iteration. Both output layouts of MONAI 1.6
    evaluators are supported: ``decollate=True`` (the default; ``engine.state.batch`` and ``engine.state.output``
    are lists of per-image dicts, after ``postprocessing``) and ``decollate=False`` (dicts of batched tensors).
    Each key is looked up in the output first, then in the batch. Per image:

    * name: ``batch[name_key]`` if present, else the file stem of ``image_key``'s ``meta["filename_or_obj"]``,
      else ``image_<k>``;
    * Dice per structure (:func:`ld_monai.metrics.dice_per_image`) of ``output[pred_key]`` against
      ``label_key``, both (C, H, W) binary with C = ``len(structures)``; threshold the prediction in the
      evaluator's postprocessing (e.g. ``AsDiscreted(keys="pred", threshold=0.5)``). With ``mask_key`` only the
      pixels inside that binary (1, H, W) mask count (e.g. the fundus field of view);
    * with ``compute_auc``: ROC AUC per structure (:func:`ld_monai.metrics.auc_per_image`) of the probabilities
      ``output[prob_key]`` (e.g. ``CopyItemsd(keys="pred", names="prob")`` before thresholding); NaN when the
      image has only one class inside the mask, such values are left out of the summary.

    At ``EPOCH_COMPLETED`` it writes (atomically):

    * ``output_dir/metrics_per_image.csv``: columns ``name, dice_<structure>..., [auc_<structure>...]``;
    * ``output_dir/metrics_summary.json``: ``num_images_scored``, ``num_images_expected``, ``dice`` and ``auc``
      mapping each structure to ``{mean, std, min, max, count}`` (std is the population std, ddof=0),
      ``mean_dice`` (mean over structures) and ``mean_auc``;

    logs one line per structure (``vessel Dice 0.812 ± 0.030 over 20 images``) and sets
    ``engine.state.metrics["dice_<structure>"]``, ``["auc_<structure>"]``, ``["mean_dice"]``, ``["mean_auc"]``.
    Records are reset at ``EPOCH_STARTED``. Attached to an evaluator that runs in every process of a process group
    (``torchrun``, a ``DistributedSampler`` sharding the images), the records of every process are gathered before
    the report, each image counted once by name (the sampler pads the last shard with repeated images; two
    different images of one name raise), and rank 0 writes the files.

    Args:
        output_dir: folder of the CSV and JSON files (created).
        structures: one name per prediction channel, e.g. ``["vessel"]`` or ``["disc", "cup"]``.
        pred_key: key of the binary prediction.
        label_key: key of the binary label.
        prob_key: key of the probabilities.
        mask_key: key of the optional binary scoring mask.
        compute_auc: also score ROC AUC from ``prob_key``.
        name_key: batch key of the image names.
        image_key: key of the (MetaTensor) image used to name an image when ``name_key`` is absent.
        expected_count: the number of test images; a different number of scored images raises
            ``RuntimeError`` (after the files are written). Zero scored images always raise.

    Example::

        report = SegmentationReport("eval", ["vessel"], mask_key="mask", compute_auc=True, expected_count=20)
        report.attach(evaluator)
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        structures: Sequence[str],
        pred_key: str = Keys.PRED,
        label_key: str = Keys.LABEL,
        prob_key: str = "prob",
        mask_key: str | None = None,
        compute_auc: bool = False,
        name_key: str = "name",
        image_key: str = Keys.IMAGE,
        expected_count: int | None = None,
    ) -> None:
        if isinstance(structures, str) or len(structures) == 0:
            raise ValueError(f"structures must be a non-empty sequence of names, got {structures!r}.")
        self.output_dir = Path(output_dir)
        self.structures = [str(s) for s in structures]
        self.pred_key, self.label_key, self.prob_key, self.mask_key = pred_key, label_key, prob_key, mask_key
        self.compute_auc = bool(compute_auc)
        self.name_key, self.image_key = name_key, image_key
        self.expected_count = expected_count
        self.records: list[dict[str, Any]] = []
        self.summary: dict[str, Any] = {}

    def attach(self, engine: Any) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.report)

    def reset(self, engine: Any = None) -> None:
        self.records = []

    def __call__(self, engine: Any) -> None:
        """Score every image of the current iteration."""
        for batch_item, output_item in iteration_items(engine):
            name = item_name(batch_item, output_item, self.name_key, self.image_key, len(self.records))
            pred = _plain(lookup(batch_item, output_item, self.pred_key, name))
            if pred.shape[0] != len(self.structures):
                raise ValueError(
                    f"{name}: prediction has {pred.shape[0]} channels, expected one per structure "
                    f"{self.structures}."
                )
            label = _plain(lookup(batch_item, output_item, self.label_key, name))
            mask = None
            if self.mask_key is not None:
                mask = _plain(lookup(batch_item, output_item, self.mask_key, name))[None]
            record: dict[str, Any] = {"name": name}
            try:
                dice = dice_per_image(pred[None], label[None], mask)[0]
                if self.compute_auc:
                    prob = _plain(lookup(batch_item, output_item, self.prob_key, name))
                    auc = auc_per_image(prob[None], label[None], mask)[0]
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from e
            record.update({f"dice_{s}": float(v) for s, v in zip(self.structures, dice)})
            if self.compute_auc:
                record.update({f"auc_{s}": float(v) for s, v in zip(self.structures, auc)})
            self.records.append(record)

    def report(self, engine: Any) -> None:
        """Write the CSV and JSON files, log and store the means; raise if images are missing."""
        if is_distributed():
            everyone: list[list[dict[str, Any]]] = [[] for _ in range(dist.get_world_size())]
            dist.all_gather_object(everyone, self.records)
            by_name: dict[str, dict[str, Any]] = {}
            for record in (r for records in everyone for r in records):
                if by_name.setdefault(record["name"], record) != record:
                    raise ValueError(f"two processes scored different images named {record['name']!r}: name the "
                                     f"images (name_key or the image's file name).")
            self.records = sorted(by_name.values(), key=lambda r: r["name"])
        n = len(self.records)
        kinds = ["dice", "auc"] if self.compute_auc else ["dice"]
        summary: dict[str, Any] = {"num_images_scored": n, "num_images_expected": self.expected_count}
        for kind in kinds:
            stats = {s: _stats([r[f"{kind}_{s}"] for r in self.records]) for s in self.structures}
            means = [st["mean"] for st in stats.values() if st["mean"] is not None]
            summary[kind] = stats
            summary[f"mean_{kind}"] = float(np.mean(means)) if means else None
            for s, st in stats.items():
                engine.state.metrics[f"{kind}_{s}"] = st["mean"]
                if st["mean"] is not None:
                    logger.info(
                        "%s %s %.3f ± %.3f over %d images",
                        s, "Dice" if kind == "dice" else "AUC", st["mean"], st["std"], st["count"],
                    )
            engine.state.metrics[f"mean_{kind}"] = summary[f"mean_{kind}"]
        self.summary = summary
        columns = ["name"] + [f"{kind}_{s}" for kind in kinds for s in self.structures]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records)
        if is_main_process():
            atomic_write(self.output_dir / "metrics_per_image.csv", lambda f: f.write(text.getvalue().encode()))
            payload = json.dumps(summary, indent=2).encode()
            atomic_write(self.output_dir / "metrics_summary.json", lambda f: f.write(payload))
        if n == 0 or (self.expected_count is not None and n != self.expected_count):
            raise RuntimeError(
                f"segmentation evaluation scored {n} images, expected "
                f"{self.expected_count if self.expected_count is not None else 'at least one'} "
                f"(see {self.output_dir / 'metrics_per_image.csv'})."
            )


def _stats(values: Sequence[float]) -> dict[str, float | int | None]:
    """mean, population std (ddof=0), min, max and count of the non-NaN values (None when there are none)."""
    finite = np.array([v for v in values if not math.isnan(v)], dtype=np.float64)
    if finite.size == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "count": 0}
    return {
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=0)),
        "min": float(finite.min()),
        "max": float(finite.max()),
        "count": int(finite.size),
    }


def _plain(x: Any) -> torch.Tensor:
    """A detached CPU tensor without meta."""
    x = x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(x)
    return x.detach().cpu()
