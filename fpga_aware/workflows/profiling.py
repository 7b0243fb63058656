"""Numerical profiling: the values of every layer against the fixed-point type chosen for them.

:func:`profile` gathers, per IR layer,

* **weights and biases** (dense layers; scale and shift of a scale/shift layer): the float values
  the parser quantizes into ``weight_type``/``bias_type`` (the Keras kernel, times its pruning mask,
  with a following BatchNormalization folded in; QKeras quantizer outputs for ``QDense``), as the
  frontend's float view (:func:`fpga_aware.frontend.keras.float_view`) records them;
* **activations**: the float output of the Keras layer each IR layer came from (the float view's
  ``output_layer``), run on ``x``, against the layer's ``result_type``.  A Dense with its own
  activation is two IR layers:
  ``<dense>`` (the pre-activation sum, in the accumulator type) is profiled with
  ``input @ kernel + bias`` computed in float64 from the Keras layer's float input, and
  ``<dense>_<activation>`` with the Keras layer's output.  IR layers without a Keras
  counterpart use the emulator's values (``firmware.trace(x)``), which are already quantized
  and so cannot show an overflow.  The input layer is profiled with ``x`` itself.

For each it reports the range (min, max, percentiles), the fraction of values that **overflow**
the type (their rounded mantissa lies outside the type's range: the firmware wraps or
saturates them), the fraction of nonzero values that **underflow** (round to zero), the
largest difference between the emulator and the float value (activations), and
:attr:`ProfileEntry.suggested_integer_bits`: the fewest integer bits (sign bit included, same
fractional bits and rounding) with which no value overflows.

:meth:`Profile.figure` draws box plots of ``log2 |value|`` per layer with the representable
range of each type shaded (as hls4ml's numerical profiling does); :meth:`Profile.to_dict` and
``str()`` give the numbers.  Nothing here prints.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from fpga_aware.core.fixed import FixedType, rounded_mantissas
from fpga_aware.core.ir import ConvLayer, DenseLayer, InputLayer, ModelIR, ScaleShiftLayer
from fpga_aware.frontend.keras import build_ir, float_view

__all__ = ["ProfileEntry", "Profile", "profile", "suggest_integer_bits"]

logger = logging.getLogger(__name__)

#: Percentiles kept for every entry (of the raw values).
PERCENTILES = (0, 1, 5, 25, 50, 75, 95, 99, 100)
#: Most absolute values kept per entry for the figure (a uniform subsample beyond this).
MAX_PLOT_VALUES = 200_000


# ============================================================================ statistics
def suggest_integer_bits(values, t: FixedType) -> int | None:
    """The fewest integer bits (sign bit included) with which no value of ``values`` overflows a type
    with ``t``'s fractional bits and rounding; signed if ``t`` is or if a value is negative.

    ``None`` when there is no nonzero value.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not np.any(v != 0):
        return None
    r = rounded_mantissas(v, t)
    rmin, rmax = float(r.min()), float(r.max())
    signed = t.signed or rmin < 0
    need = -math.inf
    if signed:
        # signed: -2**(W-1) <= m <= 2**(W-1) - 1 with W = I + frac
        if rmax > 0:
            need = max(need, int(rmax).bit_length() + 1)
        if rmin < 0:
            need = max(need, int(-rmin - 1).bit_length() + 1)
        need = max(need, 1)
    else:
        need = max(int(rmax).bit_length(), 1) if rmax > 0 else 1
    return int(need) - t.frac


@dataclass
class ProfileEntry:
    """The values of one tensor of one layer against its fixed-point type."""

    layer: str  #: the IR layer name
    what: str  #: ``'input'``, ``'weight'``, ``'bias'``, ``'scale'``, ``'shift'`` or ``'activation'``
    kind: str  #: the IR layer kind (``dense``, ``activation``, ...)
    type: FixedType
    source: str  #: ``'keras'`` (float model), ``'input'`` (x), ``'emulator'`` (already quantized)
    count: int
    nonzero: int
    min: float
    max: float
    abs_max: float
    percentiles: dict[str, float]
    n_overflow: int
    n_underflow: int
    suggested_integer_bits: int | None
    max_abs_error: float | None = None  #: activations: max |emulator - float|
    abs_values: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    # -------------------------------------------------------------- derived
    @property
    def overflow_fraction(self) -> float:
        """Fraction of all values outside the type's range (after rounding)."""
        return self.n_overflow / self.count if self.count else 0.0

    @property
    def underflow_fraction(self) -> float:
        """Fraction of the nonzero values that round to zero."""
        return self.n_underflow / self.nonzero if self.nonzero else 0.0

    @property
    def overflows(self) -> bool:
        return self.n_overflow > 0

    @property
    def integer_bits(self) -> int:
        return self.type.integer

    @property
    def suggested_type(self) -> FixedType | None:
        """The type with :attr:`suggested_integer_bits` and the same fractional bits and modes."""
        bits = self.suggested_integer_bits
        if bits is None:
            return None
        signed = self.type.signed or self.min < 0
        width = bits + self.type.frac
        if not 1 <= width <= 62:
            return None
        return FixedType(width, bits, signed, self.type.rounding, self.type.overflow)

    def to_dict(self) -> dict[str, Any]:
        suggested = self.suggested_type
        return {
            "layer": self.layer,
            "what": self.what,
            "kind": self.kind,
            "type": self.type.cpp(),
            "source": self.source,
            "count": self.count,
            "nonzero": self.nonzero,
            "min": self.min,
            "max": self.max,
            "abs_max": self.abs_max,
            "percentiles": dict(self.percentiles),
            "n_overflow": self.n_overflow,
            "overflow_fraction": self.overflow_fraction,
            "n_underflow": self.n_underflow,
            "underflow_fraction": self.underflow_fraction,
            "integer_bits": self.integer_bits,
            "suggested_integer_bits": self.suggested_integer_bits,
            "suggested_type": suggested.cpp() if suggested is not None else None,
            "max_abs_error": self.max_abs_error,
        }


def _entry(layer, what: str, t: FixedType, values, source: str) -> ProfileEntry:
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = v[np.isfinite(v)]
    if finite.size != v.size:
        logger.warning("layer %r %s: %d NaN/infinite value(s) ignored", layer.name, what, v.size - finite.size)
    v = finite
    nz = v[v != 0]
    if v.size:
        r = rounded_mantissas(v, t)
        over = (r > t.max_mantissa) | (r < t.min_mantissa)
        n_over = int(np.count_nonzero(over))
        n_under = int(np.count_nonzero((v != 0) & (r == 0)))
        pct = np.percentile(v, PERCENTILES)
        percentiles = {f"p{p}": float(q) for p, q in zip(PERCENTILES, pct)}
        vmin, vmax = float(v.min()), float(v.max())
    else:
        n_over = n_under = 0
        percentiles = {}
        vmin = vmax = 0.0
    abs_nz = np.abs(nz)
    if abs_nz.size > MAX_PLOT_VALUES:
        abs_nz = abs_nz[:: int(math.ceil(abs_nz.size / MAX_PLOT_VALUES))]
    return ProfileEntry(
        layer=layer.name, what=what, kind=layer.kind, type=t, source=source, count=int(v.size),
        nonzero=int(nz.size), min=vmin, max=vmax, abs_max=float(max(abs(vmin), abs(vmax))),
        percentiles=percentiles, n_overflow=n_over, n_underflow=n_under,
        suggested_integer_bits=suggest_integer_bits(v, t), abs_values=abs_nz,
    )


# ============================================================================ the profile
@dataclass
class Profile:
    """Per-layer value ranges against the fixed-point types of one firmware."""

    project_name: str
    n_samples: int
    entries: list[ProfileEntry]

    def entry(self, layer: str, what: str = "activation") -> ProfileEntry:
        for e in self.entries:
            if e.layer == layer and e.what == what:
                return e
        have = [(e.layer, e.what) for e in self.entries]
        raise KeyError(f"no profile entry for layer {layer!r} ({what}); entries: {have}")

    def overflowing(self) -> list[ProfileEntry]:
        """Entries with at least one overflowing value."""
        return [e for e in self.entries if e.overflows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_name": self.project_name,
            "n_samples": self.n_samples,
            "entries": [e.to_dict() for e in self.entries],
        }

    def __str__(self) -> str:
        head = ("layer", "what", "type", "source", "min", "max", "overflow", "underflow", "int bits", "suggested")
        rows = [head]
        for e in self.entries:
            rows.append((
                e.layer, e.what, e.type.cpp(), e.source, f"{e.min:.4g}", f"{e.max:.4g}",
                f"{100 * e.overflow_fraction:.2f}%" + (" !" if e.overflows else ""),
                f"{100 * e.underflow_fraction:.2f}%",
                str(e.integer_bits),
                "-" if e.suggested_integer_bits is None else str(e.suggested_integer_bits),
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        left = {0, 1, 2, 3}
        lines = [f"Numerical profile of {self.project_name} on {self.n_samples} sample(s) "
                 "(overflow: share of values outside the type; underflow: share of nonzero values rounded to 0)"]
        for i, r in enumerate(rows):
            cells = [c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))]
            lines.append("  ".join(cells).rstrip())
            if i == 0:
                lines.append("-" * len(lines[-1]))
        bad = self.overflowing()
        if bad:
            lines.append(
                "overflow in: " + ", ".join(
                    f"{e.layer} {e.what} (needs {e.suggested_integer_bits} integer bits, has {e.integer_bits})"
                    for e in bad
                )
            )
        return "\n".join(lines)

    # -------------------------------------------------------------- figure
    def figure(self, which: str = "all"):
        """A matplotlib ``Figure``: box plots of ``log2 |value|`` per layer, type ranges shaded.

        ``which``: ``'all'`` (weights/biases and activations side by side), ``'weights'`` or
        ``'activations'``.  Boxes span the quartiles, whiskers the min and max of the nonzero
        magnitudes; the grey band of a row runs from the type's LSB to its largest magnitude;
        rows that overflow are drawn in red.
        """
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        groups = {
            "weights": ("weights and biases", [e for e in self.entries if e.what in ("weight", "bias", "scale", "shift")]),
            "activations": ("activations", [e for e in self.entries if e.what in ("activation", "input")]),
        }
        if which == "all":
            panels = [groups["weights"], groups["activations"]]
        elif which in groups:
            panels = [groups[which]]
        else:
            raise ValueError(f"which={which!r} is not one of 'all', 'weights', 'activations'")
        n_rows = max([len(p[1]) for p in panels] + [1])
        fig = Figure(figsize=(6.5 * len(panels), 1.0 + 0.45 * n_rows), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (title, entries) in zip(axes, panels):
            ax.set_title(title)
            ax.set_xlabel("log2 |value|")
            if not entries:
                ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
                ax.set_yticks([])
                continue
            positions = np.arange(1, len(entries) + 1)
            band_lo, band_hi = [], []
            for pos, e in zip(positions, entries):
                t = e.type
                top = max(abs(t.min_value), abs(t.max_value))
                if top > 0:
                    lo, hi = math.log2(t.lsb), math.log2(top)
                    band_lo.append(lo)
                    band_hi.append(hi)
                    ax.add_patch(Rectangle((lo, pos - 0.4), hi - lo, 0.8, facecolor="0.88", edgecolor="0.6",
                                           zorder=0))
            shown = [(pos, e, np.log2(e.abs_values)) for pos, e in zip(positions, entries)
                     if e.abs_values is not None and e.abs_values.size]
            for pos, e in zip(positions, entries):
                if e.abs_values is None or not e.abs_values.size:
                    ax.text(0.02, pos, "all zero", transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                            color="0.4")
            if shown:
                bp = ax.boxplot([d for _, _, d in shown], positions=[p for p, _, _ in shown], vert=False,
                                whis=(0, 100), showfliers=False, widths=0.6, patch_artist=True)
                for box, (_, e, _) in zip(bp["boxes"], shown):
                    box.set_facecolor("tab:red" if e.overflows else "tab:blue")
                    box.set_alpha(0.6)
            # x range: every type band, every maximum, and the smallest values down to 16 bits below
            # the finest LSB (a long tail of tiny values would squeeze the rest).
            highs = band_hi + [float(d.max()) for _, _, d in shown]
            lows = band_lo + [float(np.percentile(d, 5)) for _, _, d in shown]
            if highs and lows:
                floor = (min(band_lo) - 16) if band_lo else -math.inf
                ax.set_xlim(max(min(lows), floor) - 1, max(highs) + 1)
            ax.set_yticks(positions)
            ax.set_yticklabels([f"{e.layer} ({e.what})" if e.what != "activation" else e.layer for e in entries])
            ax.set_ylim(len(entries) + 0.6, 0.4)  # first layer on top
            ax.grid(axis="x", alpha=0.3)
        fig.suptitle(f"Numerical profile of {self.project_name} ({self.n_samples} samples)")
        return fig


# ============================================================================ gathering
def _firmware_for(model, firmware_or_config):
    from fpga_aware.core.config import FirmwareConfig
    from fpga_aware.firmware import Firmware, to_firmware

    if isinstance(firmware_or_config, Firmware):
        return firmware_or_config
    if model is None:
        raise TypeError("profile(model=None, ...) needs a Firmware as firmware_or_config")
    if firmware_or_config is None:
        return to_firmware(model)
    if isinstance(firmware_or_config, FirmwareConfig):
        return Firmware(build_ir(model, firmware_or_config), firmware_or_config)
    if isinstance(firmware_or_config, Mapping):
        return to_firmware(model, **dict(firmware_or_config))
    raise TypeError(
        "firmware_or_config must be a Firmware, a FirmwareConfig, a dict of to_firmware options or None, "
        f"got {type(firmware_or_config).__name__}"
    )


def _keras_tensors(model, ir: ModelIR, view) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(outputs, fused_inputs)``: the Keras tensor whose value is each IR layer's output, and for a
    Dense with its own activation the Keras tensor of its input (for the pre-activation sum), as
    the float view (:func:`fpga_aware.frontend.keras.float_view`) records them."""
    names = {layer.name for layer in ir.layers}
    outputs: dict[str, Any] = {}
    fused_inputs: dict[str, Any] = {}
    for fl in view:
        if fl.kind == "input" or fl.name not in names:
            continue
        if fl.output_layer is not None:
            outputs[fl.name] = model.get_layer(fl.output_layer).output
        elif fl.weights is not None and fl.keras_layer is not None and fl.kind == "dense":  # the pre-activation sum
            fused_inputs[fl.name] = model.get_layer(fl.keras_layer).input  # (a conv's needs its patches: none)
    return outputs, fused_inputs


def _run_keras(model, x: np.ndarray, tensors: list) -> list[np.ndarray]:
    """Float values of Keras tensors of ``model`` on ``x`` (one multi-output sub-model, one pass)."""
    from fpga_aware._stack import keras

    k = keras()
    unique: list = []
    for t in tensors:
        if not any(t is u for u in unique):
            unique.append(t)
    model_input = model.inputs[0]
    computed = [t for t in unique if t is not model_input]
    values: dict[int, np.ndarray] = {id(model_input): np.asarray(x)}
    if computed:
        sub = k.Model(model.inputs, computed)
        out = sub.predict(x, batch_size=max(1, min(len(x), 1024)), verbose=0)
        if len(computed) == 1:
            out = [out]
        for t, v in zip(computed, out):
            values[id(t)] = np.asarray(v)
    return [values[id(t)] for t in tensors]


def profile(model, x, firmware_or_config=None) -> Profile:
    """Profile weights, biases and activations of ``model`` on inputs ``x`` against the firmware's types.

    ``firmware_or_config``: a :class:`~fpga_aware.Firmware` (converted from ``model``), a dict of
    :func:`~fpga_aware.to_firmware` options (``part``, ``precision``, ``layer_config``, ...), a
    :class:`~fpga_aware.FirmwareConfig`, or ``None`` for the defaults.  ``model`` may be ``None``
    with a Firmware: then everything comes from the IR and the emulator (no float reference).
    """
    firmware = _firmware_for(model, firmware_or_config)
    ir: ModelIR = firmware.ir
    x_arr = np.asarray(x, dtype=np.float64)
    if x_arr.ndim == 0:
        raise ValueError("profile: x must be a batch of inputs, got a scalar")
    trace = firmware.trace(x_arr)  # validates the shape (InputShapeError)
    n = int(x_arr.shape[0]) if x_arr.ndim > 1 else 1
    batch = x_arr.reshape(n, -1)

    view = None
    float_out: dict[str, np.ndarray] = {}
    if model is not None:
        try:
            view = float_view(model)
        except Exception as err:  # noqa: BLE001 - fall back to the IR's (quantized) values
            logger.warning("profile: cannot read the float weights of the model (%s); using the IR's values", err)
    if view is not None:
        try:
            outputs, fused_inputs = _keras_tensors(model, ir, view)
            names = list(outputs) + list(fused_inputs)
            values = _run_keras(model, x_arr.astype(np.float32).reshape((n, *ir.input.shape)) if ir.input.shape
                                else x_arr.astype(np.float32), list(outputs.values()) + list(fused_inputs.values()))
            got = dict(zip(names, values))
            for name in outputs:
                float_out[name] = got[name].reshape(n, -1)
            for name in fused_inputs:
                fl = view[name]
                float_out[name] = got[name].reshape(n, -1).astype(np.float64) @ fl.weights + fl.bias
        except Exception as err:  # noqa: BLE001 - the emulator alone still gives a profile
            logger.warning("profile: cannot evaluate the Keras model layer by layer (%s); using emulator values", err)
            float_out = {}

    entries: list[ProfileEntry] = []
    for layer in ir.layers:
        if isinstance(layer, InputLayer):
            entries.append(_entry(layer, "input", layer.result_type, batch, "input"))
            continue
        if isinstance(layer, (DenseLayer, ConvLayer)):  # a convolution: its per-pixel product's numbers
            fl = view.get(layer.name) if view is not None else None
            product = layer.product if isinstance(layer, ConvLayer) else layer
            if fl is not None and fl.weights is not None and fl.weights.shape == layer.weights.shape:
                kernel, bias, src = fl.weights, fl.bias, "keras"
            else:
                kernel, bias, src = product.weight_values(), product.bias_values(), "emulator"
            entries.append(_entry(layer, "weight", layer.weight_type, kernel, src))
            entries.append(_entry(layer, "bias", layer.bias_type, bias, src))
        elif isinstance(layer, ScaleShiftLayer):
            fl = view.get(layer.name) if view is not None else None
            if fl is not None and fl.scale is not None:
                scale, shift, src = fl.scale, fl.shift, "keras"
            else:
                scale, shift = layer.scale_type.to_float(layer.scale), layer.shift_type.to_float(layer.shift)
                src = "emulator"
            entries.append(_entry(layer, "scale", layer.scale_type, scale, src))
            entries.append(_entry(layer, "shift", layer.shift_type, shift, src))
        emulated = trace[layer.name].reshape(n, -1)
        reference = float_out.get(layer.name)
        if reference is not None and reference.shape == emulated.shape:
            entry = _entry(layer, "activation", layer.result_type, reference, "keras")
            entry.max_abs_error = float(np.max(np.abs(emulated - reference))) if emulated.size else 0.0
        else:
            if reference is not None:
                logger.warning("profile: layer %r: Keras output shape %s differs from the firmware's %s; "
                               "using emulator values", layer.name, reference.shape, emulated.shape)
            entry = _entry(layer, "activation", layer.result_type, emulated, "emulator")
        entries.append(entry)
    return Profile(project_name=ir.project_name, n_samples=n, entries=entries)
