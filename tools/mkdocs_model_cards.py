# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""MkDocs hook: every bundle's model card (``bundles/<name>/docs/README.md``) becomes the page
``model_cards/<name>.md`` of the documentation site, its links to ``docs/`` rewritten for the site."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def on_files(files: Files, config) -> Files:
    for card in sorted(BUNDLES.glob("*/docs/README.md")):
        text = card.read_text(encoding="utf-8").replace("../../../docs/", "../")
        files.append(File.generated(config, f"model_cards/{card.parents[1].name}.md", content=text))
    return files
