# Copyright (c) ld_monai contributors. Licensed under the Apache License, Version 2.0.
"""``compile_available`` falls back to eager, with the reason logged, where ``torch.compile`` cannot work."""

from __future__ import annotations

import logging

import pytest
import torch

from ld_monai.networks import compile_available
from ld_monai.networks.compile import _compile_available


@pytest.fixture
def fresh_answer():
    _compile_available.cache_clear()
    yield
    _compile_available.cache_clear()


def test_no_cpp_compiler_means_eager(fresh_answer, monkeypatch, caplog):
    inductor_config = pytest.importorskip("torch._inductor.config")
    monkeypatch.delenv("TORCH_COMPILE_DISABLE", raising=False)
    monkeypatch.setattr(inductor_config.cpp, "cxx", (None, "/nonexistent/g++"))
    with caplog.at_level(logging.INFO, logger="ld_monai.networks.compile"):
        assert compile_available("cpu") is False
    assert "C++ compiler" in caplog.text and "eagerly" in caplog.text


def test_disabled_compile_means_eager(fresh_answer, monkeypatch, caplog):
    monkeypatch.setenv("TORCH_COMPILE_DISABLE", "1")
    with caplog.at_level(logging.INFO, logger="ld_monai.networks.compile"):
        assert compile_available(torch.device("cpu")) is False
    assert "TORCH_COMPILE_DISABLE" in caplog.text


def test_unknown_device_type_means_eager(fresh_answer, monkeypatch):
    monkeypatch.delenv("TORCH_COMPILE_DISABLE", raising=False)
    assert compile_available("meta") is False
