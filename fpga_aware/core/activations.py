"""The one list of activation functions the firmware implements.

Each :class:`ActivationFunction` says how the firmware computes it:

* ``"exact"``: by arithmetic on the fixed-point value (``linear``, ``relu``); each stage has
  its own entry for it (an emulator rule, a C++ function in ``fa_layers.h``, a cost rule),
  found in that stage's registry under the function's name;
* ``"table"``: by a :class:`~fpga_aware.core.ir.LookupTable` of :attr:`reference` over
  :attr:`domain` (``sigmoid``, ``tanh``); every stage treats all table functions alike, so
  adding one is this one entry.  A table function whose tails are not flat says how they are
  computed, still in this entry: :attr:`linear_above` (``f(x) = slope * x`` exactly from there
  on: ELU, SELU, softplus to within its output precision; the firmware multiplies by a
  fixed-point ``slope``) or :attr:`cascade` (coarser tables out to the input type's whole range:
  softsign, which approaches ±1 too slowly for an end entry).  :attr:`parameters` are the
  Keras arguments of a parameterised function (ELU's ``alpha``): the frontend passes them, the
  table and the slope are computed from them.

``softmax`` is an activation for Keras but a layer kind of its own in the IR (it reads the
whole vector); so is ``leaky_relu`` (:data:`PARAMETRIC_FUNCTIONS`: a ``parametric_relu`` layer,
which carries its slope).  :data:`KERAS_ACTIVATIONS` is what the frontend accepts by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["SELU_ALPHA", "SELU_SCALE", "ActivationFunction", "ACTIVATIONS", "KERAS_ACTIVATIONS", "TABLE_FUNCTIONS",
           "EXACT_FUNCTIONS", "PARAMETRIC_FUNCTIONS", "activation"]


@dataclass(frozen=True)
class ActivationFunction:
    name: str
    arithmetic: str  #: "exact" or "table"
    reference: Callable[[np.ndarray], np.ndarray]  #: the float function (Keras' definition)
    domain: tuple[float, float] | None = None  #: table functions: the input range tabulated
    description: str = ""
    #: ``(name, default)`` of each parameter; ``reference(x, **params)`` takes them.
    parameters: tuple[tuple[str, float], ...] = ()
    #: ``f(x) == slope(**params) * x`` for ``x >= linear_above`` (the table ends below it).
    linear_above: float | None = None
    slope: Callable[..., float] | None = None
    #: Tabulate beyond ``domain`` with coarser tables (``LookupTable.outer``) to the type's range.
    cascade: bool = False
    #: ``|f(x) - f(end of domain)|`` bound beyond the domain's flat ends (``**params``), for
    #: tests and docs; 0 where the end entries are exact.
    tail_error: Callable[..., float] = lambda **params: 0.0

    @property
    def uses_table(self) -> bool:
        return self.arithmetic == "table"

    def params(self, given: dict | None = None) -> dict[str, float]:
        """The parameters, defaults filled in; raises on a name the function does not take."""
        given = dict(given or {})
        unknown = set(given) - {name for name, _ in self.parameters}
        if unknown:
            raise ValueError(f"activation {self.name!r} takes no parameter {', '.join(sorted(unknown))}")
        return {name: float(given.get(name, default)) for name, default in self.parameters}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


#: tf.nn.selu's constants (tf-keras' activations.selu).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    # tf-keras backend.elu: x if x > 0 else alpha * (exp(x) - 1)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)  # log(exp(x) + 1), without overflow


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
        # Below -8 the end entry (-alpha) is off by alpha * exp(-8) at most; x >= 0 is x * 1.
        ActivationFunction("elu", "table", _elu, (-8.0, 0.0), "x if x > 0 else alpha (exp(x) - 1): table, linear x >= 0",
                           parameters=(("alpha", 1.0),), linear_above=0.0, slope=lambda alpha=1.0: 1.0,
                           tail_error=lambda alpha=1.0: abs(alpha) * math.exp(-8.0)),
        ActivationFunction("selu", "table", lambda x: SELU_SCALE * _elu(x, SELU_ALPHA), (-8.0, 0.0),
                           "scale * elu(x, alpha): table, linear x >= 0 (slope scale)",
                           linear_above=0.0, slope=lambda: SELU_SCALE,
                           tail_error=lambda: SELU_SCALE * SELU_ALPHA * math.exp(-8.0)),
        # softplus(x) - x = log(1 + exp(-x)) < exp(-8) for x >= 8; softplus(x) < exp(-8) below -8.
        ActivationFunction("softplus", "table", _softplus, (-8.0, 8.0), "log(exp(x) + 1): table, linear x >= 8",
                           linear_above=8.0, slope=lambda: 1.0, tail_error=lambda: math.exp(-8.0)),
        ActivationFunction("softsign", "table", lambda x: x / (np.abs(x) + 1.0), (-8.0, 8.0),
                           "x / (|x| + 1): table, coarser tables out to the input range", cascade=True),
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
