# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The report handlers of every segmentation evaluation (the segmentation-transfer and shape-guided bundles), in one
place: what an ``evaluate.json`` writes, whichever network made the prediction."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ld_monai.handlers.overlay_writer import SegmentationOverlayWriter
from ld_monai.handlers.segmentation_report import SegmentationReport

__all__ = ["segmentation_evaluation_handlers"]


def segmentation_evaluation_handlers(eval_dir: str | os.PathLike, structures: Sequence[str],
                                     mask_key: str | None = None, compute_auc: bool = False,
                                     expected_count: int | None = None) -> list:
    """Per-image Dice (and AUC) at the network's resolution (``eval_dir/metrics_summary.json``) and at each image's
    own resolution (``eval_dir/native``, the published protocol; the items must carry the ``*_native`` keys of
    :func:`ld_monai.transforms.native_resolution_outputs`), and overlay pictures (``eval_dir/overlays``); not
    attached."""
    return [
        SegmentationReport(eval_dir, structures, mask_key=mask_key, compute_auc=compute_auc,
                           expected_count=expected_count),
        SegmentationReport(os.path.join(eval_dir, "native"), structures, pred_key="pred_native",
                           label_key="label_native", prob_key="prob_native",
                           mask_key=f"{mask_key}_native" if mask_key else None, compute_auc=compute_auc,
                           expected_count=expected_count),
        SegmentationOverlayWriter(os.path.join(eval_dir, "overlays"), structures),
    ]
