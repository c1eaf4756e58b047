# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Transform chains of LD's downstream segmentation protocol, shared by the segmentation bundles; the preprocessing
is also LD pretraining's (without normalisation).

Chen et al., "Unsupervised Local Discrimination for Medical Images", arXiv 2108.09440, protocol A7 of the method
spec: fundus photographs are cropped to the field of view, resized to 512x512 and normalised with ImageNet
statistics; radiographs (PNG, DICOM or NIfTI, read by :class:`LoadRadiographd`) are one channel normalised with
mean 0.5, std 0.5. Training augments fundus images with
flips and rotations in (-180, 180) degrees, radiographs with rotations in (-30, 30) degrees only.

Each function returns a list of MONAI dictionary transforms for a bundle's ``Compose``. Keys: ``image``, one key
per structure in ``structures`` (binary masks, concatenated into ``label`` in that order) and, for fundus
vessel tasks, the field-of-view ``mask``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial

import torch
from monai.config import KeysCollection
from monai.transforms import (
    Activationsd,
    AsDiscreted,
    CenterSpatialCropd,
    Compose,
    ConcatItemsd,
    CopyItemsd,
    DeleteItemsd,
    EnsureTyped,
    Invertd,
    KeepLargestConnectedComponentd,
    Lambdad,
    LoadImaged,
    MaskIntensityd,
    NormalizeIntensityd,
    RandAdjustContrastd,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandGaussianNoised,
    RandRotated,
    RandScaleIntensityd,
    RandShiftIntensityd,
    RandSpatialCropSamplesd,
    RandZoomd,
    Resized,
    ScaleIntensityRanged,
)

from ld_monai.transforms.channels import EnsureChannelsd
from ld_monai.transforms.dicom_seg_saving import SaveDicomSegd
from ld_monai.transforms.fundus import FundusFieldOfViewCropd
from ld_monai.transforms.fundus_contrast import FundusContrastd, fundus_contrast_statistics
from ld_monai.transforms.labels import CheckSegmentationLabeld
from ld_monai.transforms.mask_writer import SaveMaskd
from ld_monai.transforms.radiograph_loading import LoadRadiographd
from ld_monai.transforms.short_side_resize import ShortSideResized
from ld_monai.transforms.anatomical_cleanup import FillStructureHolesd, NestStructuresd
from ld_monai.transforms.structure_crop import RandCropAroundStructured

__all__ = [
    "MODALITIES",
    "segmentation_preprocessing",
    "segmentation_augmentation",
    "structure_crop_augmentation",
    "segmentation_postprocessing",
    "structure_cleanup",
    "segmentation_inference_outputs",
    "native_resolution_outputs",
    "structures_to_label_map",
]

#: the two input conventions of LD's downstream tasks
MODALITIES = ("fundus", "xray")


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}.")


def segmentation_preprocessing(
    modality: str,
    structures: Sequence[str] = (),
    mask_key: str | None = None,
    image_size: int = 512,
    empty_labels: str = "allow",
    source_key: str | None = None,
    native_suffix: str | None = None,
    image_resize: str = "bilinear",
    fundus_contrast: str | None = None,
    normalize: bool = True,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    track_meta: bool = True,
    weight_key: str | None = None,
    keep_ratio: bool = False,
    size_multiple: int | None = None,
) -> list:
    """Load, check, crop (fundus), scale, resize and normalise ``image`` (+ labels and mask when given).

    Without ``structures`` (inference) only the image and, if named, the mask are loaded. With structures, each
    label is checked against its image (same size, binary; see :class:`CheckSegmentationLabeld`) and the labels
    are stacked into ``label`` (``len(structures)`` channels, float {0, 1}). The crop and resize are invertible
    (MONAI ``Invertd``), so predictions can be mapped back to the input's geometry. ``source_key`` keeps a copy of
    the loaded image (the picture under an overlay of the predictions in the input's geometry). ``native_suffix``
    keeps the checked labels at the image's own resolution too, stacked as ``label<suffix>`` (and the mask as
    ``<mask_key><suffix>``), for scoring in the input's geometry (:func:`native_resolution_outputs`).

    ``fundus_contrast`` (fundus only) keeps the green channel alone and/or applies CLAHE (:class:`FundusContrastd`),
    at the photograph's own resolution, with the matching normalisation statistics.

    ``image_resize`` is the image's interpolation (anti-aliased when not ``"area"``); predictions are mapped back with
    it. The normalisation (``mean``, ``std``; default: the modality's, above) is skipped with ``normalize=False``, as
    LD pretraining does (it normalises its views after colour jitter); ``track_meta=False`` returns plain tensors.
    ``weight_key`` (with ``structures``) names a per-pixel weight image (8-bit, 255 = weight 1; e.g. the certainty of
    pseudo-labels, :func:`ld_monai.apps.pseudo_labels.write_pseudo_labels`), cropped and resized (bilinear) like the
    labels and appended to ``label`` as its last channel: the (N, K + 1, H, W) target of
    :class:`ld_monai.losses.UncertaintyWeightedLoss`.
    ``keep_ratio`` (images alone) resizes the shorter side to ``image_size`` and crops the centre square
    (:class:`ShortSideResized`, as PEAC does) instead of resizing the whole image to a square; with ``size_multiple``
    it keeps the whole image instead, the longer side rounded to a multiple (whole cells of a token grid). Neither is
    inverted.
    This is the one preprocessing chain of the pretraining and segmentation bundles.
    """
    _check_modality(modality)
    if fundus_contrast is not None and modality != "fundus":
        raise ValueError(f"fundus_contrast {fundus_contrast!r} is for fundus photographs, not {modality!r} images.")
    structures = list(structures)
    if weight_key and not structures:
        raise ValueError("weight_key weighs the labels of structures: name the structures too.")
    if keep_ratio and (structures or mask_key):
        raise ValueError("keep_ratio crops the image alone: it takes no structures or mask.")
    masks = [mask_key] if mask_key else []
    binary = structures + masks
    weights = [weight_key] if weight_key else []
    keys = ["image"] + binary + weights
    load_pil = partial(
        LoadImaged, reader="PILReader", reverse_indexing=False, image_only=True, ensure_channel_first=True
    )
    if modality == "fundus":
        chain: list = [load_pil(keys), EnsureChannelsd("image", num_channels=3)]
    else:
        # DICOM (CR/DX), NIfTI or image files, scaled to [0, 1] (VOI window or percentiles); PNG masks
        chain = [LoadRadiographd("image")] + ([load_pil(binary + weights)] if binary else [])
    if source_key:
        chain.append(CopyItemsd("image", names=source_key))
    if binary:
        chain.append(CheckSegmentationLabeld(binary, image_key="image", empty=empty_labels))
    native = [f"{key}{native_suffix}" for key in binary] if native_suffix and binary else []
    if native:
        chain.append(CopyItemsd(binary, names=native))
    if modality == "fundus":
        chain += [
            FundusFieldOfViewCropd(keys, source_key="image"),
            ScaleIntensityRanged("image", a_min=0, a_max=255, b_min=0.0, b_max=1.0, clip=True),
        ]
        if fundus_contrast is not None:
            chain.append(FundusContrastd("image", fundus_contrast))
        default_mean, default_std = fundus_contrast_statistics(fundus_contrast)
    else:
        default_mean, default_std = (0.5,), (0.5,)
    # anti-aliased bilinear, not "area": predictions are mapped back with the forward mode (Invertd with
    # nearest_interp=False), and upsampling by "area" (or "nearest", Invertd's default) shifts by half a pixel: a
    # perfect DRIVE vessel map at 512 px scores 0.83 Dice back at 565 x 584 with nearest, 0.86 area, 0.95 bilinear
    if keep_ratio and size_multiple:
        chain.append(ShortSideResized("image", image_size, mode=image_resize, multiple_of=size_multiple))
    elif keep_ratio:
        chain += [ShortSideResized("image", image_size, mode=image_resize), CenterSpatialCropd("image", image_size)]
    else:
        chain.append(Resized("image", spatial_size=(image_size, image_size), mode=image_resize,
                             anti_aliasing=image_resize != "area"))
    if binary:
        # nearest-exact samples pixel centres; plain "nearest" shifts labels by up to one pixel against the image
        chain.append(Resized(binary, spatial_size=(image_size, image_size), mode="nearest-exact"))
    if weights:
        chain += [Resized(weights, spatial_size=(image_size, image_size), mode="bilinear"),
                  ScaleIntensityRanged(weights, a_min=0, a_max=255, b_min=0.0, b_max=1.0, clip=True)]
    if normalize:
        mean, std = mean or default_mean, std or default_std
        chain.append(NormalizeIntensityd("image", subtrahend=list(mean), divisor=list(std), channel_wise=True))
    if structures:
        chain += [ConcatItemsd(structures + weights, "label"), DeleteItemsd(structures + weights)]
    if native and structures:
        native_structures = native[: len(structures)]
        chain += [ConcatItemsd(native_structures, f"label{native_suffix}"), DeleteItemsd(native_structures)]
    typed = (["label"] if structures else []) + masks + ([f"label{native_suffix}"] if native and structures else [])
    typed += native[len(structures):]
    chain.append(EnsureTyped(["image"] + typed, dtype=torch.float32, track_meta=track_meta))
    return chain


def segmentation_augmentation(modality: str, mask_key: str | None = None, intensity: bool = False,
                               scale: float = 0.0, patch_size: int | None = None, patches_per_image: int = 1,
                               foreground_patch_fraction: float = 0.0) -> list:
    """Random flips (fundus) and rotations applied identically to ``image``, ``label`` (and the mask).

    ``intensity`` adds, to the (normalised) image only, what changes between radiographs of other devices and
    exposures: a random gamma (MONAI ``RandAdjustContrastd``, 0.7-1.5), an intensity scale and shift (10 %) and mild
    Gaussian noise, each with probability 0.5. ``scale`` > 0 zooms everything by a random factor in ``1 ± scale``
    (MONAI ``RandZoomd``; patient size and distance to the detector).

    ``patch_size`` trains on ``patches_per_image`` random square crops of each augmented image (MONAI
    ``RandSpatialCropSamplesd``; a batch of ``b`` images holds ``b * patches_per_image`` patches), as the strongest
    small vessel models do (e.g. Retina-UNet's 48 px patches): at the same compute, many more and more varied steps
    than whole images. The whole image is rotated before it is cropped, so patches carry no padding of their own
    (beyond the image's). Patches are placed uniformly, or, with ``foreground_patch_fraction`` > 0, that fraction of
    them is centred on a labelled pixel of any structure and the rest on a background pixel (MONAI
    ``RandCropByPosNegLabeld``): small structures such as the optic disc and cup then fill most patches.
    """
    _check_modality(modality)
    if patch_size is not None and (patch_size < 1 or patches_per_image < 1):
        raise ValueError(f"patch_size and patches_per_image must be >= 1, got {patch_size}, {patches_per_image}.")
    if not 0.0 <= foreground_patch_fraction <= 1.0:
        raise ValueError(f"foreground_patch_fraction must be in [0, 1], got {foreground_patch_fraction}.")
    keys = ["image", "label"] + ([mask_key] if mask_key else [])
    modes = ["bilinear"] + ["nearest"] * (len(keys) - 1)
    if modality == "fundus":
        chain = [
            RandFlipd(keys, prob=0.5, spatial_axis=0),
            RandFlipd(keys, prob=0.5, spatial_axis=1),
            RandRotated(keys, range_x=math.pi, prob=1.0, mode=modes, padding_mode="zeros"),
        ]
    else:
        chain = [RandRotated(keys, range_x=math.pi / 6, prob=1.0, mode=modes, padding_mode="zeros")]
    if scale > 0:
        chain.append(RandZoomd(keys, prob=1.0, min_zoom=1 - scale, max_zoom=1 + scale, mode=modes,
                               padding_mode="constant", keep_size=True))
    if intensity:
        chain += [
            RandAdjustContrastd("image", prob=0.5, gamma=(0.7, 1.5)),
            RandScaleIntensityd("image", factors=0.1, prob=0.5),
            RandShiftIntensityd("image", offsets=0.1, prob=0.5),
            RandGaussianNoised("image", prob=0.5, std=0.02),
        ]
    if patch_size is not None and foreground_patch_fraction > 0:
        chain.append(RandCropByPosNegLabeld(keys, label_key="label", spatial_size=(patch_size, patch_size),
                                            pos=foreground_patch_fraction, neg=1.0 - foreground_patch_fraction,
                                            num_samples=patches_per_image))
    elif patch_size is not None:
        chain.append(RandSpatialCropSamplesd(keys, roi_size=(patch_size, patch_size), num_samples=patches_per_image,
                                             random_size=False))
    return chain


def structure_crop_augmentation(structures: Sequence[str], structure: str, side_fraction: float = 0.4,
                                size: int = 256, jitter: float = 0.05, mask_key: str | None = None) -> list:
    """The second stage of a cascade (:class:`ld_monai.inferers.StructureCropInferer`) trains on squares of
    ``side_fraction`` x the image's shorter side around the labelled ``structure`` (one of ``structures``), the
    centre shifted by up to ``jitter`` x the side (:class:`RandCropAroundStructured`), resized to ``size``: the image
    anti-aliased bilinear, the labels (and mask) nearest-exact, as in :func:`segmentation_preprocessing`. Goes between
    the preprocessing and :func:`segmentation_augmentation`."""
    structures = list(structures)
    if structure not in structures:
        raise ValueError(f"cannot crop around {structure!r}: it is not among the structures {structures}.")
    binary = ["label"] + ([mask_key] if mask_key else [])
    return [
        RandCropAroundStructured(["image"] + binary, label_key="label", channel=structures.index(structure),
                                 side_fraction=side_fraction, jitter=jitter),
        Resized("image", spatial_size=(size, size), mode="bilinear", anti_aliasing=True),
        Resized(binary, spatial_size=(size, size), mode="nearest-exact"),
    ]


def structure_cleanup(
    structures: Sequence[str],
    keep_components: Mapping[str, int] | None = None,
    fill_holes: Sequence[str] = (),
    inside: Mapping[str, str] | None = None,
    keys: KeysCollection = "pred",
) -> list:
    """Anatomical clean-up of binary structure channels (K, H, W), named by ``structures``, in this order:

    * ``keep_components``: ``{structure: n}`` keeps its ``n`` largest connected components (MONAI
      ``KeepLargestConnectedComponentd``; e.g. two lungs, one disc);
    * ``fill_holes``: structures whose enclosed holes are filled (:class:`FillStructureHolesd`);
    * ``inside``: ``{inner: outer}`` keeps ``inner`` only inside ``outer`` (:class:`NestStructuresd`; the cup in the
      disc).

    Nothing given: an empty list (vessels are left as they are).
    """
    structures = list(structures)
    named = list(keep_components or {}) + list(fill_holes) + [s for pair in (inside or {}).items() for s in pair]
    unknown = sorted(set(named) - set(structures))
    if unknown:
        raise ValueError(f"clean-up of {unknown}, which are not among the structures {structures}.")
    chain: list = [
        KeepLargestConnectedComponentd(keys, applied_labels=[structures.index(name)], is_onehot=True,
                                       num_components=int(n))
        for name, n in (keep_components or {}).items()
    ]
    if fill_holes:
        chain.append(FillStructureHolesd(keys, [structures.index(name) for name in fill_holes]))
    chain += [NestStructuresd(keys, structures.index(inner), structures.index(outer))
              for inner, outer in (inside or {}).items()]
    return chain


def segmentation_postprocessing(mask_key: str | None = None, threshold: float = 0.5, cleanup: Sequence = ()) -> Compose:
    """Logits ``pred`` -> sigmoid probabilities ``prob`` and binary ``pred`` (``prob > threshold``, the paper's),
    then the ``cleanup`` transforms on ``pred`` (:func:`structure_cleanup`).

    With ``mask_key`` the binary prediction and the label (when present) are zeroed outside the field of view,
    so Dice is computed inside it (the vessel protocol); ``prob`` stays unmasked (AUC selects the pixels itself).
    """
    chain = [
        Activationsd("pred", sigmoid=True),
        CopyItemsd("pred", names="prob"),
        AsDiscreted("pred", threshold=threshold),
        *cleanup,
    ]
    if mask_key:
        chain.append(MaskIntensityd(["pred", "label"], mask_key=mask_key, allow_missing_keys=True))
    return Compose(chain)


def native_resolution_outputs(preprocessing: Compose, mask_key: str | None = None, threshold: float = 0.5,
                              cleanup: Sequence = (), suffix: str = "_native") -> Compose:
    """After :func:`segmentation_postprocessing`: the probabilities mapped back to the input's geometry (the crop and
    resize of ``preprocessing`` inverted, MONAI ``Invertd``) as ``prob<suffix>``, thresholded into
    ``pred<suffix>`` and cleaned up (``cleanup``: :func:`structure_cleanup` on ``pred<suffix>``); with ``mask_key``
    the prediction and ``label<suffix>`` are zeroed outside ``<mask_key><suffix>``. This is the published
    protocol of DRIVE, STARE and CHASE_DB1: Dice at the image's own resolution inside its field-of-view mask.
    ``preprocessing`` must be the chain that loaded the item, with ``native_suffix=suffix``."""
    prob, pred = f"prob{suffix}", f"pred{suffix}"
    chain = [
        CopyItemsd("prob", names=prob),
        Invertd(prob, transform=preprocessing, orig_keys="image", nearest_interp=False),
        CopyItemsd(prob, names=pred),
        AsDiscreted(pred, threshold=threshold),
        *cleanup,
    ]
    if mask_key:
        chain.append(MaskIntensityd([pred, f"label{suffix}"], mask_key=f"{mask_key}{suffix}"))
    return Compose(chain)


def structures_to_label_map(pred: torch.Tensor) -> torch.Tensor:
    """Binary structures (K, H, W) -> one uint8 channel: 0 background, k where structure k (1-based) is the
    last present channel. For nested structures (disc ⊃ cup) that is 1 = disc rim, 2 = cup."""
    index = torch.arange(1, pred.shape[0] + 1, device=pred.device).view(-1, *[1] * (pred.ndim - 1))
    return (pred.gt(0) * index).amax(dim=0, keepdim=True).to(torch.uint8)


def segmentation_inference_outputs(
    preprocessing: Compose,
    output_dir: str,
    structures: Sequence[str],
    algorithm_name: str = "ld_monai",
    algorithm_version: str = "0",
    threshold: float = 0.5,
    cleanup: Sequence = (),
) -> Compose:
    """Probabilities -> binary ``structures`` (K, H, W) and label map ``mask`` (1, H, W) in the input's geometry;
    ``mask`` is written as ``<name>_mask.nii.gz`` / ``.png`` and, for a DICOM input, ``structures`` as
    ``<name>_seg.dcm`` (:class:`SaveDicomSegd`, identified as ``algorithm_name`` ``algorithm_version``).

    The field-of-view crop and resize of ``preprocessing`` are inverted on the probabilities (MONAI ``Invertd``,
    interpolating), which are then thresholded: inverting the binary mask with nearest-neighbour sampling instead
    would shift thin structures such as vessels by up to a pixel. The ``cleanup`` transforms (:func:`structure_cleanup`
    on ``structures``) act at the input's resolution. The label map is
    :func:`structures_to_label_map` (see :class:`SaveMaskd`). ``pred`` stays at the network's resolution (for
    overlay pictures).
    """
    return Compose(
        [
            CopyItemsd("prob", names="structures"),
            Invertd("structures", transform=preprocessing, orig_keys="image", nearest_interp=False),
            Lambdad("structures", lambda prob: (prob > threshold).to(torch.uint8)),
            *cleanup,
            CopyItemsd("structures", names="mask"),
            Lambdad("mask", structures_to_label_map),
            SaveMaskd("mask", output_dir, len(structures)),
            SaveDicomSegd("structures", output_dir, structures, algorithm_name, algorithm_version),
        ]
    )
