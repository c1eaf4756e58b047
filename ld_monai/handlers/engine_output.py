# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""What the evaluator handlers read from an engine: the image items of one iteration, a key from the output or the
batch, and an image's name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monai.data import decollate_batch

from ld_monai.data.file_format import file_stem

__all__ = ["iteration_items", "lookup", "item_name"]


def iteration_items(engine: Any) -> list[tuple[Mapping, Mapping]]:
    """``(batch_item, output_item)`` per image of the iteration, for decollated (lists) and batched (dicts) states."""
    batch, output = engine.state.batch, engine.state.output
    batch_items = decollate_batch(batch, detach=True) if isinstance(batch, Mapping) else list(batch)
    output_items = decollate_batch(output, detach=True) if isinstance(output, Mapping) else list(output)
    if len(batch_items) != len(output_items):
        raise ValueError(f"the batch has {len(batch_items)} items but the output {len(output_items)}.")
    return list(zip(batch_items, output_items))


def lookup(batch_item: Mapping, output_item: Mapping, key: str, name: str) -> Any:
    """``output_item[key]``, else ``batch_item[key]``; ``KeyError`` naming the image and the keys otherwise."""
    if key in output_item:
        return output_item[key]
    if key in batch_item:
        return batch_item[key]
    raise KeyError(
        f"{name}: key {key!r} is neither in the evaluator output (keys: {list(output_item)}) nor in the batch "
        f"(keys: {list(batch_item)})."
    )


def item_name(batch_item: Mapping, output_item: Mapping, name_key: str, image_key: str, index: int) -> str:
    """``batch_item[name_key]``, else the file stem of the image's ``meta["filename_or_obj"]``, else ``image_<k>``."""
    if name_key in batch_item:
        return str(batch_item[name_key])
    for source in (batch_item.get(image_key), output_item.get(image_key)):
        filename = getattr(source, "meta", {}).get("filename_or_obj")
        if filename:
            return file_stem(str(filename))
    return f"image_{index:04d}"
