# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Public segmentation and landmark datasets as MONAI datalists (``out_dir/datalist.json``), for transfer and
evaluation.

``prepare_dataset(name, raw_dir, out_dir)`` reads a raw download (never modified), writes the files that must be
derived (binary 0/255 PNG labels, field-of-view masks, converted images) under ``out_dir/derived/`` and the
datalist atomically::

    {"name": "DRIVE", "description": ..., "reference": ..., "structures": ["vessel"], "split_note": ..., "seed": 0,
     "training": [{"image": ..., "vessel": ..., "mask": ..., "name": "21_training"}, ...],
     "validation": [...], "test": [...]}

Paths are relative to the datalist's folder (POSIX separators). Structure keys: ``vessel``, ``disc``, ``cup``,
``lung``, ``heart``, ``clavicle``; ``mask`` is the field of view (fundus sets). Labels are one channel of {0, 255}
or {0, 1} in PNG, GIF or TIFF: load them with ``LoadImaged(..., reader="PILReader")`` (ITK cannot read GIF).
Validation is a seeded fraction of the official training part. Landmark datasets (``isbi2015``) have no structures;
their datalist names a landmark table (``landmarks``), its ``labels`` and ``reference_annotator``, and each entry its
``spacing_mm``. See ``docs/datasets.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ld_monai.apps.prepare.chase_db1 import prepare_chase_db1
from ld_monai.apps.prepare.common import Preparer, write_datalist
from ld_monai.apps.prepare.cxr_lungs import prepare_cxr_lungs
from ld_monai.apps.prepare.drishti_gs1 import prepare_drishti_gs1
from ld_monai.apps.prepare.drive import prepare_drive
from ld_monai.apps.prepare.hrf import prepare_hrf
from ld_monai.apps.prepare.idrid_od import prepare_idrid_od
from ld_monai.apps.prepare.isbi2015 import prepare_isbi2015
from ld_monai.apps.prepare.jsrt import prepare_jsrt
from ld_monai.apps.prepare.montgomery import prepare_montgomery
from ld_monai.apps.prepare.shenzhen import prepare_shenzhen
from ld_monai.apps.prepare.stare import prepare_stare

__all__ = ["DATASETS", "prepare_dataset"]

#: dataset name -> preparer ``(raw_dir, out_dir, seed, val_fraction) -> Prepared``.
DATASETS: dict[str, Preparer] = {
    "drive": prepare_drive,
    "stare": prepare_stare,
    "chase_db1": prepare_chase_db1,
    "hrf": prepare_hrf,
    "drishti_gs1": prepare_drishti_gs1,
    "idrid_od": prepare_idrid_od,
    "jsrt": prepare_jsrt,
    "montgomery": prepare_montgomery,
    "shenzhen": prepare_shenzhen,
    "cxr_lungs": prepare_cxr_lungs,
    "isbi2015": prepare_isbi2015,
}


def prepare_dataset(
    name: str,
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    seed: int = 0,
    val_fraction: float = 0.2,
    *,
    notes: list[str] | None = None,
) -> Path:
    """Prepare dataset ``name`` from ``raw_dir`` into ``out_dir``; returns the path of ``out_dir/datalist.json``.

    Args:
        name: one of :data:`DATASETS` (case-insensitive).
        raw_dir: the raw download (see ``docs/datasets.md`` for each layout); read only.
        out_dir: where ``datalist.json`` and ``derived/`` go (created).
        seed: seed of the validation split (``numpy.random.RandomState``); recorded in the datalist.
        val_fraction: fraction of the training part moved to ``validation``, in [0, 1).
        notes: if given, remarks for the user are appended (images skipped, counts unlike the official release).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid ones), bad ``val_fraction``, a label that cannot
            be binarised or of the wrong size.
        FileNotFoundError: ``raw_dir`` missing, no images for the layout (the message gives the patterns searched),
            an image without its label (the message names both).

    Nothing is written to ``datalist.json`` unless the whole dataset was prepared; re-running on the same input
    writes the same file.
    """
    key = name.lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}.")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    raw = Path(os.path.abspath(raw_dir))
    if not raw.is_dir():
        raise FileNotFoundError(f"raw_dir {raw} does not exist or is not a folder: expected the {key} download.")
    out = Path(os.path.abspath(out_dir))
    prepared = DATASETS[key](raw, out, int(seed), float(val_fraction))
    if notes is not None:
        notes.extend(prepared.notes)
    return write_datalist(prepared.datalist, out)
