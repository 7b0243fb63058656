"""The FPGA cost model: :func:`estimate_ir` reads the IR and returns a :class:`CostReport`
(see :mod:`.model` and ``docs/cost_model.md``)."""

from fpga_aware.cost.model import CostReport, LayerCost, estimate_ir

__all__ = ["CostReport", "LayerCost", "estimate_ir"]
