# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Data preparation: public segmentation datasets and image folders as MONAI datalists, file checks, label
fractions, several datalists combined for training (test splits kept apart), LD's random-pair dataset, demo data;
radiograph readers (DICOM CR/DX, NIfTI) and a DICOM writer."""

from __future__ import annotations

from ld_monai.data.demo_data import DEMO_FUNDUS_SIZE, write_demo_fundus
from ld_monai.data.dicom_radiograph_reader import (
    RADIOGRAPH_MODALITIES,
    DicomRadiographReader,
    check_radiograph_header,
    radiograph_spacing,
    voi_kind,
    window_to_unit,
)
from ld_monai.data.field_of_view import largest_bright_component
from ld_monai.data.image_folder import (
    IMAGE_EXTENSIONS,
    PIL_EXTENSIONS,
    check_image_files,
    image_folder_datalist,
)
from ld_monai.data.dicom_seg_writer import write_dicom_seg
from ld_monai.data.file_format import file_stem, is_dicom_file, is_nifti_path
from ld_monai.data.ld_batch import NUM_VIEWS, LDKeys
from ld_monai.data.landmark_table import (
    LANDMARK_CSV_COLUMNS,
    landmark_array,
    read_landmark_table,
    write_landmarks_csv,
)
from ld_monai.data.nifti_radiograph_reader import NiftiRadiographReader
from ld_monai.data.radiograph_dicom_writer import write_radiograph_dicom
from ld_monai.data.radiograph_error import RadiographReadError
from ld_monai.data.random_pair_dataset import RandomPairDataset
from ld_monai.data.combined_datalists import combine_segmentation_datalists, record_datalists
from ld_monai.data.segmentation_datalist import load_segmentation_datalist
from ld_monai.data.drawn_lung_shapes import DRAWN_LUNG_OUTLINES, drawn_lung_masks
from ld_monai.data.fractal_vessel_prior import FractalVesselPrior
from ld_monai.data.shape_prior_sources import EllipsePrior, MaskFolderPrior, prior_foreground_fraction, scr_lung_masks
from ld_monai.data.split import label_fraction_subset, split_datalist
