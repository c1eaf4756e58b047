# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Shared fixtures: the real data of ``LD_MONAI_DATA_DIR`` (required in CI, skipped locally when unset)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``LD_MONAI_DATA_DIR`` (e.g. ``../shared/data``). In CI (``CI`` set) a missing directory is an error."""
    value = os.environ.get("LD_MONAI_DATA_DIR")
    if not value or not Path(value).is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"LD_MONAI_DATA_DIR must point at the real data in CI, got {value!r}.")
        pytest.skip("LD_MONAI_DATA_DIR is not set: real-data test skipped.")
    return Path(value)
