# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The peac_pretraining bundle, exported and run with ``monai.bundle`` for a few iterations on real radiographs:
training, resuming, inference, metadata."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, run, verify_metadata

from ld_monai.apps.bundles import export_bundle
from ld_monai.networks import PEACNet

from ..conftest import REPO

# a Swin of one block per stage on 64-px views (4 x 4 cells of 16 px), offsets up to 2 cells
TINY = {"embed_dim": 8, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 2, 2], "view_cells": 4, "max_offset": 2,
        "global_features": [16, 16], "local_features": [8, 8], "batch_size": 2, "epochs": 1, "warmup_epochs": 1,
        "val_fraction": 0.34, "num_workers": 0, "min_image_size": 64}
NETWORK = {k: TINY[k] for k in ("embed_dim", "depths", "num_heads", "global_features", "local_features")}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_bundle("peac_pretraining", tmp_path_factory.mktemp("zoo"))


@pytest.fixture
def radiographs(data_dir, tmp_path):
    folder = tmp_path / "radiographs"
    folder.mkdir()
    for path in sorted((data_dir / "xray" / "unlabeled" / "images").iterdir())[:6]:
        shutil.copy(path, folder / path.name)
    return folder


def run_config(exported, names, output_dir, **overrides):
    configs = exported / "configs"
    run(config_file=[str(configs / name) for name in names], meta_file=str(configs / "metadata.json"),
        logging_file=str(configs / "logging.conf"), bundle_root=str(exported), output_dir=str(output_dir),
        **{**TINY, **overrides})


def test_train_resume_and_infer_on_real_radiographs(exported, radiographs, tmp_path):
    out = tmp_path / "run"
    run_config(exported, ["train.json"], out, dataset_dir=str(radiographs))
    checkpoints = out / "checkpoints"
    final = torch.load(checkpoints / "checkpoint_final.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 2  # 4 training radiographs in batches of 2
    student = {k[len("student."):]: v for k, v in final["model"].items() if k.startswith("student.")}
    teacher = {k[len("teacher."):]: v for k, v in final["model"].items() if k.startswith("teacher.")}
    assert student.keys() == teacher.keys()
    assert any(not torch.equal(student[k], teacher[k]) for k in student)  # the teacher trails the student
    best = PEACNet(view_size=64, **NETWORK)
    best.load_state_dict(torch.load(checkpoints / "model.pt", weights_only=True))  # the teacher, loadable alone
    encoder = torch.load(checkpoints / "encoder.pt", weights_only=True)
    assert encoder["encoder_class"] == "ld_monai.networks.swin_tokens.SwinTokenEncoder" and encoder["in_channels"] == 1
    assert (out / "pictures" / "clusters_epoch001.png").is_file()  # the teacher's patch embeddings, every epoch

    run_config(exported, ["train.json"], out, dataset_dir=str(radiographs), epochs=2,
               resume=str(checkpoints / "checkpoint_final.pt"))
    assert torch.load(checkpoints / "checkpoint_final.pt", weights_only=True)["trainer"]["iteration"] == 4

    run_config(exported, ["inference.json"], out, dataset_dir=str(radiographs))
    for image in radiographs.iterdir():
        embedding = np.load(out / "inference" / f"{image.stem}_embedding.npy").astype(np.float32)
        assert embedding.shape[0] == 64 and min(embedding.shape[1:]) == 4  # 8 * embed_dim channels, the whole image
        np.testing.assert_allclose(np.linalg.norm(embedding, axis=0), 1.0, atol=2e-3)  # float16 unit vectors
        assert (out / "inference" / f"{image.stem}_overview.png").is_file()


def test_training_needs_a_folder(exported, tmp_path):
    with pytest.raises(RuntimeError) as failure:  # MONAI's config parser wraps the datalist's error
        run_config(exported, ["train.json"], tmp_path / "run")
    assert "give dataset_dir" in str(failure.value.__cause__)


def test_metadata_and_the_multi_gpu_override(data_dir, exported):
    schema = data_dir.parent / "monai" / "meta_schema_20240725.json"
    if not schema.is_file():
        pytest.skip(f"schema copy not found at {schema}")
    verify_metadata(meta_file=str(exported / "configs" / "metadata.json"), filepath=str(schema))
    parser = ConfigParser()
    parser.read_config([str(exported / "configs" / n) for n in ("train.json", "multi_gpu_train.json")])
    assert "DistributedDataParallel" in parser["student"] and parser["train#dataloader#sampler#shuffle"] is True
    assert (REPO / "bundles" / "peac_pretraining" / "docs" / "README.md").is_file()
