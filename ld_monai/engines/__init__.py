# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
from ld_monai.engines.local_discrimination import (
    LocalDiscriminationEvaluator,
    LocalDiscriminationTrainer,
    local_discrimination_lr_lambda,
    local_discrimination_terms,
    prepare_local_discrimination_batch,
    terms_output,
)
from ld_monai.engines.shape_guided import ShapeGuidedTrainer
from ld_monai.engines.objective_evaluator import ObjectiveEvaluator
from ld_monai.engines.peac import (
    PEAC_TARGET_KEYS,
    PEACEvaluator,
    PEACTrainer,
    peac_lr_lambda,
    peac_terms,
    prepare_peac_batch,
)
