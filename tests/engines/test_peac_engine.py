# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
import math

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.transforms import Compose

from ld_monai.engines.peac import PEACEvaluator, PEACTrainer, peac_lr_lambda, peac_terms, prepare_peac_batch
from ld_monai.handlers.teacher_ema import TeacherEMA, cosine_teacher_momentum
from ld_monai.losses.peac import PEACLoss
from ld_monai.networks.peac_net import PEACNet
from ld_monai.networks.student_teacher import StudentTeacher
from ld_monai.transforms.grid_crop_pair import RandGridCropPaird
from ld_monai.transforms.popar_corruption import RandPopARCorruptiond

SMALL = {"view_size": 64, "embed_dim": 8, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 2, 2), "window_size": 2,
         "global_features": (16, 12), "local_features": (10, 6), "drop_path_rate": 0.0}


def loader(count: int = 4, batch_size: int = 2) -> DataLoader:
    """Smooth synthetic images (1, 112, 112) -> two 64-px views of 4 x 4 cells of 16 px, offsets up to 2 cells."""
    torch.manual_seed(0)
    images = [torch.nn.functional.interpolate(torch.rand(1, 1, 14, 14), size=112, mode="bilinear")[0]
              for _ in range(count)]
    transform = Compose([RandGridCropPaird("image", cell_size=16, view_cells=4, max_offset=2),
                         RandPopARCorruptiond("view1", cell_size=16)]).set_random_state(0)
    return DataLoader(Dataset([{"image": image} for image in images], transform), batch_size=batch_size)


def trainer_for(network: StudentTeacher, data: DataLoader, epochs: int = 1) -> PEACTrainer:
    optimizer = torch.optim.SGD(network.student.parameters(), lr=0.01, momentum=0.9)
    return PEACTrainer(device="cpu", max_epochs=epochs, train_data_loader=data, network=network,
                       optimizer=optimizer, loss_function=PEACLoss())


def test_a_few_iterations_train_the_student_and_average_the_teacher():
    torch.manual_seed(0)
    student = PEACNet(**SMALL)
    ema = TeacherEMA(student, total_iterations=2, base_momentum=0.9)
    network = StudentTeacher(student, ema.teacher)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    trainer = trainer_for(network, loader())
    ema.attach(trainer)
    weights = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED,
                              lambda e: weights.append({k: v.clone() for k, v in network.state_dict().items()}))
    trainer.run()
    terms = trainer.state.output["terms"]
    assert set(terms) == {"loss", "order", "restoration", "global", "local"}
    assert all(torch.isfinite(v) for v in terms.values())
    key = "order_head.weight"
    teacher = before[f"teacher.{key}"]
    for i, state in enumerate(weights):  # the teacher, step by step: m_i t + (1 - m_i) s
        m = cosine_teacher_momentum(i, 2, 0.9)
        teacher = m * teacher + (1 - m) * state[f"student.{key}"]
        torch.testing.assert_close(state[f"teacher.{key}"], teacher)
    assert not torch.equal(weights[-1][f"student.{key}"], before[f"student.{key}"])
    assert all(p.grad is None for p in network.teacher.parameters())


def test_the_objective_falls_on_a_fixed_batch():
    """40 Adam steps on one batch of two images: restoration falls fivefold, the order and local terms fall."""
    torch.manual_seed(0)
    student = PEACNet(**SMALL)
    network = StudentTeacher(student, TeacherEMA(student, total_iterations=40).teacher)
    batch = next(iter(loader(count=2)))
    inputs, targets = prepare_peac_batch(batch)
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-3)
    loss = PEACLoss(global_weight=1.0)
    first = None
    for _ in range(40):
        terms = peac_terms(loss, network(inputs), targets)
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        first = first if first is not None else {k: float(v) for k, v in terms.items()}
    last = {k: float(v) for k, v in terms.items()}
    assert last["loss"] < 0.85 * first["loss"] and last["restoration"] < 0.2 * first["restoration"]
    assert last["order"] < first["order"] and last["local"] < first["local"]


def test_evaluator_scores_the_objective_and_batches_are_checked():
    torch.manual_seed(0)
    student = PEACNet(**SMALL)
    network = StudentTeacher(student, TeacherEMA(student, total_iterations=1).teacher)
    evaluator = PEACEvaluator(device="cpu", val_data_loader=loader(), network=network, loss_function=PEACLoss())
    evaluator.run()
    assert evaluator.state.metrics["val_loss"] > 0
    with pytest.raises(KeyError, match="overlap1"):
        prepare_peac_batch({"view1": torch.rand(1, 1, 64, 64), "view2": torch.rand(1, 1, 64, 64),
                            "restoration_target": 0, "permutation": 0, "shuffled": 0, "overlap2": 0})


def test_learning_rate_warms_up_then_falls_by_a_cosine():
    factor = peac_lr_lambda(warmup_epochs=5, epochs=25)
    assert [factor(e) for e in range(5)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert factor(15) == pytest.approx(0.5 * (1 + math.cos(math.pi * 11 / 21)))  # epoch 16 of the cosine 5 -> 26
    assert 0 < factor(24) < 0.01  # the last epoch still trains
    assert factor(25) == pytest.approx(0.0)
    assert all(factor(e) > factor(e + 1) for e in range(4, 25))
