# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Where the MONAI bundles of ld_monai are, and how to copy one out.

An installed wheel carries them as package data (``ld_monai/bundles/<name>``, see ``setup.py``); a source checkout
(editable install) has them in ``<repo>/bundles/<name>``. ``ld-monai bundle list`` and ``ld-monai bundle export``
use these functions.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

__all__ = ["bundles_root", "bundle_path", "list_bundles", "export_bundle", "bundle_kind", "BUNDLE_KINDS"]

#: what a bundle declares in ``metadata.json`` as ``ld_monai_kind``
BUNDLE_KINDS = ("pretraining", "segmentation", "landmark_detection")

_PACKAGE = Path(__file__).resolve().parents[1]


def _is_bundle(path: Path) -> bool:
    return (path / "configs" / "metadata.json").is_file()


def bundles_root() -> Path:
    """The folder holding the bundles: the wheel's package data, else the source checkout's ``bundles/``."""
    for root in (_PACKAGE / "bundles", _PACKAGE.parent / "bundles"):
        if root.is_dir() and any(_is_bundle(p) for p in root.iterdir()):
            return root
    raise FileNotFoundError(f"no MONAI bundles beside ld_monai ({_PACKAGE}): reinstall ld_monai (pip install .).")


def list_bundles() -> dict[str, str]:
    """``{name: version}`` of every bundle, sorted by name."""
    root = bundles_root()
    found = {}
    for path in sorted(root.iterdir()):
        if _is_bundle(path):
            found[path.name] = json.loads((path / "configs" / "metadata.json").read_text(encoding="utf-8"))["version"]
    return found


def bundle_path(name: str) -> Path:
    """The folder of bundle ``name``; ``FileNotFoundError`` naming the bundles there are otherwise."""
    path = bundles_root() / name
    if not _is_bundle(path):
        raise FileNotFoundError(f"no bundle {name!r}; the bundles are: {', '.join(list_bundles())}.")
    return path


def export_bundle(name: str, destination: str | os.PathLike) -> Path:
    """Copy bundle ``name`` to ``destination/<name>`` (which must not exist yet) and return that folder: a bundle
    folder that ``python -m monai.bundle run`` runs with ``--bundle_root`` set to it."""
    source = bundle_path(name)
    target = Path(destination) / name
    if target.exists():
        raise FileExistsError(f"{target} exists: export into another folder or remove it first.")
    shutil.copytree(source, target)
    return target


def bundle_kind(bundle_dir: str | os.PathLike) -> str:
    """The ``ld_monai_kind`` that a bundle folder declares in ``configs/metadata.json`` (one of
    :data:`BUNDLE_KINDS`); ``ValueError`` naming the file when it is missing or unknown."""
    path = Path(bundle_dir) / "configs" / "metadata.json"
    if not path.is_file():
        raise FileNotFoundError(f"{bundle_dir} is not a bundle folder: {path} does not exist.")
    kind = json.loads(path.read_text(encoding="utf-8")).get("ld_monai_kind")
    if kind not in BUNDLE_KINDS:
        raise ValueError(f"{path} declares ld_monai_kind {kind!r}; expected one of {', '.join(BUNDLE_KINDS)}.")
    return kind
