# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Label-free baselines of shape-guided segmentation (issue 19), which the LD shape prior must beat:

* :class:`HessianVesselFilter`: a classical vessel filter (Frangi or Sato) thresholded by Otsu inside the field of
  view.
"""

from __future__ import annotations

from .hessian_vessel_filter import HessianVesselFilter

__all__ = ["HessianVesselFilter"]
