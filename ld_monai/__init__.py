# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""ld_monai: unsupervised local discrimination (LD) and PEAC for MONAI."""

__version__ = "0.1.0"

# bundle configs use ld_monai.<module>
from ld_monai import (  # noqa: E402,F401
    data, engines, handlers, inferers, layers, losses, metrics, networks, transforms, visualize,
)
