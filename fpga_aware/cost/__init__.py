"""The FPGA cost model: :func:`estimate` reads the IR and returns a :class:`CostReport` for one
tool (see :mod:`.model`, :mod:`.tools`, :mod:`.yosys` and ``docs/cost_model.md``)."""

from fpga_aware.cost.model import CostReport, LayerCost, estimate_ir
from fpga_aware.cost.tools import DEFAULT_TOOL, ESTIMATE_TOOLS, TOOL_PROFILES, ToolProfile

__all__ = ["CostReport", "LayerCost", "estimate_ir", "estimate_for_tool", "DEFAULT_TOOL", "ESTIMATE_TOOLS",
           "ToolProfile"]


def estimate_for_tool(ir, config=None, tool: str = DEFAULT_TOOL) -> CostReport:
    """The cost of ``ir`` as ``tool`` would report it: an HLS tool's profile
    (:data:`~fpga_aware.cost.tools.TOOL_PROFILES`: ``'vitis'``, ``'vivado'``) through
    :func:`estimate_ir`, or ``'yosys'`` for the Verilog backend (:mod:`fpga_aware.cost.yosys`)."""
    if tool == "yosys":
        from fpga_aware.cost.yosys import estimate_yosys

        return estimate_yosys(ir, config)
    if isinstance(tool, ToolProfile) or tool in TOOL_PROFILES:
        return estimate_ir(ir, config, tool=tool)
    raise ValueError(f"estimate: tool {tool!r} is not one of {list(ESTIMATE_TOOLS)}")
