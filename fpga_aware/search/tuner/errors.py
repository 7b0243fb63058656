"""The errors and warning of a search."""

from __future__ import annotations

from fpga_aware.core.config import ConfigError

__all__ = ["NoFeasibleTrialError", "NoFeasibleTrialWarning", "SearchConfigError"]


class NoFeasibleTrialError(RuntimeError):
    """No completed trial of the search is within the budget (or none completed)."""


class NoFeasibleTrialWarning(UserWarning):
    """A search ended without any trial within the budget."""


class SearchConfigError(ConfigError):
    """The search directory holds a search with other settings (part, budget, objective, ...)."""
