# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""MONAI's ``NibabelReader`` for 2-D radiographs stored as NIfTI (2-D, or a volume with one slice)."""

from __future__ import annotations

import numpy as np
from monai.data import NibabelReader
from monai.utils import MetaKeys

from ld_monai.data.radiograph_error import RadiographReadError

__all__ = ["NiftiRadiographReader"]


class NiftiRadiographReader(NibabelReader):
    """MONAI ``NibabelReader`` that accepts a 2-D image, or a 3-D/4-D one whose extra axes have length 1.

    Trailing length-1 axes are dropped (the 4x4 affine is kept, so spacing and orientation stay in the meta);
    any other volume raises :class:`RadiographReadError` naming the file and its shape. Array axis 0 is taken as
    the image rows, as numpy and nibabel save a (rows, columns) array. ``meta["xray_intensity"]`` is ``"raw"``:
    NIfTI has no display window, so the values are left for percentile normalisation.

    Example::

        LoadImage(image_only=True)("cxr.nii.gz", reader=NiftiRadiographReader())  # (rows, cols)
    """

    def get_data(self, img) -> tuple[np.ndarray, dict]:
        images = img if isinstance(img, (list, tuple)) else [img]
        names = [str(i.get_filename()) for i in images]
        array, meta = super().get_data(img)
        shape = tuple(int(s) for s in array.shape)
        if len(shape) < 2 or any(s != 1 for s in shape[2:]) or min(shape[:2]) < 1:
            raise RadiographReadError(
                f"{', '.join(names)}: a NIfTI of shape {shape}; expected a 2-D radiograph (rows, cols) or a volume "
                "with one slice."
            )
        array = array.reshape(shape[:2])
        meta[MetaKeys.SPATIAL_SHAPE] = np.asarray(shape[:2])
        meta["xray_intensity"] = "raw"
        return array, meta
