"""The FPGA cost model: :func:`estimate_for_tool` reads the IR and returns a :class:`CostReport`
for one tool (see :mod:`.model`, :mod:`.tools`, :mod:`.yosys` and ``docs/cost_model.md``)."""

from fpga_aware.cost.model import CostReport, LayerCost, estimate_ir
from fpga_aware.cost.tools import DEFAULT_TOOL, ESTIMATE_TOOLS, TOOL_PROFILES, ToolProfile

__all__ = ["CostReport", "LayerCost", "estimate_ir", "estimate_for_tool", "DEFAULT_TOOL", "ESTIMATE_TOOLS",
           "ToolProfile"]


def estimate_for_tool(ir, config=None, tool: str = DEFAULT_TOOL, rtl_options=None) -> CostReport:
    """The cost of ``ir`` as ``tool`` would report it: an HLS tool's profile
    (:data:`~fpga_aware.cost.tools.TOOL_PROFILES`: ``'vitis'``, ``'vivado'``) through
    :func:`estimate_ir`, or ``'yosys'`` for the Verilog backend (:mod:`fpga_aware.cost.yosys`)
    written with ``rtl_options`` (:class:`~fpga_aware.rtl.layers.RTLOptions`, e.g. the
    multiplier mode; only for ``'yosys'``)."""
    if tool == "yosys":
        from fpga_aware.cost.yosys import estimate_yosys
        from fpga_aware.rtl.layers import RTLOptions

        return estimate_yosys(ir, config, options=rtl_options if rtl_options is not None else RTLOptions())
    if rtl_options is not None:
        raise ValueError(f"estimate: rtl_options describe the Verilog backend; they apply to tool='yosys', not {tool!r}")
    if isinstance(tool, ToolProfile) or tool in TOOL_PROFILES:
        return estimate_ir(ir, config, tool=tool)
    raise ValueError(f"estimate: tool {tool!r} is not one of {list(ESTIMATE_TOOLS)}")
