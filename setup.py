# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Metadata and dependencies are in setup.cfg; this file only ships the top-level ``bundles/`` and ``bundle_families/``
folders inside the package as ``ld_monai/bundles`` and ``ld_monai/bundle_families`` (package data), so that an
installed wheel carries its MONAI bundles and the family configs they are exported from."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["ld_monai*"]) + ["ld_monai.bundles", "ld_monai.bundle_families"],
    package_dir={"ld_monai.bundles": "bundles", "ld_monai.bundle_families": "bundle_families"},
    package_data={"ld_monai.bundles": ["*/LICENSE", "*/configs/*", "*/docs/*"],
                  "ld_monai.bundle_families": ["*/configs/*"]},
)
