# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The network inside data-parallel wrappers, for handlers that read or export its parts."""

from __future__ import annotations

from torch import nn

__all__ = ["unwrap_network"]


def unwrap_network(network: nn.Module) -> nn.Module:
    """Return the module inside ``DataParallel`` / ``DistributedDataParallel`` wrappers (any depth)."""
    while isinstance(network, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        network = network.module
    return network
