# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Write predicted 2-D masks as NIfTI (with the source image's geometry) and as PNG."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Hashable, Mapping

import nibabel as nib
import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from PIL import Image

from ld_monai.data.file_format import file_stem
from ld_monai.transforms.channels import source_name
from ld_monai.utils import atomic_write

__all__ = ["SaveMaskd", "nifti_affine"]


def nifti_affine(affine: torch.Tensor | np.ndarray) -> np.ndarray:
    """MONAI's (RAS) affine of a 2-D image, 3x3 or 4x4, as the 4x4 affine of a NIfTI file."""
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape == (4, 4):
        return affine
    if affine.shape != (3, 3):
        raise ValueError(f"expected a 3x3 or 4x4 affine, got shape {affine.shape}.")
    full = np.eye(4)
    full[:2, :2], full[:2, 3] = affine[:2, :2], affine[:2, 2]
    return full


class SaveMaskd(MapTransform):
    """Save each key, a (1, H, W) uint8 label map (0 = background, 1..K), as ``<stem>_mask.nii.gz`` and
    ``<stem>_mask.png`` in ``output_dir`` (``stem``: the source file's name without extension).

    The NIfTI keeps the values and the mask's affine (after ``Invertd``: the input image's), so it overlays the
    source in any NIfTI viewer; the PNG scales value k to ``k * (255 // num_structures)`` so that it is visible.
    Both are written atomically. MONAI 1.6.1's ``SaveImage`` cannot write a 2-D array without resampling (its
    writers pass ``spatial_size=None`` to ``spatial_resample``, which fails), hence this small writer.
    """

    def __init__(self, keys: KeysCollection, output_dir: str | os.PathLike, num_structures: int = 1) -> None:
        super().__init__(keys)
        if num_structures < 1:
            raise ValueError(f"num_structures must be >= 1, got {num_structures}.")
        self.output_dir = os.fspath(output_dir)
        self.png_step = 255 // num_structures

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            mask = d[key]
            if not isinstance(mask, MetaTensor) or mask.ndim != 3 or mask.shape[0] != 1:
                raise ValueError(f"{source_name(mask)}: expected a (1, H, W) MetaTensor label map for {key!r}.")
            stem = file_stem(str(mask.meta.get("filename_or_obj", key)))
            values = mask[0].cpu().numpy().astype(np.uint8)
            nifti = nib.Nifti1Image(values, nifti_affine(mask.affine))
            base = os.path.join(self.output_dir, f"{stem}_mask")
            atomic_write(base + ".nii.gz", lambda f: f.write(gzip.compress(nifti.to_bytes())))
            png = io.BytesIO()
            Image.fromarray(values * np.uint8(self.png_step)).save(png, format="PNG")
            atomic_write(base + ".png", lambda f: f.write(png.getvalue()))
        return d
