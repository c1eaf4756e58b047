# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The tutorials stay runnable."""

from __future__ import annotations

import runpy
import sys

from PIL import Image

from .conftest import REPO


def test_ld_components_tutorial(tmp_path, monkeypatch, capsys):
    script = REPO / "tutorials" / "ld_components.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--output_dir", str(tmp_path), "--steps", "2", "--crop_size", "64"])
    runpy.run_path(str(script), run_name="__main__")
    assert "clusters in use" in capsys.readouterr().out
    for name in ("views.png", "clusters.png"):
        with Image.open(tmp_path / name) as picture:
            assert picture.width > 300
