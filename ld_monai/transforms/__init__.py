# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""MONAI-style transforms of local discrimination (Chen et al., arXiv 2108.09440).

Array transforms ``Foo`` with dictionary twins ``Food`` (aliases ``FooD``, ``FooDict``):

* :class:`FundusFieldOfViewCrop`: the retinal ROI (field-of-view) crop of the research preprocessing;
* :class:`FundusContrast`: the green channel and/or CLAHE of a fundus photograph (options of vessel models);
* :class:`XRayIntensityNormalize`: robust percentile scaling of radiographs to one channel in [0, 1];
* :class:`LoadRadiograph`: DICOM (CR/DX), NIfTI or image file -> one channel in [0, 1], higher = more attenuating;
* :class:`EnsureChannels`: channel-count checks (drop alpha, collapse identical RGB, refuse the rest);
* :class:`RandColorJitter`: torchvision-style colour jitter + random grayscale in plain torch;
* :class:`LocalDiscriminationViewsd`: the two-image, five-view sampler of LD stage 1 (PD + mixup);
* :class:`RandGridCropPaird`: PEAC's two grid-aligned crops and their shared cells (Zhou et al., BMVC 2023), after
  :class:`ShortSideResize` (the shorter side to a length, the ratio kept), and the POPAR corruption of its first
  view (:class:`RandPopARCorruptiond`: cells out of order, or :func:`appearance_corruption`);
* :class:`CheckSegmentationLabel`: binary-label checks (shape, values, channels) -> float32 {0, 1};
* :class:`SaveMaskd`: predicted label maps as NIfTI (with the source's affine) and PNG; :class:`SaveDicomSegd`:
  predicted structures of a DICOM input as DICOM SEG.

and the transform chains of the segmentation bundles (``segmentation_preprocessing``, ``..._augmentation``,
``..._postprocessing``, ``..._inference_outputs``, ``structure_cleanup``: largest components, filled holes and
nested structures, with :class:`FillStructureHolesd` and :class:`NestStructuresd`).
"""

from __future__ import annotations

from ld_monai.transforms.channels import EnsureChannels, EnsureChannelsD, EnsureChannelsd, EnsureChannelsDict
from ld_monai.transforms.color import (
    ColorJitterParams,
    RandColorJitter,
    RandColorJitterD,
    RandColorJitterd,
    RandColorJitterDict,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    hsv_to_rgb,
    rgb_to_grayscale,
    rgb_to_hsv,
)
from ld_monai.transforms.fundus import (
    FundusFieldOfViewCrop,
    FundusFieldOfViewCropD,
    FundusFieldOfViewCropd,
    FundusFieldOfViewCropDict,
)
from ld_monai.transforms.fundus_contrast import (
    FUNDUS_CONTRASTS,
    FundusContrast,
    FundusContrastD,
    FundusContrastd,
    FundusContrastDict,
    fundus_contrast_channels,
    fundus_contrast_statistics,
)
from ld_monai.transforms.labels import (
    CheckSegmentationLabel,
    CheckSegmentationLabelD,
    CheckSegmentationLabeld,
    CheckSegmentationLabelDict,
)
from ld_monai.transforms.mask_writer import SaveMaskd, nifti_affine
from ld_monai.transforms.dicom_seg_saving import SaveDicomSegd
from ld_monai.transforms.radiograph_loading import (
    LoadRadiograph,
    LoadRadiographD,
    LoadRadiographd,
    LoadRadiographDict,
)
from ld_monai.transforms.segmentation_presets import (
    MODALITIES,
    native_resolution_outputs,
    segmentation_augmentation,
    segmentation_inference_outputs,
    segmentation_postprocessing,
    segmentation_preprocessing,
    structure_cleanup,
    structure_crop_augmentation,
    structures_to_label_map,
)
from ld_monai.transforms.shape_prior import RandShapePriorMasksd, prior_mask_augmentation
from ld_monai.transforms.structure_crop import RandCropAroundStructured, crop_square, square_around
from ld_monai.transforms.anatomical_cleanup import FillStructureHolesd, NestStructuresd
from ld_monai.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD
from ld_monai.transforms.grid_crop_pair import (
    RandGridCropPairD,
    RandGridCropPairDict,
    RandGridCropPaird,
    grid_overlap_masks,
)
from ld_monai.transforms.appearance_corruption import (
    RandBezierIntensity,
    RandLocalPixelShuffle,
    appearance_corruption,
    bezier_intensity_curve,
)
from ld_monai.transforms.popar_corruption import (
    RandPopARCorruptionD,
    RandPopARCorruptionDict,
    RandPopARCorruptiond,
    shuffle_cells,
)
from ld_monai.transforms.short_side_resize import (
    ShortSideResize,
    ShortSideResizeD,
    ShortSideResized,
    ShortSideResizeDict,
)
from ld_monai.transforms.views import (
    LocalDiscriminationViewsD,
    LocalDiscriminationViewsd,
    LocalDiscriminationViewsDict,
)
from ld_monai.transforms.xray import (
    XRayIntensityNormalize,
    XRayIntensityNormalizeD,
    XRayIntensityNormalized,
    XRayIntensityNormalizeDict,
)

__all__ = [
    "EnsureChannels",
    "EnsureChannelsd",
    "EnsureChannelsD",
    "EnsureChannelsDict",
    "ColorJitterParams",
    "RandColorJitter",
    "RandCropAroundStructured",
    "RandColorJitterd",
    "RandColorJitterD",
    "RandColorJitterDict",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "hsv_to_rgb",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "FundusFieldOfViewCrop",
    "FundusFieldOfViewCropd",
    "FundusFieldOfViewCropD",
    "FundusFieldOfViewCropDict",
    "FUNDUS_CONTRASTS",
    "FundusContrast",
    "FundusContrastd",
    "FundusContrastD",
    "FundusContrastDict",
    "fundus_contrast_channels",
    "fundus_contrast_statistics",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LocalDiscriminationViewsd",
    "RandGridCropPaird",
    "RandGridCropPairD",
    "RandGridCropPairDict",
    "grid_overlap_masks",
    "RandBezierIntensity",
    "RandLocalPixelShuffle",
    "appearance_corruption",
    "bezier_intensity_curve",
    "RandPopARCorruptiond",
    "RandPopARCorruptionD",
    "RandPopARCorruptionDict",
    "shuffle_cells",
    "ShortSideResize",
    "ShortSideResized",
    "ShortSideResizeD",
    "ShortSideResizeDict",
    "LocalDiscriminationViewsD",
    "LocalDiscriminationViewsDict",
    "XRayIntensityNormalize",
    "XRayIntensityNormalized",
    "XRayIntensityNormalizeD",
    "XRayIntensityNormalizeDict",
    "CheckSegmentationLabel",
    "CheckSegmentationLabeld",
    "CheckSegmentationLabelD",
    "CheckSegmentationLabelDict",
    "LoadRadiograph",
    "LoadRadiographd",
    "LoadRadiographD",
    "LoadRadiographDict",
    "SaveMaskd",
    "SaveDicomSegd",
    "FillStructureHolesd",
    "NestStructuresd",
    "structure_cleanup",
    "structure_crop_augmentation",
    "RandShapePriorMasksd",
    "prior_mask_augmentation",
    "crop_square",
    "square_around",
    "native_resolution_outputs",
    "nifti_affine",
    "MODALITIES",
    "segmentation_augmentation",
    "segmentation_inference_outputs",
    "segmentation_postprocessing",
    "segmentation_preprocessing",
    "structures_to_label_map",
]
