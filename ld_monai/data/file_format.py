# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Recognise DICOM and NIfTI files and name outputs after their inputs.

DICOM files often have no extension, or a UID for a name (``1.2.840.113619.2.55.3.6``), so they are recognised
by content: the ``DICM`` magic after the 128-byte preamble (DICOM PS3.10, section 7.1).
"""

from __future__ import annotations

import os

__all__ = ["IMAGE_EXTENSIONS", "is_dicom_file", "is_nifti_path", "file_stem"]

#: file extensions of images (matched case-insensitively): what folders are searched for and what
#: :func:`file_stem` strips
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".bmp",
    ".gif",
    ".dcm",
    ".nii",
    ".nii.gz",
)


def is_dicom_file(path: str | os.PathLike) -> bool:
    """True if ``path`` is a file that starts with a DICOM PS3.10 preamble and the ``DICM`` magic."""
    try:
        with open(path, "rb") as f:
            header = f.read(132)
    except OSError:
        return False
    return len(header) == 132 and header[128:] == b"DICM"


def is_nifti_path(path: str | os.PathLike) -> bool:
    """True if the file name ends with ``.nii`` or ``.nii.gz`` (case-insensitive)."""
    name = os.fspath(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def file_stem(path: str | os.PathLike) -> str:
    """The file name without a known image suffix: ``a/b.nii.gz`` -> ``b``, ``1.2.840.5`` -> ``1.2.840.5``.

    Unlike ``name.split(".")[0]``, DICOM files named by their UID keep their whole (unique) name.
    """
    name = os.path.basename(os.fspath(path))
    lower = name.lower()
    for suffix in sorted(IMAGE_EXTENSIONS, key=len, reverse=True):  # ".nii.gz" before ".nii"
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
