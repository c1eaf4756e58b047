# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The documentation site builds strictly: a broken link, a cross-reference or a docstring parameter that names
no argument fails the build (``mkdocs build --strict``: ``mkdocs.yml`` at the repository root)."""

from __future__ import annotations

import os
import subprocess
import sys

from ..conftest import REPO


def test_docs_site_builds_strictly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=REPO, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    for page in ("index.html", "api/losses/index.html", "model_cards/lung_segmentation/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    losses = (tmp_path / "site" / "api" / "losses" / "index.html").read_text()
    assert "LocalDiscriminationLoss" in losses and "border_margin" in losses  # rendered from the docstrings
