# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""A student network and its teacher, run on the same input (PEAC: Zhou et al., BMVC 2023, arXiv 2312.00335,
research code ``global_local_popar_swin.py`` lines 275-279 and 476-483; method spec B3-B4)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["StudentTeacher"]


class StudentTeacher(nn.Module):
    """``forward(x)`` -> ``{"student": student(x), "teacher": teacher(x)}``, the teacher without gradient and always
    in eval mode (no drop path: a deterministic target). The teacher is updated by its owner, e.g. an exponential
    moving average of the student (:class:`ld_monai.handlers.TeacherEMA`); it starts as the student's copy.
    Checkpoints hold both (``student.*``, ``teacher.*``)."""

    def __init__(self, student: nn.Module, teacher: nn.Module) -> None:
        super().__init__()
        self.student, self.teacher = student, teacher.eval()
        self.teacher.requires_grad_(False)

    def train(self, mode: bool = True) -> StudentTeacher:
        self.training = mode
        self.student.train(mode)
        self.teacher.eval()
        return self

    def forward(self, x: torch.Tensor) -> dict:
        with torch.no_grad():
            teacher = self.teacher(x)
        return {"student": self.student(x), "teacher": teacher}
