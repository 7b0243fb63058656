"""Keras (tf-keras, QKeras, tfmot) → IR.

* :mod:`.keras`: the model walk, :func:`build_ir`, :func:`parse` (IR and float view) and
  :func:`float_view`;
* :mod:`.handlers`: one handler per Keras class (:data:`~.handlers.KERAS_HANDLERS`);
* :mod:`.pending`: the float items between a Keras layer and an IR layer, each with its IR kind;
* :mod:`.folding`: BatchNormalization folded into the preceding float Dense;
* :mod:`.builders`: one IR builder per IR layer kind (:data:`~.builders.IR_BUILDERS`);
* :mod:`.layer_config`: ``layer_config`` entries checked against the chain;
* :mod:`.overflow`: stored numbers checked against their types;
* :mod:`.floatview`: the float view (which Keras layer each IR layer came from, its float numbers);
* :mod:`.identifiers`: C++ names for layer names; :mod:`.errors`: the errors;
* :mod:`.quantizers`: QKeras quantizers → fixed-point types; :mod:`.model_io`: model loading.

``build_ir``, ``parse``, ``float_view``, ``FloatView``, ``FloatLayer`` and ``Parse`` are
reachable here too (imported on first use).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "build_ir": "keras", "parse": "keras", "float_view": "keras", "Parse": "keras",
    "FloatView": "floatview", "FloatLayer": "floatview",
    "KERAS_HANDLERS": "handlers", "SUPPORTED_LAYERS": "handlers", "IR_BUILDERS": "builders",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
