# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Small helpers shared across ld_monai: atomic file writes (checkpoints, pictures, demo data)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

__all__ = ["atomic_write", "atomic_torch_save", "atomic_write_json"]


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file atomically: ``write(f)`` fills a temporary file next to ``path``, which then replaces it.

    The temporary file lives in the destination directory (so :func:`os.replace` stays on one file system
    and is atomic), is flushed and fsync'ed before the rename, and is removed if ``write`` raises; an
    existing ``path`` is then left untouched. Parent directories are created. The file gets the usual
    permissions (the process umask applies), unlike :func:`tempfile.mkstemp`'s private 0600.

    Returns:
        the destination as a :class:`pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` without ever leaving a half-written ``path`` (see :func:`atomic_write`).

    Args:
        obj: anything ``torch.save`` accepts. Keep it to tensors, containers, str, int, float and bool so that
            the file loads with ``torch.load(path, weights_only=True)``.
        path: destination file; parent directories are created.

    Returns:
        the destination as a :class:`pathlib.Path`.

    Example::

        >>> atomic_torch_save({"w": torch.zeros(2)}, "/tmp/ckpt/model.pt")
        PosixPath('/tmp/ckpt/model.pt')
    """
    return atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_json(path: str | os.PathLike, record: Any) -> Path:
    """Write ``record`` as indented JSON (a results file of record), atomically (:func:`atomic_write`)."""
    text = json.dumps(record, indent=1) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))
