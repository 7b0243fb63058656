"""The static multiplier schedule of a dense layer: which lane multiplies which term in which cycle.

Computed once per :class:`~fpga_aware.core.ir.DenseLayer` (:attr:`DenseLayer.schedule`) and read
by every stage: the emulator accumulates in its order, the cost model counts its lanes,
multiplexers and registers, the HLS writer renders it with constant indices only.

The schedule
------------

The ``nnz`` nonzero weights, in the IR's term order (by output, then input), are terms
``k = 0 .. nnz - 1``.  With reuse factor ``R`` the layer runs ``C = min(R, nnz)`` cycles on
``P = ceil(nnz / C)`` multiplier lanes, **lane-major**::

    lane(k) = k // C        cycle(k) = k % C

So each lane multiplies ``C`` consecutive terms (the last lane possibly fewer): its input in
every cycle and the output each product belongs to are constants known at export.  Within a
lane the terms of one output are consecutive cycles, a *segment*; every segment accumulates in
its own register (``registers``), so no two terms of one cycle ever touch the same register and
the segment boundaries are constant comparisons on the cycle counter.  Lane-major is hls4ml's
Resource order too (``nnet_dense_resource.h``: multiplier ``im`` in cycle ``ir`` takes weight
``ir + R * im``) restricted to the stored terms; a lane spans at most ``C`` consecutive inputs of
one output, or whole outputs when ``C`` exceeds a column, so its input multiplexer has at most
``C`` distinct inputs.

Arithmetic (what the firmware computes, and the emulator)::

    reg[r] = 0                                   for every register r
    for cycle in 0 .. C - 1:                     # pipelined, II = 1
        for every lane with a term k in this cycle:
            reg[register(k)] = accum_t(reg[register(k)] + accum_t(x[in(k)] * w[k]))
    acc[o] = accum_t(bias[o])
    combine: acc[o] += its registers, in the order of ``combine_levels``
    y[o] = result_t(acc[o])

``combine`` is ``'tree'`` (a balanced adder tree over ``[acc[o], reg_1, reg_2, ...]``, pairs
of neighbours level by level) except for the Latency strategy at ``R == 1``, which is
``'chain'``: every product is its own register and is added to ``acc[o]`` in term order, the
firmware's fully unrolled sequential sum.  Order only matters for a saturating accumulator
(wrapping sums are modular, so associative); the emulator follows this order exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DenseSchedule", "ScheduleError", "build_schedule", "distinct_rows"]


class ScheduleError(AssertionError):
    """A schedule violates one of its invariants (see :meth:`DenseSchedule.check`)."""


def distinct_rows(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(row_index, rows)``: the distinct rows of the 2-D ``grid`` in order of first appearance,
    and per row of ``grid`` the index of its distinct row (``rows[row_index] == grid``)."""
    if not grid.size:
        return np.zeros(grid.shape[0], dtype=np.int64), grid.reshape(0, grid.shape[1])
    rows, first, index = np.unique(grid, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[index.reshape(-1)].astype(np.int64), rows[order]


@dataclass(frozen=True, eq=False)
class DenseSchedule:
    """The static schedule of one dense layer (arrays are ``int64``; see the module docstring).

    Per term ``k`` (the IR's term order): ``outs``, ``ins``, ``lane``, ``cycle``, ``register``.
    Per register ``r`` (ordered by term): ``register_lane``, ``register_out``,
    ``register_first`` and ``register_end`` (its cycles ``[first, end)``).
    ``combine_levels``: the adder levels after the cycle loop, each a pair of arrays
    ``(dst, src)`` of *node* numbers -- node ``o < n_out`` is ``acc[o]``, node ``n_out + r`` is
    ``reg[r]`` -- meaning ``node[dst] = accum_t(node[dst] + node[src])``; within a level every
    ``dst`` and ``src`` is distinct.
    """

    n_in: int
    n_out: int
    reuse_factor: int
    n_cycles: int
    n_lanes: int
    combine: str
    outs: np.ndarray
    ins: np.ndarray
    lane: np.ndarray
    cycle: np.ndarray
    register: np.ndarray
    register_lane: np.ndarray
    register_out: np.ndarray
    register_first: np.ndarray
    register_end: np.ndarray
    combine_levels: tuple[tuple[np.ndarray, np.ndarray], ...]

    # ------------------------------------------------------------------ sizes
    @property
    def n_terms(self) -> int:
        return int(self.outs.size)

    @property
    def n_registers(self) -> int:
        return int(self.register_lane.size)

    @property
    def n_slots(self) -> int:
        """Lanes times cycles: the terms a full schedule would hold (``>= n_terms``)."""
        return self.n_lanes * self.n_cycles

    @property
    def ii(self) -> int:
        """Cycles between two inputs: the cycle loop's trip count (1 for an empty layer)."""
        return max(1, self.n_cycles)

    def slot(self) -> np.ndarray:
        """Per term, its position in a cycle-major ``(n_cycles, n_lanes)`` memory: ``cycle * P + lane``."""
        return self.cycle * self.n_lanes + self.lane

    # ------------------------------------------------------------------ structure
    def lane_terms(self) -> np.ndarray:
        """Terms per lane (``C`` except possibly the last lane)."""
        return np.bincount(self.lane, minlength=self.n_lanes)

    def mux_inputs(self) -> np.ndarray:
        """Per lane, the number of distinct inputs it multiplies: its input multiplexer's width."""
        if not self.n_terms:
            return np.zeros(0, dtype=np.int64)
        pairs = np.unique(self.lane * max(1, self.n_in) + self.ins)
        return np.bincount(pairs // max(1, self.n_in), minlength=self.n_lanes)

    def input_sequences(self) -> np.ndarray:
        """``(n_lanes, n_cycles)``: the input each lane multiplies in each cycle (-1: idle)."""
        grid = np.full((self.n_lanes, self.n_cycles), -1, dtype=np.int64)
        grid[self.lane, self.cycle] = self.ins
        return grid

    def input_buses(self) -> tuple[np.ndarray, np.ndarray]:
        """Lanes that multiply the same input in every cycle share one input multiplexer (a *bus*,
        as the lanes of hls4ml's regular Resource pattern do).  Returns ``(lane_bus, buses)``:
        per lane its bus, and per bus its ``(n_cycles,)`` input sequence (-1: idle), in order of
        first use."""
        return distinct_rows(self.input_sequences())

    def bus_inputs(self) -> np.ndarray:
        """Per bus (:meth:`input_buses`), the number of distinct inputs it chooses from."""
        _, buses = self.input_buses()
        return np.array([np.unique(row[row >= 0]).size for row in buses], dtype=np.int64)

    def lane_registers(self) -> np.ndarray:
        """Per lane, the number of output segments (registers) it accumulates into."""
        return np.bincount(self.register_lane, minlength=self.n_lanes)

    def output_registers(self) -> np.ndarray:
        """Per output, the number of registers the final adder tree adds to its bias."""
        return np.bincount(self.register_out, minlength=self.n_out)

    @property
    def segment_boundaries(self) -> int:
        """Constant comparisons of the cycle counter: a lane's registers beyond its first."""
        return int(np.maximum(self.lane_registers() - 1, 0).sum())

    @property
    def combine_depth(self) -> int:
        return len(self.combine_levels)

    def summary(self) -> dict[str, int | float | str]:
        """The figures a designer reads: lanes, cycles, multiplexers, registers, adder tree."""
        mux = self.mux_inputs()
        return {
            "terms": self.n_terms,
            "lanes": self.n_lanes,
            "cycles": self.n_cycles,
            "registers": self.n_registers,
            "max_mux_inputs": int(mux.max(initial=0)),
            "mean_mux_inputs": float(mux.mean()) if mux.size else 0.0,
            "segment_boundaries": self.segment_boundaries,
            "padded_slots": self.n_slots - self.n_terms,
            "combine": self.combine,
            "combine_levels": self.combine_depth,
            "combine_adds": int(sum(d.size for d, _ in self.combine_levels)),
        }

    # ------------------------------------------------------------------ invariants
    def check(self) -> None:
        """Raise :class:`ScheduleError` unless every invariant the firmware relies on holds.

        Every term is in exactly one (lane, cycle) slot; ``n_lanes == ceil(nnz / R)`` (fewer
        cycles only when there are fewer terms than ``R``); no two terms of one cycle share a
        register; every register belongs to one lane and one output and covers consecutive
        cycles; the combine adds every register to its own output exactly once.
        """
        k = self.n_terms
        R = self.reuse_factor
        expected_cycles = min(R, k)
        if self.n_cycles != expected_cycles:
            raise ScheduleError(f"{self.n_cycles} cycles, expected min(R={R}, nnz={k}) = {expected_cycles}")
        expected_lanes = -(-k // R) if k else 0
        if self.n_lanes != expected_lanes:
            raise ScheduleError(f"{self.n_lanes} lanes, expected ceil(nnz/R) = {expected_lanes}")
        if k:
            if self.lane.min() < 0 or self.lane.max() >= self.n_lanes or self.cycle.min() < 0 or self.cycle.max() >= self.n_cycles:
                raise ScheduleError("a term lies outside the lanes x cycles grid")
            slots = self.slot()
            if np.unique(slots).size != k:
                raise ScheduleError("two terms share one (lane, cycle) slot")
            in_cycle = self.cycle * max(1, self.n_registers) + self.register
            if np.unique(in_cycle).size != k:
                raise ScheduleError("two terms of one cycle accumulate into the same register")
            if np.any(self.register_lane[self.register] != self.lane) or np.any(self.register_out[self.register] != self.outs):
                raise ScheduleError("a term's register belongs to another lane or output")
            span = self.register_end - self.register_first
            if np.any(np.bincount(self.register, minlength=self.n_registers) != span):
                raise ScheduleError("a register's terms are not its consecutive cycles")
            if np.any((self.cycle < self.register_first[self.register]) | (self.cycle >= self.register_end[self.register])):
                raise ScheduleError("a term lies outside its register's cycles")
        added = np.zeros(self.n_out + self.n_registers, dtype=np.int64)
        for dst, src in self.combine_levels:
            nodes = np.concatenate([dst, src])
            if np.unique(nodes).size != nodes.size:
                raise ScheduleError("a node is used twice in one adder level")
            np.add.at(added, src, 1)
        if np.any(added[: self.n_out] != 0) or np.any(added[self.n_out :] != 1):
            raise ScheduleError("the adder tree does not add every register exactly once")
        owner = np.arange(self.n_out + self.n_registers)
        owner[self.n_out :] = self.register_out
        for dst, src in self.combine_levels:
            if np.any(owner[dst] != owner[src]):
                raise ScheduleError("the adder tree adds a register to another output")


def build_schedule(outs: np.ndarray, ins: np.ndarray, n_in: int, n_out: int, reuse_factor: int,
                   combine: str) -> DenseSchedule:
    """The lane-major schedule of the terms ``(outs[k], ins[k])`` (sorted by output, then input)."""
    if combine not in ("tree", "chain"):
        raise ValueError(f"combine must be 'tree' or 'chain', got {combine!r}")
    R = int(reuse_factor)
    if R < 1:
        raise ValueError(f"reuse_factor {reuse_factor!r} must be an integer >= 1")
    outs = np.asarray(outs, dtype=np.int64)
    ins = np.asarray(ins, dtype=np.int64)
    nnz = int(outs.size)
    n_cycles = min(R, nnz)
    n_lanes = -(-nnz // n_cycles) if nnz else 0
    k = np.arange(nnz, dtype=np.int64)
    lane = k // n_cycles if nnz else k
    cycle = k % n_cycles if nnz else k

    # A register starts at every term whose (lane, output) differs from the previous term's.
    starts = np.ones(nnz, dtype=bool)
    if nnz:
        starts[1:] = (lane[1:] != lane[:-1]) | (outs[1:] != outs[:-1])
    register = np.cumsum(starts) - 1
    first_terms = np.flatnonzero(starts)
    end_terms = np.append(first_terms[1:], nnz)
    register_lane = lane[first_terms]
    register_out = outs[first_terms]
    register_first = cycle[first_terms]
    register_end = register_first + (end_terms - first_terms)

    levels = _combine_levels(register_out, n_out, combine)
    return DenseSchedule(
        n_in=int(n_in), n_out=int(n_out), reuse_factor=R, n_cycles=n_cycles, n_lanes=n_lanes, combine=combine,
        outs=outs, ins=ins, lane=lane, cycle=cycle, register=register.astype(np.int64),
        register_lane=register_lane, register_out=register_out, register_first=register_first,
        register_end=register_end, combine_levels=levels,
    )


def _combine_levels(register_out: np.ndarray, n_out: int, combine: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Adder levels over ``[acc[o], reg_1, reg_2, ...]`` per output (registers in term order).

    Position 0 is ``acc[o]`` (node ``o``); position ``p >= 1`` is the ``p``-th register of ``o``
    (node ``n_out + first[o] + p - 1``; registers are sorted by output).
    """
    counts = np.bincount(register_out, minlength=n_out).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    # every register's output and position (1-based) within its output
    reg_out = np.asarray(register_out, dtype=np.int64)
    position = np.arange(reg_out.size, dtype=np.int64) - first[reg_out] + 1 if reg_out.size else reg_out

    def node(out: np.ndarray, pos: np.ndarray) -> np.ndarray:
        return np.where(pos == 0, out, n_out + first[out] + pos - 1)

    levels = []
    if combine == "chain":
        for p in range(1, int(counts.max(initial=0)) + 1):
            sel = position == p
            src_out = reg_out[sel]
            levels.append((src_out.copy(), node(src_out, position[sel])))
        return tuple(levels)
    step = 1
    while reg_out.size and step <= int(counts.max(initial=0)):
        sel = (position % (2 * step)) == step  # the right operand of each pair at this level
        src_out, src_pos = reg_out[sel], position[sel]
        levels.append((node(src_out, src_pos - step), node(src_out, src_pos)))
        step *= 2
    return tuple(levels)
