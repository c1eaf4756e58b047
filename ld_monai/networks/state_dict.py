# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Copy weights between LD models by parameter name (the research code copied them by position, which
silently misaligns as soon as a module is added or reordered)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch
from torch import nn

from ld_monai.networks.blocks import set_padding_mode
from ld_monai.networks.unwrap import unwrap_network

__all__ = ["load_matching_state_dict", "load_pretrained"]

logger = logging.getLogger(__name__)


def load_matching_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Load every entry of ``state_dict`` whose name exists in ``model``; return the model's keys left untouched.

    A ``module.`` prefix (DataParallel / DDP) is stripped. A name present in both with a different shape
    raises ``ValueError`` instead of being skipped silently, with one exception: the first convolution of an RGB
    network loads into a one-channel network (an LD encoder pretrained on colour photographs, fine-tuned on the green
    channel) with its kernels summed over the colour channels, as timm's ``adapt_input_conv`` does, so that a grey
    or green image gives the response of the same picture in colour.
    """
    model = unwrap_network(model)  # a DistributedDataParallel network loads into the network it wraps
    own = model.state_dict()
    cleaned = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state_dict.items()}
    matched = {}
    for name, value in cleaned.items():
        if name not in own:
            continue
        if value.ndim == 4 and value.shape[1] == 3 and own[name].shape == (value.shape[0], 1, *value.shape[2:]):
            value = value.sum(dim=1, keepdim=True)
            logger.info("parameter %r: RGB kernels summed into the one-channel input convolution.", name)
        if own[name].shape != value.shape:
            raise ValueError(
                f"parameter {name!r}: checkpoint shape {tuple(value.shape)} != model {tuple(own[name].shape)}."
            )
        matched[name] = value
    if not matched:
        raise ValueError("no parameter of the checkpoint matches the model by name.")
    model.load_state_dict(matched, strict=False)
    return sorted(set(own) - set(matched))


def load_pretrained(model: nn.Module, path: str | os.PathLike, adopt_padding: bool = True) -> list[str]:
    """Load a checkpoint file into ``model`` by name (``torch.load(..., weights_only=True)``).

    Accepts a plain state dict (a bundle's ``model.pt``), a dict holding it under ``"model"`` (a training
    checkpoint), or an encoder export of :class:`ld_monai.handlers.EncoderExporter` (``"encoder"``: loaded into
    ``model.encoder``). An export records the padding mode the encoder was trained with; with ``adopt_padding``
    every convolution of ``model`` then pads that way (:func:`ld_monai.networks.set_padding_mode`), so that the
    features are those of pretraining. Returns the model's keys left untouched; see
    :func:`load_matching_state_dict`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"checkpoint {path} is not a state dict (got {type(checkpoint).__name__}).")
    if "encoder" in checkpoint and isinstance(checkpoint["encoder"], Mapping):
        untouched = load_matching_state_dict(model, {f"encoder.{k}": v for k, v in checkpoint["encoder"].items()})
        padding_mode = checkpoint.get("padding_mode")
        if adopt_padding and isinstance(padding_mode, str):
            set_padding_mode(model, padding_mode)
            if hasattr(model, "padding_mode"):
                model.padding_mode = padding_mode
            logger.info("%s: the encoder was pretrained with %s padding; the network now pads so.", path, padding_mode)
        return untouched
    if "model" in checkpoint and isinstance(checkpoint["model"], Mapping):
        checkpoint = checkpoint["model"]
    try:
        return load_matching_state_dict(model, checkpoint)
    except ValueError as err:
        raise ValueError(f"cannot load {path}: {err}") from err
