# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Offline demo data: the real colour fundus photograph shipped with scikit-image.

``skimage.data.retina()`` is a 1411 x 1411 RGB fundus photograph of a normal left eye (Häggström 2014,
CC0, from Wikimedia Commons), installed with scikit-image, so demos and smoke tests of LD pretraining run
without a download.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from ld_monai.utils import atomic_write

__all__ = ["DEMO_FUNDUS_SIZE", "write_demo_fundus"]

#: (width, height) of ``skimage.data.retina()``.
DEMO_FUNDUS_SIZE = (1411, 1411)


def write_demo_fundus(out_dir: str | os.PathLike) -> Path:
    """Write scikit-image's fundus photograph as ``out_dir/retina.png`` and return ``out_dir``.

    The folder is created; the PNG is written atomically (temporary file + ``os.replace``) and not rewritten
    if a readable RGB ``retina.png`` of the right size is already there. The result is a one-image folder
    for :func:`ld_monai.data.image_folder_datalist`.

    Example::

        >>> folder = write_demo_fundus("/tmp/ld_demo")  # doctest: +SKIP
        >>> image_folder_datalist(folder)  # doctest: +SKIP
        [{'image': '/tmp/ld_demo/retina.png'}]
    """
    from PIL import Image

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    target = out / "retina.png"
    if target.is_file():
        try:
            with Image.open(target) as im:
                if im.size == DEMO_FUNDUS_SIZE and im.mode == "RGB":
                    return out
        except Exception:  # noqa: BLE001 - unreadable: rewrite it
            pass

    from skimage.data import retina

    pixels = retina()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    atomic_write(target, lambda f: f.write(buf.getvalue()))
    return out
