"""The static multiplier schedule (fpga_aware/core/schedule.py) and the C++ it becomes.

The invariants are checked twice: by the test itself from the per-term arrays, and by
``DenseSchedule.check()`` (which must also reject broken schedules).  The generated source is
checked too: inside a lane kernel every array index is a literal, an unrolled lane/register
counter or ``cycle * L::n_lanes + lane``, and no index memory is written.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import parse_precision as P
from fpga_aware.core.ir import DenseLayer, InputLayer, ModelIR, Strategy
from fpga_aware.core.schedule import ScheduleError, build_schedule
from fpga_aware.hls.writer import render_project

SHARED_DENSE = [("KERAS_1layer", None), ("KERAS_3layer", None), ("KERAS_3layer", "KERAS_3layer_70pruned_retrained_weights"),
                ("qkeras_3layer", None), ("KERAS_3layer_batch_norm", None), ("qkeras_mnist_dense", None)]
REUSE = [1, 2, 4, 7, 32]


def _invariants(layer: DenseLayer) -> None:
    """The schedule's promises, computed from its per-term arrays without its own check()."""
    s = layer.schedule
    outs, ins, _ = layer.terms()
    nnz = len(outs)
    R = layer.reuse_factor
    assert s.n_terms == nnz and np.array_equal(s.outs, outs) and np.array_equal(s.ins, ins)
    assert s.n_lanes == (-(-nnz // R) if nnz else 0)
    assert s.n_cycles == min(R, nnz)
    slots = set(zip(s.lane.tolist(), s.cycle.tolist()))
    assert len(slots) == nnz  # every term exactly once, one slot each
    per_cycle = {}
    for c, r in zip(s.cycle.tolist(), s.register.tolist()):
        assert (c, r) not in per_cycle  # no two terms of one cycle on one register
        per_cycle[(c, r)] = True
    # a register is one lane's run of one output
    assert np.all(s.register_lane[s.register] == s.lane) and np.all(s.register_out[s.register] == s.outs)
    # the adder tree adds every register exactly once, to its own output
    added = np.concatenate([src for _, src in s.combine_levels]) if s.combine_levels else np.zeros(0, int)
    assert sorted(added.tolist()) == list(range(layer.n_out, layer.n_out + s.n_registers))
    s.check()


@pytest.mark.parametrize("name, weights", SHARED_DENSE, ids=lambda v: v or "")
def test_schedules_of_the_shared_models(shared_model, name, weights):
    model = shared_model(name, weights)
    for strategy in ("latency", "resource"):
        for reuse in REUSE:
            ir = fa.to_firmware(model, reuse_factor=reuse, strategy=strategy).ir
            for layer in ir.dense_layers():
                _invariants(layer)


def _random_layer(rng, n_in, n_out, sparsity, reuse, strategy) -> DenseLayer:
    t = P("ap_fixed<12,4>")
    w = rng.integers(-31, 32, (n_in, n_out)) * (rng.random((n_in, n_out)) >= sparsity)
    return DenseLayer(name="d", cname="d", n_in=n_in, n_out=n_out, input_type=t, result_type=t,
                      weight_type=P("ap_fixed<6,2>"), bias_type=P("ap_fixed<6,2>"), accum_type=P("ap_fixed<20,8>"),
                      weights=w.astype(np.int64), bias=np.zeros(n_out, np.int64), reuse_factor=reuse,
                      strategy=strategy)


def test_schedules_of_random_layers():
    rng = np.random.default_rng(2)
    for _ in range(200):
        n_in, n_out = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        sparsity = float(rng.choice([0.0, 0.3, 0.7, 0.95, 1.0]))
        reuse = int(rng.choice([1, 2, 3, 5, 8, n_in, n_in * n_out, n_in * n_out + 3]))
        strategy = Strategy(rng.choice(["latency", "resource"]))
        _invariants(_random_layer(rng, n_in, n_out, sparsity, reuse, strategy))


def test_lane_major_assignment_and_figures():
    # 4 outputs x 8 inputs, dense, R = 4: lane l holds terms 4l .. 4l+3, one output per lane
    layer = _random_layer(np.random.default_rng(0), 8, 4, 0.0, 4, Strategy.RESOURCE)
    layer.weights = np.where(layer.weights == 0, 1, layer.weights)  # dense
    s = layer.schedule
    assert (s.n_lanes, s.n_cycles, s.n_registers) == (8, 4, 8)
    assert s.lane.tolist() == [k // 4 for k in range(32)] and s.cycle.tolist() == [k % 4 for k in range(32)]
    assert s.mux_inputs().tolist() == [4] * 8 and s.lane_registers().tolist() == [1] * 8
    summary = s.summary()
    assert summary["segment_boundaries"] == 0 and summary["padded_slots"] == 0
    # R = 3 does not divide a column of 8: lanes straddle two outputs (a boundary each)
    layer.reuse_factor = 3
    s = layer.schedule
    assert s.n_lanes == 11 and s.n_registers > s.n_lanes and s.summary()["segment_boundaries"] > 0
    assert s.summary()["padded_slots"] == 11 * 3 - 32


def test_check_rejects_broken_schedules():
    layer = _random_layer(np.random.default_rng(1), 6, 5, 0.2, 3, Strategy.RESOURCE)
    good = layer.schedule
    good.check()
    register = good.register.copy()
    register[1] = register[0] if good.cycle[1] != good.cycle[0] else register[1]
    same_cycle = np.flatnonzero(good.cycle == good.cycle[0])
    collide = good.register.copy()
    collide[same_cycle[1]] = collide[same_cycle[0]]
    broken = [
        dataclasses.replace(good, n_lanes=good.n_lanes + 1),
        dataclasses.replace(good, cycle=np.zeros_like(good.cycle)),
        dataclasses.replace(good, register=collide),
        dataclasses.replace(good, combine_levels=good.combine_levels[:-1]),
    ]
    for schedule in broken:
        with pytest.raises(ScheduleError):
            schedule.check()
    with pytest.raises(ValueError, match="reuse_factor"):
        build_schedule(good.outs, good.ins, 6, 5, 0, "tree")


# ------------------------------------------------------------------------------ generated C++
_INDEX = re.compile(r"\b(\w+)\[([^\[\]]+)\]")
_KERNEL_INDICES = {"cycle * L::n_lanes + lane", "lane", "r", "L::n_lanes", "L::n_registers", "CONFIG_T::n_out",
                   "CONFIG_T::n_in", "CONFIG_T::lanes::n_cycles * CONFIG_T::lanes::n_lanes"}


def _lane_kernels(source: str) -> list[str]:
    bodies = []
    for match in re.finditer(r"void (dense(?:_shift)?_lanes_\w+)\(", source):
        start = match.start()
        end = source.index("\n}\n", start)
        bodies.append(source[start:end])
    return bodies


def _project(reuse: int, strategy: str, pow2: bool = False) -> tuple[ModelIR, dict[str, str]]:
    rng = np.random.default_rng(reuse)
    t = P("ap_fixed<12,4>")
    layers = [InputLayer(name="input", cname="input", n_in=10, n_out=10, input_type=t, result_type=t, shape=(10,))]
    n_in = 10
    for k, n_out in enumerate((9, 6)):
        mags = (np.int64(1) << rng.integers(0, 4, (n_in, n_out))) if pow2 else rng.integers(-31, 32, (n_in, n_out))
        w = (mags * rng.choice([-1, 1], (n_in, n_out)) * (rng.random((n_in, n_out)) > 0.4)).astype(np.int64)
        layers.append(DenseLayer(name=f"d{k}", cname=f"d{k}", n_in=n_in, n_out=n_out, input_type=t, result_type=t,
                                 weight_type=P("ap_fixed<6,2>"), bias_type=P("ap_fixed<6,2>"),
                                 accum_type=P("ap_fixed<20,8>"), weights=w, bias=np.zeros(n_out, np.int64),
                                 reuse_factor=reuse, strategy=Strategy(strategy)))
        n_in = n_out
    ir = ModelIR("sched", layers)
    return ir, render_project(ir, FirmwareConfig(project_name="sched"))


def _wiring(header: str):
    """``(lane, cycle) -> input index`` as the generated ``select`` of a schedule header wires it:
    each lane reads its bus (``xl[l] = xb[b];``); a bus is wired by runs
    ``if (cycle < E) xb[b] = x[cycle + k];`` first, then by the switch's per-cycle parts."""
    body = header[header.index("static void select(unsigned cycle"):]
    body = body[: body.index("\n    }\n")]
    lane_bus = {int(lane): int(bus) for lane, bus in re.findall(r"xl\[(\d+)\] = xb\[(\d+)\];", body)}
    runs: dict[int, list[tuple[int, str]]] = {}
    head = body.split("switch (cycle)")[0]
    for end, bus, source in re.findall(r"(?:else )?(?:if \(cycle < (\d+)\) )?xb\[(\d+)\] = x\[([^\]]+)\];", head):
        runs.setdefault(int(bus), []).append((int(end) if end else 1 << 30, source))
    parts = dict(re.findall(r"void (select_\d+_\d+)\(.*?\{(.*?)\n    \}", header, flags=re.S))
    cases = dict(re.findall(r"case (\d+):(.*?)break;", body, flags=re.S))

    def wired(lane: int, cycle: int) -> int:
        bus = lane_bus[lane]
        if bus in runs:
            source = next(src for end, src in runs[bus] if cycle < end)
            return int(eval(source, {"cycle": cycle}))  # "5", "cycle", "cycle + 4", "cycle - 12"
        for part in re.findall(r"(select_\d+_\d+)\(x, xb\);", cases[str(cycle)]):
            found = re.search(rf"xb\[{bus}\] = x\[(\d+)\];", parts[part])
            if found:
                return int(found.group(1))
        raise AssertionError(f"lane {lane} (bus {bus}) has no input in cycle {cycle}")

    return wired


@pytest.mark.parametrize("pow2", [False, True], ids=["multipliers", "shifts"])
@pytest.mark.parametrize("strategy", ["latency", "resource"])
@pytest.mark.parametrize("reuse", [2, 3, 7, 60])
def test_generated_schedule_indices_are_constants(reuse, strategy, pow2):
    ir, files = _project(reuse, strategy, pow2)
    kernels = _lane_kernels(files["firmware/fa_layers.h"])
    assert len(kernels) == 6  # (multiply, shift) x (registers, lutram, bram)
    for body in kernels:
        assert "w_in" not in body and "w_out" not in body
        assert "PIPELINE II=1" in body
        for array, index in _INDEX.findall(body):
            assert index.strip() in _KERNEL_INDICES, f"{array}[{index}] in a lane kernel"
    top = files["firmware/sched.cpp"]
    for layer in ir.dense_layers():
        s = layer.schedule
        header = files[f"firmware/schedules/{layer.cname}.h"]
        for array, index in _INDEX.findall(header):
            assert re.fullmatch(r"\d+|cycle|cycle [+-] \d+|n_lanes|n_buses|n_registers", index), \
                f"{array}[{index}] in schedules/{layer.cname}.h"
        # every term's input is wired to its lane in its cycle
        wiring = _wiring(header)
        for lane, cycle, i in zip(s.lane.tolist(), s.cycle.tolist(), s.ins.tolist()):
            assert wiring(lane, cycle) == i, (layer.cname, lane, cycle)
        n_buses = int(re.search(r"n_buses = (\d+);", header).group(1))
        assert n_buses <= s.n_lanes and n_buses == len(set(zip(*[[wiring(l, c) for l in range(s.n_lanes)]
                                                                   for c in range(s.n_cycles)]))) or n_buses <= s.n_lanes
        assert header.count("+= p[") == s.n_registers
        assert header.count("+= reg[") == s.n_registers
        assert f"{layer.cname}_w_in" not in top and f"{layer.cname}_w_in" not in files[f"firmware/weights/{layer.cname}.h"]
        memory = "registers" if strategy == "latency" else "lutram"
        kernel = "dense_shift_lanes_" if pow2 else "dense_lanes_"
        assert f"fa::{kernel}{memory}<{layer.cname}_config>" in top
    assert "DATAFLOW" in top


def test_fully_parallel_layers_keep_constant_terms():
    ir, files = _project(1, "latency")
    assert "fa::dense_latency<d0_config>" in files["firmware/sched.cpp"]
    assert not any(path.startswith("firmware/schedules/") for path in files)
    assert "PIPELINE II=1" in files["firmware/sched.cpp"]
