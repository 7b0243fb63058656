"""The one list of activation functions the firmware implements.

Each :class:`ActivationFunction` says how the firmware computes it:

* ``"exact"``: by arithmetic on the fixed-point value (``linear``, ``relu``); each stage has
  its own entry for it (an emulator rule, a C++ function in ``fa_layers.h``, a cost rule),
  found in that stage's registry under the function's name;
* ``"table"``: by a :class:`~fpga_aware.core.ir.LookupTable` of :attr:`reference` over
  :attr:`domain` (``sigmoid``, ``tanh``); every stage treats all table functions alike, so
  adding one is this one entry.

``softmax`` is an activation for Keras but a layer kind of its own in the IR (it reads the
whole vector); so is ``leaky_relu`` (:data:`PARAMETRIC_FUNCTIONS`: a ``parametric_relu`` layer,
which carries its slope).  :data:`KERAS_ACTIVATIONS` is what the frontend accepts by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["ActivationFunction", "ACTIVATIONS", "KERAS_ACTIVATIONS", "TABLE_FUNCTIONS", "EXACT_FUNCTIONS",
           "PARAMETRIC_FUNCTIONS", "activation"]


@dataclass(frozen=True)
class ActivationFunction:
    name: str
    arithmetic: str  #: "exact" or "table"
    reference: Callable[[np.ndarray], np.ndarray]  #: the float function (Keras' definition)
    domain: tuple[float, float] | None = None  #: table functions: the input range tabulated
    description: str = ""

    @property
    def uses_table(self) -> bool:
        return self.arithmetic == "table"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS: dict[str, ActivationFunction] = {
    f.name: f
    for f in (
        ActivationFunction("linear", "exact", lambda x: x, description="identity, cast to the result type"),
        ActivationFunction("relu", "exact", lambda x: np.maximum(x, 0.0), description="max(x, 0), exact"),
        # Outside the domain the end entries apply: both functions are flat there to within
        # their output precision.
        ActivationFunction("sigmoid", "table", _sigmoid, (-8.0, 8.0), "1 / (1 + exp(-x)), table"),
        ActivationFunction("tanh", "table", np.tanh, (-4.0, 4.0), "tanh(x), table"),
        # tf-keras' definition: 0 below -2.5, 1 above 2.5 (so the end entries are exact there).
        ActivationFunction("hard_sigmoid", "table", lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0), (-2.5, 2.5),
                           "clip(0.2 x + 0.5, 0, 1), table"),
    )
}

TABLE_FUNCTIONS = tuple(name for name, f in ACTIVATIONS.items() if f.uses_table)
EXACT_FUNCTIONS = tuple(name for name, f in ACTIVATIONS.items() if not f.uses_table)
#: Activation names that become a ``parametric_relu`` layer (:class:`~fpga_aware.core.ir.ParametricReLULayer`),
#: with the slope of the Keras function's default (``tf.nn.leaky_relu``: ``alpha=0.2``).
PARAMETRIC_FUNCTIONS = ("leaky_relu",)
#: Activation names the frontend accepts (``Activation('softmax')`` becomes a softmax layer).
KERAS_ACTIVATIONS = (*ACTIVATIONS, "softmax", *PARAMETRIC_FUNCTIONS)


def activation(name: str) -> ActivationFunction:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise KeyError(f"unknown activation {name!r}; the firmware implements {', '.join(KERAS_ACTIVATIONS)}") from None
