# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""ld_monai: unsupervised local discrimination (LD) and PEAC for MONAI."""

__version__ = "0.1.0"

from ld_monai import data, engines, handlers, layers, losses, metrics, networks, transforms, visualize  # noqa: E402,F401  (bundle configs use ld_monai.<module>)
