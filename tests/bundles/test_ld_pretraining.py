# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The ld_pretraining bundle, run with ``monai.bundle`` for a few iterations on real images."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image
from monai.bundle import ConfigParser, ConfigWorkflow, run, verify_metadata
from pydicom.uid import JPEG2000Lossless

from ld_monai.apps.bundles import export_bundle
from ld_monai.data import write_radiograph_dicom
from ld_monai.networks import LocalDiscriminationNet, VGGBNTinyEncoder

from ..conftest import REPO

BUNDLE = REPO / "bundles" / "ld_pretraining"
CONFIGS = BUNDLE / "configs"
TINY = {
    "image_size": 96,
    "crop_size": 64,
    "min_image_size": 64,
    "grid": [4, 4],
    "batch_size": 1,
    "epoch_length": 2,
    "pd_epochs": 1,
    "ld_epochs": 1,
    "num_val_items": 2,
    "num_picture_images": 2,
    "num_workers": 0,
    "compile": False,  # the compiled path is checked against eager in tests/engines/test_compiled_step.py
}


def in_place(*names: str) -> list[str]:
    """The config files that run ``names`` in the source folder: common.json under them (the export merges it)."""
    return [str(CONFIGS / name) for name in ("common.json", *names)]


def run_bundle(config_file, output_dir, bundle=BUNDLE, **overrides):
    run(
        config_file=config_file,
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=str(bundle / "configs" / "logging.conf"),
        bundle_root=str(bundle),
        output_dir=str(output_dir),
        **{**TINY, **overrides},
    )


def test_metadata_valid_against_2024_schema(data_dir, tmp_path):
    schema = data_dir.parent / "monai" / "meta_schema_20240725.json"
    if not schema.is_file():
        pytest.skip(f"schema copy not found at {schema}")
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(schema))
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    assert meta["version"] in meta["changelog"]


def test_train_config_has_monai_properties():
    workflow = ConfigWorkflow(config_file=in_place("train.json"), workflow_type="train")
    for key in ("bundle_root", "device", "dataset_dir", "train#trainer", "train#dataset", "train#inferer"):
        assert workflow.parser.get(key, "missing") != "missing", key
    assert workflow.parser.get("amp") == "$torch.cuda.is_available()"
    multi = ConfigParser()
    multi.read_config(in_place("train.json", "multi_gpu_train.json"))
    assert multi.get("train#dataloader#sampler#_target_") == "DistributedSampler"
    attach = multi.get("train#attach_handlers")
    assert "@train#main_process_handlers if dist.get_rank() == 0" in attach and "[:" not in attach  # by name
    writers = {"ld_monai.handlers.AtomicCheckpointSaver", "StatsHandler", "TensorBoardStatsHandler"}
    assert {h["_target_"] for h in multi.get("train#main_process_handlers")} == writers
    assert not writers & {h["_target_"] for h in multi.get("train#handlers") if isinstance(h, dict)}  # no writer
    assert multi.get("train#dataloader#batch_size") == "@batch_size"  # the rest of train.json is kept
    assert multi.get("train#handlers")[0] == "$ld_monai.handlers.local_discrimination_stages(@pd_epochs)"


def test_model_pt_keeps_the_lowest_validation_loss(tmp_path):
    """The bundle's model.pt saver, driven by an evaluator whose val_loss goes 3, 2, 1, 4: model.pt holds the
    weights of epoch 3 (the loss is lower-is-better: without key_metric_negative_sign it kept epoch 1)."""
    from ignite.engine import Engine, Events

    parser = ConfigParser()
    parser.read_config(in_place("train.json"))
    spec = next(h for h in parser.get("validate#handlers") if h.get("key_metric_filename") == "model.pt")
    net = torch.nn.Linear(1, 1)
    saver_spec = {**spec, "save_dir": str(tmp_path), "save_dict": {"model": net}}
    saver = ConfigParser({"saver": saver_spec}).get_parsed_content("saver")
    losses = [3.0, 2.0, 1.0, 4.0]
    evaluator = Engine(lambda engine, batch: None)

    @evaluator.on(Events.EPOCH_COMPLETED)
    def score(engine):  # the weights of epoch e are e; the saver runs after this handler
        net.bias.data.fill_(float(engine.state.epoch))
        engine.state.metrics["val_loss"] = losses[engine.state.epoch - 1]

    evaluator.state.key_metric_name = "val_loss"
    saver.attach(evaluator)
    evaluator.run([0], max_epochs=len(losses))
    assert float(torch.load(tmp_path / "model.pt", weights_only=True)["bias"]) == 3.0


def test_fundus_two_stages_on_drive_then_resume(data_dir, tmp_path):
    images = data_dir / "fundus" / "DRIVE" / "training" / "images"
    subset = tmp_path / "drive"
    subset.mkdir()
    for path in sorted(images.glob("*.tif"))[:3]:
        shutil.copy(path, subset / path.name)
    out = tmp_path / "run"
    run_bundle(in_place("train.json"), out, dataset_dir=str(subset))
    ckpt = out / "checkpoints"
    state = torch.load(ckpt / "model.pt", weights_only=True)
    net = LocalDiscriminationNet(in_channels=3)
    net.load_state_dict(state)  # the best model loads by name, strictly
    encoder = torch.load(ckpt / "encoder.pt", weights_only=True)
    VGGBNTinyEncoder(in_channels=3).load_state_dict(encoder["encoder"])
    final = torch.load(ckpt / "checkpoint_final.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4 and final["trainer"]["epoch_length"] == 2  # 2 epochs
    pictures = sorted((out / "pictures").glob("clusters_epoch*.png"))
    assert [p.name for p in pictures] == ["clusters_epoch001.png", "clusters_epoch002.png"]
    assert all(p.stat().st_size < 1 << 20 for p in pictures)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    # inference on a folder: embeddings, cluster maps and pictures per image
    exported = export_bundle("ld_pretraining", tmp_path / "zoo")  # its inference.json runs alone
    run_bundle(str(exported / "configs" / "inference.json"), out, bundle=exported, dataset_dir=str(subset),
               ckpt_path=str(ckpt / "model.pt"))
    written = out / "inference"
    for path in sorted(subset.iterdir()):
        embedding = np.load(written / f"{path.stem}_embedding.npy")
        assert embedding.shape == (32, 96, 96)
        np.testing.assert_allclose(np.linalg.norm(embedding.astype(np.float32), axis=0), 1, atol=2e-3)
        clusters = np.asarray(Image.open(written / f"{path.stem}_clusters.png"))
        assert clusters.shape == (96, 96) and clusters.max() < 16
        assert (written / f"{path.stem}_overview.png").stat().st_size < 1 << 20
    # resume: one more LD epoch continues from the saved trainer state
    run_bundle(in_place("train.json"), out, dataset_dir=str(subset), ld_epochs=2, resume=str(ckpt / "checkpoint_final.pt"))
    resumed = torch.load(ckpt / "checkpoint_final.pt", weights_only=True)
    assert resumed["trainer"]["iteration"] == 6 and resumed["trainer"]["max_epochs"] == 3


def test_settings_against_the_position_shortcut_run_on_drive(data_dir, tmp_path):
    """Every setting of issue 15 on at once (each is off in the paper's recipe): two epochs train and export."""
    subset = tmp_path / "drive"
    subset.mkdir()
    for path in sorted((data_dir / "fundus" / "DRIVE" / "training" / "images").glob("*.tif"))[:3]:
        shutil.copy(path, subset / path.name)
    out = tmp_path / "run"
    run_bundle(
        in_place("train.json"), out, dataset_dir=str(subset), batch_size=2, padding_mode="reflect",
        distinct_images=True, mirror=True, independent_crops=True, crop_scale=[0.5, 0.8], region_weight=1.0,
        repeated_image_negatives=False, border_margin=0.25,
    )
    final = torch.load(out / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4
    encoder = torch.load(out / "checkpoints" / "encoder.pt", weights_only=True)
    assert encoder["padding_mode"] == "reflect"


def test_chest_xray_variant(data_dir, tmp_path):
    """A folder mixing a PNG, a MONOCHROME1 JPEG 2000 DICOM without extension and a NIfTI, as hospitals have."""
    images = sorted((data_dir / "xray" / "cxr_lungs" / "images").iterdir())[:3]
    subset = tmp_path / "cxr"
    subset.mkdir()
    shutil.copy(images[0], subset / images[0].name)
    gray = np.asarray(Image.open(images[1]).convert("L"))
    write_radiograph_dicom(gray.astype(np.uint16) * 16, subset / "IM0001", modality="CR", photometric="MONOCHROME1",
                           window=(2048, 4096), transfer_syntax=JPEG2000Lossless)
    nib.save(nib.Nifti1Image(np.asarray(Image.open(images[2]).convert("L")), np.eye(4)), subset / "c.nii.gz")
    out = tmp_path / "run"
    run_bundle(in_place("train.json", "train_xray.json"), out, dataset_dir=str(subset))
    state = torch.load(out / "checkpoints" / "model.pt", weights_only=True)
    assert state["encoder.stages.0.0.conv.weight"].shape[1] == 1  # one input channel


def test_chest_xray_variant_refuses_other_modalities(data_dir, tmp_path):
    subset = tmp_path / "cxr"
    subset.mkdir()
    shutil.copy(data_dir / "dicom_nifti" / "dicom_pydicom_wheel" / "CT_small.dcm", subset / "CT_small.dcm")
    with pytest.raises(Exception) as info:
        run_bundle(in_place("train.json", "train_xray.json"), tmp_path / "run",
                   dataset_dir=str(subset))
    assert "CT_small.dcm" in str(root_cause(info.value)) and "Modality CT" in str(root_cause(info.value))
    assert not (tmp_path / "run" / "checkpoints").exists()


def root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


@pytest.mark.parametrize("problem", ["missing", "empty", "not_an_image", "too_small", "grayscale"])
def test_bad_input_names_the_problem_and_writes_nothing(tmp_path, problem):
    folder = tmp_path / "images"
    if problem != "missing":
        folder.mkdir()
    if problem == "not_an_image":
        (folder / "scan.png").write_text("not an image")
    if problem == "too_small":
        Image.new("RGB", (40, 50)).save(folder / "tiny.png")
    if problem == "grayscale":
        Image.new("L", (128, 128)).save(folder / "gray.png")
    out = tmp_path / "run"
    with pytest.raises(Exception) as caught:
        run_bundle(in_place("train.json"), out, dataset_dir=str(folder))
    message = str(root_cause(caught.value))
    expected = {"missing": "images", "empty": "images", "not_an_image": "scan.png", "too_small": "tiny.png",
                "grayscale": "gray.png"}[problem]
    assert expected in message
    assert not (out / "checkpoints").exists() and not (out / "tensorboard").exists()
