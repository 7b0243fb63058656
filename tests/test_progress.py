"""The progress lines: number formatting, and EpochProgress after FPGACost and Prune in a real fit."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from fpga_aware import FPGACost, Prune
from fpga_aware._stack import keras
from fpga_aware.training.progress import EpochProgress, format_cost, format_epoch, format_value


def test_format_value():
    assert format_value("val_accuracy", 0.9667) == "96.7 %"
    assert format_value("accuracy", np.float32(1.0)) == "100.0 %"
    assert format_value("sparsity", 0.75) == "75.0 %"
    assert format_value("fpga_lut", 123456.0) == "123,456"
    assert format_value("loss", 0.41234) == "0.4123"
    assert format_value("fpga_hard_score", -float("inf")) == "-inf"
    with pytest.raises(TypeError, match="loss='abc' is not a number"):
        format_value("loss", "abc")


def test_format_epoch_sections():
    logs = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75, "fpga_dsp": 120.0,
            "fpga_dsp_util": 1.0, "fpga_lut": 4000.0, "fpga_latency_cycles": 9.0, "sparsity": 0.5}
    line = format_epoch(2, 10, logs, "pruning")
    assert line == ("pruning epoch 3/10: loss 0.5, accuracy 80.0 %, val_loss 0.6, val_accuracy 75.0 % | "
                    "DSP 120 (1.0 % of the part), LUT 4,000, latency 9 cycles | sparsity 50.0 %")
    assert format_epoch(0, None, {"loss": 1.0}) == "epoch 1: loss 1"
    assert format_cost({"fpga_dsp": 1.0, "fpga_within_budget": 0.0}, ["fpga_dsp"]) == "DSP 1, OVER BUDGET"
    with pytest.raises(ValueError, match="unknown cost keys"):
        format_cost({}, ["dsp"])


def test_epoch_progress_bad_arguments():
    with pytest.raises(TypeError, match="label"):
        EpochProgress(3)
    with pytest.raises(TypeError, match="logging level"):
        EpochProgress("x", level="INFO")


def test_epoch_progress_logs_each_epoch_after_fpgacost_and_prune(caplog):
    k = keras()
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (64, 8)).astype(np.float32), rng.integers(0, 3, 64)
    model = k.Sequential([k.layers.InputLayer(input_shape=(8,)), k.layers.Dense(8, activation="relu", name="fc1"),
                          k.layers.Dense(3, activation="softmax", name="output")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    progress = EpochProgress("test")
    caplog.set_level(logging.INFO, logger="fpga_aware.training.progress")
    model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
              callbacks=[Prune(target_sparsity=0.5, end_step=4, frequency=1), FPGACost(), progress])
    lines = [r.getMessage() for r in caplog.records if r.name == "fpga_aware.training.progress"]
    assert lines == progress.lines and len(lines) == 3
    pattern = (r"^test epoch (\d)/3: loss [\d.]+, accuracy [\d.]+ %, val_loss [\d.]+, val_accuracy [\d.]+ % \| "
               r"DSP [\d,]+ \([\d.]+ % of the part\), LUT [\d,]+ \([\d.]+ % of the part\), FF [\d,]+, "
               r"BRAM_18K \d+, latency \d+ cycles, II \d+ \| sparsity ([\d.]+) %$")
    matches = [re.match(pattern, line) for line in lines]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == [1, 2, 3]
    assert float(matches[-1].group(2)) == pytest.approx(50.0, abs=2.0)
