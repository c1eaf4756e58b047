# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Ignite handlers: LD training (cluster/embedding pictures, encoder export, atomic checkpoints) and segmentation
transfer (frozen-encoder phase, handler lists of the bundles, per-image reports, overlay pictures)."""

from __future__ import annotations

from ld_monai.handlers.cluster_picture import ClusterEmbeddingPicture
from ld_monai.handlers.encoder_exporter import EncoderExporter
from ld_monai.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver
from ld_monai.handlers.prediction_writer import LocalDiscriminationPredictionWriter
from ld_monai.handlers.frozen_encoder_phase import FrozenEncoderPhase
from ld_monai.handlers.segmentation_report import SegmentationReport
from ld_monai.handlers.overlay_writer import SegmentationOverlayWriter
from ld_monai.handlers.transfer_handlers import transfer_log_handlers, transfer_train_handlers, transfer_validation_handlers
