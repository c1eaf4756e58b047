# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The bundles ship with the package: listed, exported, run from the export, and inside a wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
import torch

from ld_monai.apps.bundles import bundle_kind, bundle_path, list_bundles
from ld_monai.apps.predict import predict
from ld_monai.apps.cli import main

from ..conftest import REPO

TINY = {"image_size": 96, "crop_size": 64, "min_image_size": 64, "grid": [4, 4], "epoch_length": 2, "pd_epochs": 1,
        "ld_epochs": 1, "num_val_items": 1, "num_workers": 0, "compile": False}


def test_list_names_every_bundle_with_its_version(capsys):
    expected = {p.name: json.loads((p / "configs" / "metadata.json").read_text())["version"]
                for p in (REPO / "bundles").iterdir()}
    assert list_bundles() == dict(sorted(expected.items()))
    assert main(["bundle", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{name} {version}" for name, version in sorted(expected.items())]
    with pytest.raises(FileNotFoundError, match="ld_pretraining"):
        bundle_path("no_such_bundle")


def test_every_bundle_declares_its_kind_and_predict_refuses_pretraining(tmp_path):
    kinds = {name: bundle_kind(bundle_path(name)) for name in list_bundles()}
    assert kinds == {"ld_pretraining": "pretraining", "lung_segmentation": "segmentation",
                     "oneshot_landmark_detection": "landmark_detection", "optic_disc_segmentation": "segmentation",
                     "peac_pretraining": "pretraining",
                     "retinal_vessel_segmentation": "segmentation",
                     **{f"shape_guided_{name}_segmentation": "shape_guided_segmentation"
                        for name in ("lung", "optic_disc", "vessel")}}
    with pytest.raises(ValueError, match="pretraining bundle"):
        predict(bundle_path("ld_pretraining"), [], tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="ld-monai bundle export shape_guided_lung_segmentation"):
        predict(bundle_path("shape_guided_lung_segmentation"), [], tmp_path / "out")  # the family's source
    (tmp_path / "odd" / "configs").mkdir(parents=True)
    (tmp_path / "odd" / "configs" / "metadata.json").write_text('{"version": "0.1.0"}')
    with pytest.raises(ValueError, match="ld_monai_kind None"):
        bundle_kind(tmp_path / "odd")
    with pytest.raises(FileNotFoundError, match="not a bundle folder"):
        bundle_kind(tmp_path)


def test_exported_bundle_runs_alone_with_monai_bundle(tmp_path, capsys):
    assert main(["bundle", "export", "ld_pretraining", str(tmp_path / "zoo")]) == 0
    exported = tmp_path / "zoo" / "ld_pretraining"
    assert sorted(p.name for p in (exported / "configs").iterdir()) == sorted(
        p.name for p in (REPO / "bundles" / "ld_pretraining" / "configs").iterdir() if p.name != "common.json")
    inference = json.loads((exported / "configs" / "inference.json").read_text())
    assert inference["network_def"]["_target_"] == "ld_monai.networks.LocalDiscriminationNet"  # runs alone
    assert main(["bundle", "export", "ld_pretraining", str(tmp_path / "zoo")]) == 1  # never overwrites
    assert "exists" in capsys.readouterr().err
    overrides = [arg for key, value in TINY.items() for arg in (f"--{key}", json.dumps(value))]
    subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(exported / "configs" / "train.json"),
         "--meta_file", str(exported / "configs" / "metadata.json"), "--bundle_root", str(exported),
         "--output_dir", str(tmp_path / "run"), *overrides],
        check=True, cwd=tmp_path, capture_output=True,
    )
    final = torch.load(tmp_path / "run" / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4


def test_wheel_carries_the_bundles_and_runs_the_demo(tmp_path):
    """``pip install .`` as a user does it: a wheel built from a copy of the sources and installed by pip into a
    folder of its own runs ``ld-monai demo`` and ``ld-monai bundle export`` (console script) with the bundles it
    carries."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    for folder in ("ld_monai", "bundles", "bundle_families"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("ld_monai-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for bundle in list_bundles():
        assert f"ld_monai/bundles/{bundle}/configs/metadata.json" in names
        assert f"ld_monai/bundles/{bundle}/docs/README.md" in names
    for path in (REPO / "bundle_families").rglob("*"):
        if path.is_file():
            assert f"ld_monai/bundle_families/{path.relative_to(REPO / 'bundle_families')}" in names
    # pip installs the wheel (its dependencies are this environment's) with the ld-monai console script
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import ld_monai; print(ld_monai.__file__)"], env=env, cwd=tmp_path,
                           check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(site)), where  # the installed copy, not the checkout
    overrides = [arg for key, value in TINY.items() for arg in ("-o", f"{key}={json.dumps(value)}")]
    ld_monai = [str(site / "bin" / "ld-monai")]
    subprocess.run(ld_monai + ["demo", "--output_dir", str(tmp_path / "demo"), *overrides], check=True, cwd=tmp_path,
                   env=env, capture_output=True)
    assert (tmp_path / "demo" / "checkpoints" / "encoder.pt").is_file()
    subprocess.run(ld_monai + ["bundle", "export", "lung_segmentation", str(tmp_path)], check=True, cwd=tmp_path,
                   env=env, capture_output=True)
    assert json.loads((tmp_path / "lung_segmentation" / "configs" / "inference.json").read_text())["modality"] == "xray"
