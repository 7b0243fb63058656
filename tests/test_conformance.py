"""Every layer kind has an entry in every pipeline stage (fpga_aware.conformance)."""

import pytest

from fpga_aware import conformance
from fpga_aware.core.activations import ACTIVATIONS, EXACT_FUNCTIONS, TABLE_FUNCTIONS
from fpga_aware.core.ir import LAYER_KINDS
from fpga_aware.core.registry import MissingStageError


def test_every_kind_has_every_stage():
    assert conformance.missing_entries() == []


def test_no_entry_for_a_kind_that_does_not_exist():
    assert conformance.stale_entries() == []


def test_every_stage_is_checked():
    assert {"frontend", "zeros", "emulator", "cost", "hls"} == set(conformance.stage_registries())
    assert set(LAYER_KINDS) >= {"input", "dense", "activation", "softmax", "scale_shift"}


def test_a_new_kind_is_reported_stage_by_stage():
    problems = conformance.missing_entries(kinds=["conv2d"], functions=["elu_exact"])
    stages = conformance.stage_registries()
    # every stage, the HLS template, the Verilog context, the Verilog template and the Yosys cost
    assert len([p for p in problems if p.startswith("layer kind 'conv2d'")]) == len(stages) + 4
    assert any("no Yosys cost (yosys), though the Verilog backend writes it" in p for p in problems)
    assert any("templates/firmware/layers/conv2d.j2 is missing" in p for p in problems)
    assert any("templates/rtl/layers/conv2d.v.j2 is missing" in p for p in problems)
    assert any("no Verilog context (rtl) and not in RTL_PENDING" in p for p in problems)
    assert any("activation 'elu_exact': not in" in p for p in problems)
    assert len([p for p in problems if p.startswith("activation 'elu_exact': no ")]) == 3


def test_a_missing_entry_raises_naming_stage_and_kind():
    registry = conformance.stage_registries()["emulator"]
    with pytest.raises(MissingStageError, match=r"no emulator rule for layer kind 'conv2d'; registered: .*dense"):
        registry["conv2d"]


def test_table_functions_have_a_reference_and_a_domain():
    for name in TABLE_FUNCTIONS:
        f = ACTIVATIONS[name]
        lo, hi = f.domain
        assert lo < hi, name
        assert f.reference(__import__("numpy").array([lo, hi])).shape == (2,)
    assert set(TABLE_FUNCTIONS) | set(EXACT_FUNCTIONS) == set(ACTIVATIONS)


def test_the_command_line_lists_what_is_missing(capsys, monkeypatch):
    from fpga_aware.cli import main

    assert main(["conformance"]) == 0
    assert "every stage has every kind: input, dense" in capsys.readouterr().out
    monkeypatch.setattr(conformance, "missing_entries", lambda: ["layer kind 'conv2d': no emulator rule (emulator)"])
    assert main(["conformance"]) == 1
    assert "conv2d" in capsys.readouterr().out
