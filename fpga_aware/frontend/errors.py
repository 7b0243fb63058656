"""The errors the Keras frontend raises: each names the layer and what to change."""

from __future__ import annotations

from fpga_aware.core.fixed import PrecisionError

__all__ = ["UnsupportedLayerError", "InvalidModelError", "LayerPrecisionError", "WeightOverflowError"]


class UnsupportedLayerError(ValueError):
    """The model contains a layer (or layer option) the firmware cannot implement."""


class InvalidModelError(ValueError):
    """The model cannot be converted (not a tf-keras model, not a chain, NaN weights, ...)."""


class LayerPrecisionError(InvalidModelError, PrecisionError):
    """A layer's numbers do not fit its fixed-point types (the message names the layer)."""


class WeightOverflowError(LayerPrecisionError):
    """A weight, bias, scale, shift or table entry lies outside its type's range: converting it
    would wrap or saturate it.  The message names the layer, the value and a type that holds it."""
