# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Where the MONAI bundles of ld_monai are, and how to copy one out as a standalone MONAI bundle.

An installed wheel carries them as package data (``ld_monai/bundles/<name>``, see ``setup.py``); a source checkout
(editable install) has them in ``<repo>/bundles/<name>``. ``ld-monai bundle list`` and ``ld-monai bundle export``
use these functions.

A bundle's ``configs/common.json`` holds the settings that its ``train.json`` and ``inference.json`` share (e.g.
``ld_pretraining``'s network and data); :func:`export_bundle` writes each of the two with them, so that both run
alone (in place they run on top of it: ``--config_file "['configs/common.json','configs/train.json']"``).

Bundles of one family (``"ld_monai_family"`` in their ``metadata.json``, e.g. the three segmentation bundles) hold
only what makes them differ: ``configs/task.json`` (modality, structures, image size, epochs, ...), their part of
``metadata.json`` and their model card. The family (``bundle_families/<family>/``, beside ``bundles/``) holds the configs written once.
:func:`export_bundle` composes the two into what the MONAI model zoo expects of a bundle:

* ``train.json`` and ``inference.json`` run alone: the family's ``common.json``, then the family's file, then the
  task keys that the config uses (defines, or references as ``@key``);
* the other configs (``evaluate.json``, ``multi_gpu_train.json``) are merged on top of ``train.json`` at run time,
  as in the model zoo: the family's file plus the task keys it uses that ``train.json`` does not carry;
* ``metadata.json``: the family's, updated with the bundle's (dictionaries merged, lists extended), with the
  ``network_data_format`` derived from the task (channels from the modality and the structures, spatial shape from
  the image size);
* every other file (licence, logging configuration, model card): the family's, then the bundle's.

A family may build on a bundle (``"ld_monai_extends": "<bundle>"`` in the family's ``metadata.json``, e.g. the
shape-guided family on ``ld_pretraining``): its configs are then overrides of that bundle's composed configs, merged
as MONAI merges config files (a ``#`` path such as ``"train#trainer#_target_"`` replaces one entry), the family's
``common.json`` on top of both ``train.json`` and ``inference.json``; configs the family does not have are the
bundle's, except those listed in ``"ld_monai_extends_without"``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

from monai.bundle import ConfigParser

from ld_monai.transforms.fundus_contrast import fundus_contrast_channels

__all__ = [
    "bundles_root", "bundle_path", "list_bundles", "export_bundle", "bundle_configs", "bundle_kind", "BUNDLE_KINDS",
    "RUNS_ALONE",
]

#: what a bundle declares in ``metadata.json`` as ``ld_monai_kind``
BUNDLE_KINDS = ("pretraining", "segmentation", "landmark_detection", "shape_guided_segmentation")

#: the configs that run alone (the others are merged on top of one of them), as in the model zoo
RUNS_ALONE = ("train.json", "inference.json")
_PACKAGE = Path(__file__).resolve().parents[1]


def _is_bundle(path: Path) -> bool:
    return (path / "configs" / "metadata.json").is_file()


def bundles_root() -> Path:
    """The folder holding the bundles: the wheel's package data, else the source checkout's ``bundles/``."""
    for root in (_PACKAGE / "bundles", _PACKAGE.parent / "bundles"):
        if root.is_dir() and any(_is_bundle(p) for p in root.iterdir()):
            return root
    raise FileNotFoundError(f"no MONAI bundles beside ld_monai ({_PACKAGE}): reinstall ld_monai (pip install .).")


def list_bundles() -> dict[str, str]:
    """``{name: version}`` of every bundle, sorted by name."""
    root = bundles_root()
    found = {}
    for path in sorted(root.iterdir()):
        if _is_bundle(path):
            found[path.name] = json.loads((path / "configs" / "metadata.json").read_text(encoding="utf-8"))["version"]
    return found


def bundle_path(name: str) -> Path:
    """The folder of bundle ``name``; ``FileNotFoundError`` naming the bundles there are otherwise."""
    path = bundles_root() / name
    if not _is_bundle(path):
        raise FileNotFoundError(f"no bundle {name!r}; the bundles are: {', '.join(list_bundles())}.")
    return path


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _family_dir(source: Path) -> Path | None:
    """The family folder of the source of a family member (``bundle_families/<family>`` beside the bundles), else
    None."""
    family = _read(source / "configs" / "metadata.json").get("ld_monai_family")
    if family is None:
        return None
    path = source.parent.parent / "bundle_families" / family
    if not (path / "configs" / "common.json").is_file():
        raise FileNotFoundError(f"{source.name} belongs to family {family!r}, but {path}/configs/common.json is "
                                "missing.")
    return path


def _uses(config: dict, key: str) -> bool:
    """Whether ``config`` defines ``key`` or refers to it (``@key``, ``@key#...``)."""
    return key in config or re.search(rf"@{re.escape(key)}(?![\w])", json.dumps(config)) is not None


def _override(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied as MONAI merges config files: a key replaces the base's, a ``#`` path
    (``"train#trainer#_target_"``) replaces one entry inside it."""
    parser = ConfigParser(copy.deepcopy(base))
    parser.update(copy.deepcopy(overrides))
    return parser.get()


def _merge_metadata(family: dict, bundle: dict) -> dict:
    merged = copy.deepcopy(family)
    for key, value in bundle.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_metadata(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + value
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _network_data_format(metadata: dict, task: dict) -> dict:
    """The family's ``network_data_format`` completed from the task: input channels and value range by modality
    (the green channel alone under a green ``fundus_contrast``), one output channel per structure, both at
    ``image_size``."""
    shape = [task["image_size"], task["image_size"]]
    modality = metadata.pop("input_by_modality")[task["modality"]]
    formats = metadata["network_data_format"]
    image, pred = formats["inputs"]["image"], formats["outputs"]["pred"]
    if task.get("fundus_contrast") and fundus_contrast_channels(task["fundus_contrast"]) == 1:
        modality = {**modality, "format": "green channel", "channel_def": {"0": "G"}}
    image.update(modality, num_channels=len(modality["channel_def"]), spatial_shape=shape)
    pred.update(num_channels=len(task["structures"]), spatial_shape=shape,
                channel_def={str(k): name for k, name in enumerate(task["structures"])})
    return metadata


def bundle_configs(name: str) -> dict[str, dict]:
    """The configs of bundle ``name`` as a standalone bundle has them: ``{file name: content}`` of every ``.json`` in
    its ``configs/`` (``metadata.json`` included). A family member's are composed as the module docstring says;
    ``ValueError`` when a task key is used by no config of the family (a typo would otherwise be silently ignored).
    """
    source = bundle_path(name)
    family = _family_dir(source)
    folder = (family or source) / "configs"
    common = _read(folder / "common.json") if (folder / "common.json").is_file() else {}
    family_metadata = _read(folder / "metadata.json") if family else {}
    extends, without = family_metadata.get("ld_monai_extends"), family_metadata.get("ld_monai_extends_without", [])
    configs = {n: c for n, c in bundle_configs(extends).items() if n not in ("metadata.json", *without)} \
        if extends else {}
    for path in sorted(folder.glob("*.json")):
        if path.name in ("common.json", "metadata.json", "task.json"):
            continue
        own = {**common, **_read(path)} if path.name in RUNS_ALONE else _read(path)
        configs[path.name] = _override(configs[path.name], own) if path.name in configs else own
    for file_name in RUNS_ALONE if extends else ():  # the extended bundle's config keeps its description
        if file_name in configs and not (folder / file_name).is_file():
            configs[file_name] = _override(configs[file_name], {k: v for k, v in common.items() if k != "_desc_"})
    if family is None:
        return {**configs, "metadata.json": _read(source / "configs" / "metadata.json")}
    task = _read(source / "configs" / "task.json")
    task_keys: dict[str, dict] = {name: {} for name in configs}
    for key, value in task.items():
        users = [n for n in RUNS_ALONE if _uses(configs[n], key)]
        users += [n for n in configs if n not in RUNS_ALONE and _uses(configs[n], key) and "train.json" not in users]
        if not users:
            raise ValueError(f"{source}/configs/task.json: {key!r} is used by no config of {family.name}.")
        for config in users:
            task_keys[config][key] = value
    for name, content in configs.items():  # the task near the top, where a reader of the bundle looks first
        head = {k: content[k] for k in ("_desc_", "imports") if k in content}
        configs[name] = {**head, **task_keys[name], **{k: v for k, v in content.items() if k not in task_keys[name]}}
    metadata = _merge_metadata(_read(family / "configs" / "metadata.json"), _read(source / "configs" / "metadata.json"))
    metadata = _network_data_format(metadata, {**configs["train.json"], **task})
    for key in ("ld_monai_extends", "ld_monai_extends_without"):  # how the source is composed, not the bundle
        metadata.pop(key, None)
    configs["metadata.json"] = {"schema": metadata.pop("schema"), "version": metadata.pop("version"), **metadata}
    return configs


def export_bundle(name: str, destination: str | os.PathLike) -> Path:
    """Write bundle ``name`` to ``destination/<name>`` (which must not exist yet) as a standalone MONAI bundle and
    return that folder: ``python -m monai.bundle run`` runs its configs with ``--bundle_root`` set to it, and its
    ``inference.json`` runs alone."""
    source = bundle_path(name)
    target = Path(destination) / name
    if target.exists():
        raise FileExistsError(f"{target} exists: export into another folder or remove it first.")
    configs = bundle_configs(name)

    def composed(folder: str, names: list[str]) -> list[str]:  # the configs are written below
        return [n for n in names if n.endswith(".json")] if Path(folder).name == "configs" else []

    family = _family_dir(source)
    extends = _read(family / "configs" / "metadata.json").get("ld_monai_extends") if family else None
    if extends:  # the extended bundle's licence, logging configuration and model card, replaced by the family's
        shutil.copytree(bundle_path(extends), target, ignore=composed)
    if family is not None:
        shutil.copytree(family, target, ignore=composed, dirs_exist_ok=True)
    shutil.copytree(source, target, ignore=composed, dirs_exist_ok=True)
    for file_name, content in configs.items():
        (target / "configs" / file_name).write_text(json.dumps(content, indent=4, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
    return target


def bundle_kind(bundle_dir: str | os.PathLike) -> str:
    """The ``ld_monai_kind`` that a bundle folder declares in ``configs/metadata.json`` (one of
    :data:`BUNDLE_KINDS`), or its family's for the source of a family member; ``ValueError`` naming the file when
    it is missing or unknown."""
    path = Path(bundle_dir) / "configs" / "metadata.json"
    if not path.is_file():
        raise FileNotFoundError(f"{bundle_dir} is not a bundle folder: {path} does not exist.")
    kind = _read(path).get("ld_monai_kind")
    family = _family_dir(Path(bundle_dir)) if kind is None else None
    if family is not None:
        kind = _read(family / "configs" / "metadata.json").get("ld_monai_kind")
    if kind not in BUNDLE_KINDS:
        raise ValueError(f"{path} declares ld_monai_kind {kind!r}; expected one of {', '.join(BUNDLE_KINDS)}.")
    return kind
