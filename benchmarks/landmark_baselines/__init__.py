# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""The baselines of one-shot landmark detection that ``benchmarks/oneshot_landmarks.py`` compares LD's matching
(:class:`ld_monai.inferers.OneShotLandmarkInferer`; Chen et al., arXiv 2108.09440, method spec A9) with; both
implement :class:`ld_monai.inferers.OneShotLandmarkDetector`:

* :class:`NCCTemplateMatcher`: baseline (a), normalised cross-correlation of intensity patches;
* :class:`SingleTemplateHeatmapRegressor`: baseline (b), a heatmap regressor trained on the augmented template.
"""

from __future__ import annotations

from .ncc_template_matcher import NCCTemplate, NCCTemplateMatcher
from .single_template_heatmap import HeatmapTemplate, SingleTemplateHeatmapRegressor

__all__ = ["HeatmapTemplate", "NCCTemplate", "NCCTemplateMatcher", "SingleTemplateHeatmapRegressor"]
