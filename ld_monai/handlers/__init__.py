# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""Ignite handlers: LD training (cluster/embedding pictures, encoder export, atomic checkpoints) and segmentation
transfer (handler lists of the bundles, per-image reports, overlay pictures, validation at stage ends), and the stage
schedules of both (patch discrimination -> full LD objective, frozen encoder -> fine-tuning), and PEAC's teacher
as a moving average of its student (:class:`TeacherEMA`)."""

from __future__ import annotations

from ld_monai.handlers.cluster_picture import ClusterEmbeddingPicture
from ld_monai.handlers.encoder_exporter import EncoderExporter
from ld_monai.handlers.atomic_checkpoint_saver import AtomicCheckpointSaver
from ld_monai.handlers.prediction_writer import LocalDiscriminationPredictionWriter
from ld_monai.handlers.stage_end_validation import StageEndValidation
from ld_monai.handlers.stage_schedule import Stage, StageSchedule
from ld_monai.handlers.training_stages import local_discrimination_stages, transfer_stages
from ld_monai.handlers.segmentation_report import SegmentationReport
from ld_monai.handlers.evaluation_handlers import segmentation_evaluation_handlers
from ld_monai.handlers.overlay_writer import SegmentationOverlayWriter
from ld_monai.handlers.teacher_ema import TeacherEMA, cosine_teacher_momentum
from ld_monai.handlers.transfer_handlers import transfer_log_handlers, transfer_train_handlers, transfer_validation_handlers
