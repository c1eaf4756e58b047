# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""What runs bundles and files (as ``monai.apps`` for MONAI): the ``ld-monai`` command (:mod:`ld_monai.apps.cli`),
``ld-monai predict`` (:mod:`ld_monai.apps.predict`), one-shot landmark detection on files
(:mod:`ld_monai.apps.landmark_detection`) and the dataset preparers (:mod:`ld_monai.apps.prepare`). The library
below this package knows nothing of bundles; nothing here is imported by ``import ld_monai``."""
