"""Which pipeline stage lacks an entry for which layer kind or activation function.

Every IR layer kind (:data:`fpga_aware.core.ir.LAYER_KINDS`) needs one entry in each stage:

========== =========================================================== ===========================
stage      registry                                                    entry
========== =========================================================== ===========================
frontend   :data:`fpga_aware.frontend.builders.IR_BUILDERS`            builds the IR layer
zeros      :data:`fpga_aware.core.zeros.ZERO_RULES`                    which outputs are always 0
emulator   :data:`fpga_aware.sim.emulator.EMULATOR_RULES`              evaluates it bit for bit
cost       :data:`fpga_aware.cost.model.COST_RULES`                    estimates its resources
hls        :data:`fpga_aware.hls.layers.HLS_CONTEXTS`                  its template context
template   ``templates/firmware/layers/<kind>.j2``                     macros comment, call, config
rtl        :data:`fpga_aware.rtl.layers.RTL_CONTEXTS`                  its Verilog context, and
           ``templates/rtl/layers/<kind>.v.j2``                        its Verilog module
yosys      :data:`fpga_aware.cost.yosys.YOSYS_FEATURES`                what Yosys makes of it
========== =========================================================== ===========================

The Verilog backend writes every layer kind; a kind it does not write (a new one, until its
Verilog is written) is listed, with what is missing, in :data:`RTL_PENDING` (a layer of such a
kind is refused by name at export); :func:`missing_entries` reports any kind neither written nor
listed there.

The model input is converted by the emulator itself and is the top function's argument in
C++, so ``input`` has no emulator, HLS or template entry (:data:`NOT_APPLICABLE`).  Exactly
computed activation functions (:data:`fpga_aware.core.activations.EXACT_FUNCTIONS`) need an
emulator rule, a cost rule and a C++ function in ``fa_layers.h``; table functions need only
their entry in :data:`~fpga_aware.core.activations.ACTIVATIONS`.

``tests/test_conformance.py`` asserts that :func:`missing_entries` is empty; run
``fpga-aware conformance`` to list what a new kind still lacks.
"""

from __future__ import annotations

import re

from fpga_aware.core.activations import ACTIVATIONS, EXACT_FUNCTIONS
from fpga_aware.core.ir import LAYER_KINDS
from fpga_aware.core.registry import Registry
from fpga_aware.resources import template_root

__all__ = ["NOT_APPLICABLE", "RTL_PENDING", "TEMPLATE_MACROS", "stage_registries", "missing_entries", "stale_entries"]

#: ``(kind, stage) -> why that stage has no entry for that kind``.
NOT_APPLICABLE = {
    ("input", "emulator"): "the emulator converts the batch of doubles to the input type itself",
    ("input", "hls"): "the input is the top function's argument",
    ("input", "template"): "the input is the top function's argument",
}
#: Kinds the Verilog backend does not write, and why (issue "Hardware truth without a vendor
#: tool"); every other kind needs an RTL entry and a template.
RTL_PENDING = {
    "input": "not a layer in Verilog: the top module's x port",
}
#: The macros every ``templates/firmware/layers/<kind>.j2`` defines.
TEMPLATE_MACROS = ("comment", "call", "config")


def stage_registries() -> dict[str, Registry]:
    """The registry of each stage keyed by layer kind."""
    from fpga_aware.cost.model import COST_RULES
    from fpga_aware.frontend.builders import IR_BUILDERS
    from fpga_aware.hls.layers import HLS_CONTEXTS
    from fpga_aware.core.zeros import ZERO_RULES
    from fpga_aware.sim.emulator import EMULATOR_RULES

    return {"frontend": IR_BUILDERS, "zeros": ZERO_RULES, "emulator": EMULATOR_RULES, "cost": COST_RULES,
            "hls": HLS_CONTEXTS}


def activation_registries() -> dict[str, Registry]:
    """The registry of each stage keyed by exactly computed activation function."""
    from fpga_aware.cost.model import ACTIVATION_COSTS
    from fpga_aware.hls.layers import HLS_ACTIVATIONS
    from fpga_aware.sim.emulator import ACTIVATION_RULES

    return {"emulator": ACTIVATION_RULES, "cost": ACTIVATION_COSTS, "hls": HLS_ACTIVATIONS}


def _template_problem(kind: str) -> str | None:
    node = template_root() / "firmware" / "layers" / f"{kind}.j2"
    if not node.is_file():
        return f"templates/firmware/layers/{kind}.j2 is missing"
    text = node.read_text(encoding="utf-8")
    absent = [m for m in TEMPLATE_MACROS if not re.search(rf"{{%-?\s*macro\s+{m}\s*\(", text)]
    return f"templates/firmware/layers/{kind}.j2 lacks macro(s) {', '.join(absent)}" if absent else None


def missing_entries(kinds=LAYER_KINDS, functions=EXACT_FUNCTIONS) -> list[str]:
    """One line per missing entry: ``"<kind>: no <stage> entry"`` (empty when all is there)."""
    from fpga_aware.cost.yosys import YOSYS_FEATURES
    from fpga_aware.rtl.layers import RTL_CONTEXTS

    problems = []
    stages = stage_registries()
    for kind in kinds:
        for stage, registry in stages.items():
            if (kind, stage) not in NOT_APPLICABLE and kind not in registry:
                problems.append(f"layer kind {kind!r}: no {registry.stage} ({stage})")
        if (kind, "template") not in NOT_APPLICABLE:
            problem = _template_problem(kind)
            if problem:
                problems.append(f"layer kind {kind!r}: {problem}")
        if kind not in RTL_PENDING:
            if kind not in RTL_CONTEXTS:
                problems.append(f"layer kind {kind!r}: no Verilog context (rtl) and not in RTL_PENDING")
            if not (template_root() / "rtl" / "layers" / f"{kind}.v.j2").is_file():
                problems.append(f"layer kind {kind!r}: templates/rtl/layers/{kind}.v.j2 is missing")
            if kind not in YOSYS_FEATURES:
                problems.append(f"layer kind {kind!r}: no {YOSYS_FEATURES.stage} (yosys), though the Verilog backend "
                                f"writes it")
    fa_layers = (template_root() / "firmware" / "fa_layers.h.j2").read_text(encoding="utf-8")
    for function in functions:
        if function not in ACTIVATIONS:
            problems.append(f"activation {function!r}: not in fpga_aware.core.activations.ACTIVATIONS")
        for stage, registry in activation_registries().items():
            if function not in registry:
                problems.append(f"activation {function!r}: no {registry.stage} ({stage})")
        cpp = activation_registries()["hls"].get(function)
        if cpp is not None and not re.search(rf"\bvoid\s+{re.escape(cpp)}\s*\(", fa_layers):
            problems.append(f"activation {function!r}: fa_layers.h.j2 defines no function {cpp!r}")
    return problems


def stale_entries() -> list[str]:
    """Registry entries for kinds or functions that do not exist (left over after a rename)."""
    from fpga_aware.cost.yosys import YOSYS_FEATURES
    from fpga_aware.rtl.layers import RTL_CONTEXTS

    stale = [f"{stage}: {key!r}" for stage, reg in stage_registries().items() for key in reg if key not in LAYER_KINDS]
    stale += [f"rtl: {key!r} is written and also listed in RTL_PENDING" for key in RTL_CONTEXTS if key in RTL_PENDING]
    stale += [f"yosys: {key!r} is not a layer kind" for key in YOSYS_FEATURES if key not in LAYER_KINDS]
    stale += [f"RTL_PENDING: {key!r} is not a layer kind" for key in RTL_PENDING if key not in LAYER_KINDS]
    stale += [f"{stage} activation: {key!r}" for stage, reg in activation_registries().items() for key in reg
              if key not in EXACT_FUNCTIONS]
    return stale
