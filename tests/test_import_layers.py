# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The package's layers point one way: the import graph between ld_monai's subpackages has no cycle, nothing below
``ld_monai.apps`` imports it, and ``import ld_monai`` loads none of the heavy optional dependencies."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict

from .conftest import REPO


def subpackage_imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in (REPO / "ld_monai").rglob("*.py"):
        parts = path.relative_to(REPO / "ld_monai").parts
        source = parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")
        for target in re.findall(r"^\s*(?:from|import) ld_monai\.(\w+)", path.read_text(), re.M):
            if target != source:
                edges[source].add(target)
    return edges


def test_subpackages_form_layers_without_cycles():
    edges = subpackage_imports()

    def below(name: str, seen: set[str]) -> set[str]:
        for target in edges.get(name, ()):
            if target not in seen:
                seen.add(target)
                below(target, seen)
        return seen

    assert [name for name in edges if name in below(name, set())] == []
    assert [name for name in edges if "apps" in edges[name]] == []  # the library knows nothing of the apps


def test_import_loads_no_optional_heavy_dependency():
    """(scikit-image is not checked: MONAI itself imports it when present.)"""
    code = ("import sys, ld_monai; heavy = [m for m in ('highdicom', 'ld_monai.apps', 'mkdocs') "
            "if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"
