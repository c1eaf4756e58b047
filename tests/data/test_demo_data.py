# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Tests of ld_monai.data.demo_data."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage.data import retina

from ld_monai.data import image_folder_datalist, write_demo_fundus


def test_write_demo_fundus(tmp_path):
    out = write_demo_fundus(tmp_path / "demo" / "fundus")
    path = out / "retina.png"
    assert out == tmp_path / "demo" / "fundus" and path.is_file()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (1411, 1411)
        pixels = np.asarray(im)
    np.testing.assert_array_equal(pixels, retina())
    assert [p.name for p in out.iterdir()] == ["retina.png"]  # no temporary file left
    assert image_folder_datalist(out) == [{"image": str(path.resolve())}]

    # an existing good file is kept, a broken one is rewritten
    mtime = path.stat().st_mtime_ns
    write_demo_fundus(out)
    assert path.stat().st_mtime_ns == mtime
    path.write_bytes(b"broken")
    write_demo_fundus(out)
    with Image.open(path) as im:
        assert im.size == (1411, 1411)
