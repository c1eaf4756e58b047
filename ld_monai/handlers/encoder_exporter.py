# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Export the pretrained LD encoder alone, for transfer to segmentation.

After local-discrimination pretraining (Chen et al., arXiv 2108.09440) only the encoder is transferred to the
downstream segmentation network. MONAI's ``CheckpointSaver`` saves whole modules and optimisers; this handler
writes the small, self-describing file the transfer step needs, which loads with ``weights_only=True``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from torch import nn

from ld_monai.networks.unwrap import unwrap_network
from ld_monai.utils import atomic_torch_save

__all__ = ["EncoderExporter"]

logger = logging.getLogger(__name__)


def _in_channels(network: nn.Module, encoder: nn.Module) -> int:
    for owner in (network, encoder):
        value = getattr(owner, "in_channels", None)
        if isinstance(value, int):
            return value
    for m in encoder.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return int(m.in_channels)
    raise ValueError(f"cannot tell the input channels of encoder {type(encoder).__name__}: give it `in_channels`.")


class EncoderExporter:
    """Ignite handler saving ``network.encoder``'s weights, atomically, at ``event``.

    The file holds only tensors, strings and ints, so it loads with ``torch.load(path, weights_only=True)``::

        {"encoder": encoder state dict (CPU tensors), "encoder_class": "ld_monai.networks.vgg_bn_tiny.VGGBNTinyEncoder",
         "in_channels": 3, "out_channels": [16, 32, 64, 128, 128] (if the encoder has it),
         "padding_mode": "reflect" (if the network has it), "epoch": 7}

    The state dict loads by name into a fresh encoder of that class (``load_state_dict(..., strict=True)``)
    or into a segmentation network with :func:`ld_monai.networks.load_matching_state_dict`. The file is
    overwritten at each event (use ``"{epoch}"`` in ``filename`` to keep one per epoch); in distributed
    runs only rank 0 writes. The written path is logged at INFO and kept in ``self.last_path``.

    Args:
        save_dir: output folder (created).
        network: the LD network (with an ``encoder`` attribute); default ``engine.network`` (MONAI engines
            have it). DataParallel / DDP wrappers are unwrapped.
        filename: file name in ``save_dir``, may contain ``{epoch}``.
        event: Ignite event name (``"EPOCH_COMPLETED"``, ``"COMPLETED"``, ...) or an ``Events`` value
            (e.g. ``Events.EPOCH_COMPLETED(every=10)``).
        only_on_best: attached to a MONAI evaluator, export only when its key metric just improved
            (``state.best_metric_epoch == state.epoch``), so the file holds the encoder of the best model.

    Example::

        >>> EncoderExporter("./runs/ld_fundus").attach(trainer)  # doctest: +SKIP
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        network: nn.Module | None = None,
        filename: str = "encoder.pt",
        event: Any = "EPOCH_COMPLETED",
        only_on_best: bool = False,
    ) -> None:
        from ignite.engine import Events

        self.save_dir = Path(save_dir)
        self.network = network
        self.filename = filename
        self.event = Events[event.upper()] if isinstance(event, str) else event
        self.only_on_best = only_on_best
        self.last_path: Path | None = None

    def attach(self, engine: Any) -> None:
        """Register the export on ``engine`` at ``event``."""
        if not engine.has_event_handler(self, self.event):
            engine.add_event_handler(self.event, self)

    def __call__(self, engine: Any) -> None:
        import ignite.distributed as idist

        if idist.get_rank() != 0:
            return
        if self.only_on_best and getattr(engine.state, "best_metric_epoch", None) != engine.state.epoch:
            return
        network = self.network if self.network is not None else getattr(engine, "network", None)
        if network is None:
            raise ValueError("EncoderExporter: no `network` given and the engine has no `network` attribute.")
        network = unwrap_network(network)
        encoder = getattr(network, "encoder", None)
        if not isinstance(encoder, nn.Module):
            raise ValueError(f"EncoderExporter: {type(network).__name__} has no `encoder` module to export.")
        epoch = int(engine.state.epoch)
        payload: dict[str, Any] = {
            "encoder": {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()},
            "encoder_class": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
            "in_channels": _in_channels(network, encoder),
            "epoch": epoch,
        }
        out_channels = getattr(encoder, "out_channels", None)
        if isinstance(out_channels, (tuple, list)) and all(isinstance(c, int) for c in out_channels):
            payload["out_channels"] = [int(c) for c in out_channels]
        padding_mode = getattr(network, "padding_mode", None)
        if isinstance(padding_mode, str):
            payload["padding_mode"] = padding_mode
        path = atomic_torch_save(payload, self.save_dir / self.filename.format(epoch=epoch))
        self.last_path = path
        logger.info("epoch %d: saved encoder (%s) to %s", epoch, payload["encoder_class"], path)
