# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A trained bundle's files as the apps read them: a config file (with a hint for a family's source), the parsed
configs with settings, and the checkpoint to load."""

from __future__ import annotations

import os
from pathlib import Path

from monai.bundle import ConfigParser

__all__ = ["bundle_config_file", "bundle_parser", "find_checkpoint"]


def bundle_config_file(bundle: Path, name: str) -> Path:
    """``<bundle>/configs/<name>``; a clear error when it is missing (naming the export a family's source needs)."""
    path = bundle / "configs" / name
    if not path.is_file():
        hint = (f" It is the source of a bundle family: run `ld-monai bundle export {bundle.name} DIR` and use "
                f"DIR/{bundle.name}." if (bundle / "configs" / "task.json").is_file() else "")
        raise FileNotFoundError(f"{bundle}: not a bundle with inference ({path.name} is missing).{hint}")
    return path


def bundle_parser(bundle: Path, config_files: list[str], overrides: dict | None, device: str | None) -> ConfigParser:
    """The bundle's configs (and metadata) with ``bundle_root``, the overrides and the device set."""
    parser = ConfigParser()
    parser.read_config([str(bundle_config_file(bundle, name)) for name in config_files])
    parser.read_meta(str(bundle_config_file(bundle, "metadata.json")))
    parser["bundle_root"] = str(bundle)
    for key, value in (overrides or {}).items():
        parser[key] = value
    if device is not None:
        parser["device"] = f"$torch.device({device!r})"
    return parser


def find_checkpoint(bundle: Path, configured: str | None, checkpoint: str | os.PathLike | None) -> Path:
    """``checkpoint``, else ``<bundle>/models/model.pt``, else the bundle's ``checkpoint`` setting."""
    if checkpoint is not None:
        candidates = [Path(checkpoint)]
    else:
        candidates = [bundle / "models" / "model.pt"] + ([Path(configured)] if configured else [])
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"no checkpoint for {bundle.name}: looked for {', '.join(str(p) for p in candidates)}; train the bundle "
        "(for a landmark bundle: LD pretraining) or pass --checkpoint."
    )
