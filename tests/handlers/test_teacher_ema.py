# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
from ignite.engine import Engine, Events

from ld_monai.handlers.teacher_ema import TeacherEMA, cosine_teacher_momentum


def test_cosine_momentum_known_values():
    assert cosine_teacher_momentum(0, 100) == pytest.approx(0.999)
    assert cosine_teacher_momentum(50, 100) == pytest.approx(0.9995)
    assert cosine_teacher_momentum(100, 100) == pytest.approx(1.0)
    assert cosine_teacher_momentum(150, 100) == pytest.approx(1.0)  # after the schedule: the final value


def test_teacher_follows_the_student_by_the_scheduled_average():
    """Each iteration i (from 0) the student's weights move by +1; the teacher is then m_i t + (1 - m_i) s."""
    student = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(student.weight)
    ema = TeacherEMA(student, total_iterations=4, base_momentum=0.5)

    def step(engine, batch):
        with torch.no_grad():
            student.weight += 1.0

    engine = Engine(step)
    ema.attach(engine)
    teacher, expected = [], 0.0
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: teacher.append(float(ema.teacher.weight[0, 0])))
    engine.run([0] * 4, max_epochs=1)
    for i in range(4):
        m = cosine_teacher_momentum(i, 4, 0.5)
        expected = m * expected + (1 - m) * (i + 1)
        assert teacher[i] == pytest.approx(expected)
    assert not ema.teacher.weight.requires_grad and not ema.teacher.training


def test_clear_errors():
    with pytest.raises(ValueError, match="base_momentum"):
        TeacherEMA(torch.nn.Linear(1, 1), 10, base_momentum=1.0)
