"""IRs of published designs, rebuilt for the cost model's calibration and validation.

A published C-synthesis report describes a design (architecture, precision, reuse factor,
strategy, sparsity, weights); :func:`design_ir` rebuilds it as a :class:`ModelIR` with
hls4ml-like types (one precision for weights, biases, accumulators and activations unless the
design says otherwise), so that :func:`fpga_aware.cost.model.estimate_ir` can be compared with
the report.  Used by ``tests/test_cost*.py`` and ``benchmarks/hls_calibration.py``.

Weights: ``'jet'`` is the hls4ml example-models jet tagger (``KERAS_3layer_weights.h5`` in
the shared models folder) for 16-64-32-32-5 designs; ``'random'`` draws seeded nonzero
weights of the design's type (for designs whose trained weights are not public; a trained
model has more small weights, so its DSP count is lower than a random one's).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from fpga_aware.core.fixed import FixedType, Overflow, Rounding, parse_precision
from fpga_aware.core.ir import (
    ActivationLayer,
    DenseLayer,
    InputLayer,
    LookupTable,
    ModelIR,
    SoftmaxLayer,
    Strategy,
)

__all__ = ["mlp_ir", "softmax_layer", "jet_weights", "design_ir", "JET_LAYERS", "DesignError"]

#: The Dense layers of the jet tagger's weight file, in order.
JET_LAYERS = ("fc1_relu", "fc2_relu", "fc3_relu", "output_softmax")
FIX16 = FixedType(16, 6)


class DesignError(ValueError):
    """A design description the builder cannot rebuild (the message names the field)."""


def softmax_layer(name: str, x_type: FixedType, n: int, table_size: int = 1024) -> SoftmaxLayer:
    """hls4ml's default softmax: 18-bit exp and 1/x tables of ``table_size`` entries."""
    exp_t = FixedType(18, 1, signed=False)
    diff_t = FixedType(x_type.width + 1, x_type.integer + 1)
    log_n = max(1, math.ceil(math.log2(n)))
    sum_t = FixedType(18 + log_n, 1 + log_n, signed=False)

    def table(t: FixedType) -> LookupTable:
        return LookupTable(shift=0, offset=0, values=np.zeros(table_size, np.int64), value_type=t)

    return SoftmaxLayer(name=name, cname=name, n_in=n, n_out=n, input_type=x_type, result_type=x_type,
                        diff_type=diff_t, exp_table=table(exp_t), sum_type=sum_t, inv_table=table(exp_t))


def mlp_ir(
    kernels: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    *,
    names: Sequence[str] | None = None,
    input_type: FixedType = FIX16,
    weight_type: FixedType = FIX16,
    accum_type: FixedType = FIX16,
    relu_type: FixedType = FIX16,
    reuse: "Sequence[int] | int" = 1,
    strategy: Strategy = Strategy.LATENCY,
    softmax: bool = True,
    mantissas: bool = False,
    project_name: str = "calibration",
) -> ModelIR:
    """A chain Input -> (Dense -> ReLU)* -> Dense [-> Softmax] with hls4ml-like types.

    ``kernels`` are floats quantised to ``weight_type`` (round to nearest, saturate), or
    mantissas when ``mantissas=True``.
    """
    names = list(names or [f"dense{i + 1}" for i in range(len(kernels))])
    reuse = list(reuse) if not isinstance(reuse, int) else [reuse] * len(kernels)
    qt = weight_type.with_modes(Rounding.RND, Overflow.SAT)
    layers: list = [InputLayer(name="input_1", cname="input_1", n_in=kernels[0].shape[0],
                               n_out=kernels[0].shape[0], input_type=input_type, result_type=input_type)]
    x_t = input_type
    for i, (k, b) in enumerate(zip(kernels, biases)):
        n_in, n_out = k.shape
        w = np.asarray(k, np.int64) if mantissas else qt.from_float(k)
        bm = np.asarray(b, np.int64) if mantissas else qt.from_float(b)
        layers.append(DenseLayer(name=names[i], cname=names[i], n_in=n_in, n_out=n_out, input_type=x_t,
                                 result_type=accum_type, weight_type=weight_type, bias_type=weight_type,
                                 accum_type=accum_type, weights=w, bias=bm, reuse_factor=reuse[i],
                                 strategy=strategy))
        if i < len(kernels) - 1:
            layers.append(ActivationLayer(name=names[i] + "_relu", cname=names[i] + "_relu", n_in=n_out,
                                          n_out=n_out, input_type=accum_type, result_type=relu_type,
                                          function="relu"))
            x_t = relu_type
        elif softmax:
            layers.append(softmax_layer(names[i] + "_softmax", accum_type, n_out))
    return ModelIR(project_name=project_name, layers=layers)


def _prune_smallest(k: np.ndarray, sparsity: float) -> np.ndarray:
    """Zero the ``sparsity`` fraction of smallest-magnitude weights (exactly, per layer)."""
    keep = int(round((1.0 - sparsity) * k.size))
    order = np.argsort(-np.abs(k), axis=None, kind="stable")
    mask = np.zeros(k.size, bool)
    mask[order[:keep]] = True
    return np.where(mask.reshape(k.shape), k, 0.0)


def jet_weights(path: "str | Path", sparsity: float = 0.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The pretrained jet tagger's kernels and biases (``KERAS_3layer_weights.h5``); with
    ``sparsity`` each layer keeps its largest ``1 - sparsity`` weights, as tfmot's schedule
    ends (the 70 %-pruned retrained file is not pruned per layer: fc1 58 %, fc2 77 %, ...)."""
    import h5py

    kernels, biases = [], []
    with h5py.File(path, "r") as f:
        for name in JET_LAYERS:
            k = np.array(f[name][name]["kernel:0"], dtype=np.float64)
            b = np.array(f[name][name]["bias:0"], dtype=np.float64)
            kernels.append(_prune_smallest(k, sparsity) if sparsity else k)
            biases.append(b)
    return kernels, biases


def _random_weights(sizes: Sequence[int], weight_type: FixedType, sparsity: float, seed: int):
    """Seeded nonzero mantissas spread over the type's range (log-uniform magnitudes, like
    trained weights), with ``sparsity`` of them zeroed."""
    rng = np.random.default_rng(seed)
    top = max(1, int(weight_type.max_mantissa))
    kernels, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        mag = np.maximum(1, np.exp(rng.uniform(0, math.log(top), size=(n_in, n_out)))).astype(np.int64)
        k = np.where(rng.random((n_in, n_out)) < 0.5, -mag, mag)
        if sparsity:
            k[rng.random((n_in, n_out)) < sparsity] = 0
        kernels.append(k)
        biases.append(rng.integers(-top // 4, top // 4 + 1, size=n_out))
    return kernels, biases


def design_ir(spec: Mapping[str, Any], models_dir: "str | Path | None" = None) -> ModelIR:
    """The IR of a design description (keys of ``benchmarks/data/published_reports.json``'s
    ``build`` objects): ``sizes`` (layer widths, input first), ``weights`` (``'jet'`` or
    ``'random'``), ``sparsity`` (0-1), ``precision`` (default type), optional ``weight_precision``,
    ``relu_precision``, ``accum_precision``, ``reuse_factor`` (an int or one per dense layer),
    ``strategy`` (``'latency'``/``'resource'``), ``softmax`` (bool), ``seed``, and
    ``quantized_frac``: trained float weights are first rounded to multiples of
    ``2**-quantized_frac`` (a QKeras ``quantized_bits`` kernel), then held in ``weight_precision``
    (hls4ml may give them a wider type, e.g. ``quantized_bits(6, 0)`` as ``ap_fixed<7,1>``)."""
    try:
        sizes = [int(n) for n in spec["sizes"]]
    except (KeyError, TypeError, ValueError):
        raise DesignError(f"design needs 'sizes' (layer widths, input first), got {spec.get('sizes')!r}") from None
    default = parse_precision(spec.get("precision", "ap_fixed<16,6>"))
    weight_t = parse_precision(spec.get("weight_precision", default))
    relu_t = parse_precision(spec.get("relu_precision", default))
    accum_t = parse_precision(spec.get("accum_precision", default))
    sparsity = float(spec.get("sparsity", 0.0))
    strategy = Strategy(str(spec.get("strategy", "latency")).lower())
    source = spec.get("weights", "random")
    if source == "jet":
        if sizes != [16, 64, 32, 32, 5]:
            raise DesignError(f"weights 'jet' are the 16-64-32-32-5 jet tagger's; the design has sizes {sizes}")
        folder = Path(models_dir) if models_dir is not None else Path("../shared/models")
        kernels, biases = jet_weights(folder / "KERAS_3layer_weights.h5", sparsity)
        mantissas = False
        if spec.get("quantized_frac") is not None:
            step = 2.0 ** -int(spec["quantized_frac"])
            kernels = [np.round(k / step) * step for k in kernels]
            biases = [np.round(b / step) * step for b in biases]
    elif source == "random":
        kernels, biases = _random_weights(sizes, weight_t, sparsity, int(spec.get("seed", 0)))
        mantissas = True
    else:
        raise DesignError(f"design weights must be 'jet' or 'random', got {source!r}")
    return mlp_ir(kernels, biases, input_type=default, weight_type=weight_t, accum_type=accum_t, relu_type=relu_t,
                  reuse=spec.get("reuse_factor", 1), strategy=strategy, softmax=bool(spec.get("softmax", True)),
                  mantissas=mantissas)
