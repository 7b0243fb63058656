"""The errors of recipes: an invalid or unrunnable recipe, and a data set that is not here."""

from __future__ import annotations

__all__ = ["RecipeError", "DataUnavailableError"]


class RecipeError(ValueError):
    """A recipe is missing, invalid (the message names the key) or cannot run."""


class DataUnavailableError(RecipeError):
    """The recipe's data set is not on this machine (the message says how to get it)."""
