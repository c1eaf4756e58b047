# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The three shape-guided bundles, exported from their family (which builds on ld_pretraining), each trained for a
few iterations on real images with its real prior (the research code's adversarial prior and the KL prior), then
evaluated, run for masks and refined."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import run, verify_metadata
from PIL import Image

from ld_monai.apps.bundles import bundle_configs, export_bundle
from ld_monai.apps.predict import predict
from ld_monai.apps.prepare import prepare_dataset

from ..conftest import REPO

TINY = {"image_size": 192, "crop_size": 160, "min_image_size": 64, "grid": [4, 4], "batch_size": 1,
        "epoch_length": 2, "pd_epochs": 1, "ld_epochs": 1, "num_val_items": 1, "num_picture_images": 1,
        "num_workers": 0, "compile": False}
# bundle: (image folder, images, prior folder under the data, evaluation set as ld-monai prepare names it, its folder)
BUNDLES = {
    "shape_guided_vessel_segmentation": ("fundus/DRIVE/training/images", 3, "fundus/shape_priors/OCTA_vessel_masks",
                                         "drive", "fundus/DRIVE"),
    "shape_guided_optic_disc_segmentation": ("fundus/Drishti-GS1/Training/images", 3, None, "drishti_gs1",
                                             "fundus/Drishti-GS1"),
    "shape_guided_lung_segmentation": ("xray/cxr_lungs/images", 3, "xray/SCR_annotations", "cxr_lungs",
                                       "xray/cxr_lungs"),
}


def few_files(source: Path, target: Path, count: int, pattern: str = "*") -> Path:
    target.mkdir(parents=True)
    for path in sorted(p for p in source.glob(pattern) if p.is_file())[:count]:
        shutil.copy(path, target / path.name)
    return target


def prior_folder(data_dir: Path, prior: str | None, tmp_path: Path) -> str | None:
    """A few of the real prior masks (the SCR lungs keep their masks/<side> layout)."""
    if prior is None:
        return None
    if prior.endswith("SCR_annotations"):
        for side in ("left_lung", "right_lung"):
            few_files(data_dir / prior / "masks" / side, tmp_path / "scr" / "masks" / side, 3)
        return str(tmp_path / "scr")
    return str(few_files(data_dir / prior, tmp_path / "prior", 3))


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bundles")
    return {bundle: export_bundle(bundle, folder) for bundle in BUNDLES}


@pytest.mark.parametrize("bundle, prior", [(b, "adversarial") for b in sorted(BUNDLES)]
                         + [("shape_guided_optic_disc_segmentation", "kl"),
                            ("shape_guided_lung_segmentation", "wasserstein")])
def test_train_on_real_images_with_the_real_prior(bundle, prior, exported, data_dir, tmp_path):
    images, count, prior_source, evaluation_set, evaluation_folder = BUNDLES[bundle]
    dataset = few_files(data_dir / images, tmp_path / "images", count)
    configs = exported[bundle] / "configs"
    settings = dict(meta_file=str(configs / "metadata.json"), logging_file=str(configs / "logging.conf"),
                    bundle_root=str(exported[bundle]), output_dir=str(tmp_path / "run"), dataset_dir=str(dataset),
                    prior=prior, prior_dir=prior_folder(data_dir, prior_source, tmp_path), **TINY)
    run(config_file=str(configs / "train.json"), **settings)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "checkpoint_final.pt", weights_only=True)
    assert checkpoint["trainer"]["iteration"] == 4  # two iterations of each stage: the prior acts in the second
    assert ("discriminator" in checkpoint) == ("discriminator_optimizer" in checkpoint) == (prior == "adversarial")
    assert checkpoint["model"]["clustering_head.1.weight"].shape[0] == 8  # the research code's 8 clusters
    assert (tmp_path / "run" / "checkpoints" / "model.pt").is_file()
    polarity_file = tmp_path / "run" / "checkpoints" / "polarity.json"  # the polarity decision, taken after training
    decision = json.loads(polarity_file.read_text())
    assert decision["polarity"] in ("cluster", "complement") and decision["images"] == 1
    assert 0 < decision["prior_fraction"] < 1 and 0 <= decision["cluster_fraction"] <= 1
    if prior != "adversarial":
        return
    polarity_file.unlink()  # a model trained before the decision existed: take it alone, with the same result
    run("decide_polarity", config_file=str(configs / "train.json"), **settings)
    assert json.loads(polarity_file.read_text()) == decision
    datalist = prepare_dataset(evaluation_set, data_dir / evaluation_folder, tmp_path / "data")
    run(config_file=[str(configs / "train.json"), str(configs / "evaluate.json")], datalist_file=str(datalist),
        test_time_flips=True, cluster_polarity="prior", **settings)
    structure = {"shape_guided_vessel_segmentation": "vessel", "shape_guided_optic_disc_segmentation": "disc",
                 "shape_guided_lung_segmentation": "lung"}[bundle]
    n_test = len(json.loads(datalist.read_text())["test"])
    for folder in ("eval_test", "eval_test/native"):
        summary = json.loads((tmp_path / "run" / folder / "metrics_summary.json").read_text())
        assert summary["num_images_scored"] == n_test and list(summary["dice"]) == [structure]
        assert 0 <= summary["dice"][structure]["mean"] <= 1
        assert ("auc" in summary) == (bundle == "shape_guided_vessel_segmentation")
    run(config_file=str(configs / "inference.json"), cluster_polarity="prior", **settings)  # the training images' masks
    for image in sorted(dataset.iterdir()):
        mask = np.asarray(Image.open(tmp_path / "run" / "predictions" / f"{image.stem}_mask.png"))
        assert mask.shape == np.asarray(Image.open(image)).shape[:2] and set(np.unique(mask)) <= {0, 1}
        assert (tmp_path / "run" / "predictions" / f"{image.stem}_overlay.png").is_file()
    image = next(iter(sorted(dataset.iterdir())))  # ld-monai predict runs the same config on one clinical file
    summary = predict(exported[bundle], image, tmp_path / "predict", device="cpu",
                      overrides={"output_dir": str(tmp_path / "run"), "cluster_polarity": "prior"})
    assert not summary.failed and sorted(Path(p).name for p in summary.succeeded[str(image)]) == [
        f"{image.stem}_mask.nii.gz", f"{image.stem}_mask.png", f"{image.stem}_overlay.png"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "predict" / f"{image.stem}_mask.png")),
                          np.asarray(Image.open(tmp_path / "run" / "predictions" / f"{image.stem}_mask.png")))


def test_refinement_trains_a_segmentation_bundle_on_the_pseudo_labels(exported, data_dir, tmp_path):
    """The refinement (A8.2 (b)) as a user runs it: pseudo_labels.json labels the pretraining's own images, then
    the bundle that the metadata names trains on them with the certainty weights and is scored on a real test
    split."""
    bundle = "shape_guided_optic_disc_segmentation"
    images, count, _, evaluation_set, evaluation_folder = BUNDLES[bundle]
    dataset = few_files(data_dir / images, tmp_path / "images", count)
    configs = exported[bundle] / "configs"
    settings = dict(meta_file=str(configs / "metadata.json"), logging_file=str(configs / "logging.conf"),
                    bundle_root=str(exported[bundle]), output_dir=str(tmp_path / "run"), dataset_dir=str(dataset),
                    prior="kl", **TINY)
    run(config_file=str(configs / "train.json"), **settings)
    run(config_file=[str(configs / "train.json"), str(configs / "pseudo_labels.json")], **settings)
    pseudo = json.loads((tmp_path / "run" / "pseudo_labels" / "datalist.json").read_text())
    assert sorted(len(pseudo[split]) for split in ("training", "validation")) == [1, 2]  # the pretraining's split
    refinement = json.loads((configs / "metadata.json").read_text())["ld_monai_refinement"]
    segmentation = export_bundle(refinement["bundle"], tmp_path / "refined_bundle") / "configs"
    common = dict(meta_file=str(segmentation / "metadata.json"), logging_file=str(segmentation / "logging.conf"),
                  bundle_root=str(segmentation.parent), output_dir=str(tmp_path / "refined"), image_size=64,
                  batch_size=2, frozen_epochs=1, fine_epochs=1, num_workers=0, cache_rate=0.0,
                  pretrained_encoder=str(tmp_path / "run" / "checkpoints" / "encoder.pt"), **refinement["settings"])
    run(config_file=str(segmentation / "train.json"),
        datalist_file=str(tmp_path / "run" / "pseudo_labels" / "datalist.json"), **common)
    datalist = prepare_dataset(evaluation_set, data_dir / evaluation_folder, tmp_path / "data")
    run(config_file=[str(segmentation / "train.json"), str(segmentation / "evaluate.json")],
        datalist_file=str(datalist), **common)
    summary = json.loads((tmp_path / "refined" / "eval_test" / "native" / "metrics_summary.json").read_text())
    assert summary["num_images_scored"] == len(json.loads(datalist.read_text())["test"])
    assert list(summary["dice"]) == ["disc"] and 0 <= summary["dice"]["disc"]["mean"] <= 1


def test_family_builds_on_ld_pretraining_without_copies(data_dir, tmp_path):
    """The family holds overrides only: its train.json is ld_pretraining's with the shape-guided trainer, the prior
    transform after the views, and the discriminator in the checkpoints; the metadata verifies."""
    base = bundle_configs("ld_pretraining")["train.json"]
    for bundle in BUNDLES:
        configs = bundle_configs(bundle)
        assert "train_xray.json" not in configs
        train = configs["train.json"]
        assert train["train"]["trainer"]["_target_"] == "ld_monai.engines.ShapeGuidedTrainer"
        assert train["train"]["dataset"]["transform"] == "$monai.transforms.Compose([@views, @prior_masks])"
        assert train["train"]["handlers"][3]["_target_"] == "CheckpointLoader"
        assert train["train"]["handlers"][3]["load_dict"] == train["train"]["main_process_handlers"][0]["save_dict"] \
            == "@training_state"
        assert train["num_clusters"] == 8 and train["validate"] == base["validate"]
        schema = data_dir.parent / "monai" / "meta_schema_20240725.json"
        if schema.is_file():
            path = tmp_path / f"{bundle}_metadata.json"
            path.write_text(json.dumps(configs["metadata.json"]))
            verify_metadata(meta_file=str(path), filepath=str(schema))
    family = REPO / "bundle_families" / "shape_guided" / "configs" / "train.json"
    assert len(json.loads(family.read_text())) < 30  # overrides, not a copy of ld_pretraining's 260 lines
