# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The one error the radiograph reading chain raises for a file it cannot use."""

from __future__ import annotations

__all__ = ["RadiographReadError"]


class RadiographReadError(ValueError):
    """A file is not a usable 2-D grayscale radiograph; the message names the file and says why.

    Raised by :class:`ld_monai.transforms.LoadRadiograph` (and its readers) for unreadable, truncated or corrupt
    files, undecodable pixel data, 3-D volumes and multi-frame DICOM, colour images, DICOM without pixel data,
    non-image DICOM (SR, RT, ...) and modalities other than projection radiography. It subclasses
    :class:`ValueError`, so code that already catches bad-input ``ValueError`` keeps working.
    """
