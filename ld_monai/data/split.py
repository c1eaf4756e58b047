# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Seeded train/validation split of a datalist."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["split_datalist", "label_fraction_subset"]


def split_datalist(datalist: Sequence[dict], val_fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """Split ``datalist`` into (train, validation) with a seeded permutation (independent of file-system order).

    At least one item goes to each side; with a single item (e.g. the demo photograph) both sides are that item,
    so the validation loss is then measured on fixed views of the training image.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    items = list(datalist)
    if not items:
        raise ValueError("cannot split an empty datalist.")
    if len(items) == 1 or val_fraction == 0:
        return items, items
    order = np.random.RandomState(seed).permutation(len(items))
    n_val = min(len(items) - 1, max(1, round(val_fraction * len(items))))
    return [items[i] for i in sorted(order[n_val:])], [items[i] for i in sorted(order[:n_val])]


def label_fraction_subset(datalist: Sequence[dict], fraction: float = 1.0, seed: int = 0) -> list:
    """A seeded subset of ``round(fraction * len(datalist))`` items (at least one), in the original order.

    For label-efficiency studies (LD, arXiv 2108.09440, trains on fractions of the training list): a larger
    fraction with the same seed contains every item of a smaller one, so curves over fractions are nested.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}.")
    items = list(datalist)
    if not items:
        raise ValueError("cannot take a label fraction of an empty datalist.")
    order = np.random.RandomState(seed).permutation(len(items))
    keep = order[: max(1, round(fraction * len(items)))]
    return [items[i] for i in sorted(keep)]
