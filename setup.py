# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Metadata and dependencies are in setup.cfg; this file only ships the top-level ``bundles/`` folder inside the
package as ``ld_monai/bundles`` (package data), so that an installed wheel carries its MONAI bundles."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["ld_monai*"]) + ["ld_monai.bundles"],
    package_dir={"ld_monai.bundles": "bundles"},
    package_data={"ld_monai.bundles": ["*/LICENSE", "*/configs/*", "*/docs/*", "families/*/LICENSE",
                                       "families/*/configs/*"]},
)
