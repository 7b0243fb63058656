"""Convolution and pooling against hls4ml's own C simulation: the same arithmetic, bit for bit.

``fpga_aware.core.ir.PoolingLayer`` documents average pooling as hls4ml's ``nnet::avg``: the sum
of the window's non-padding cells, then ``accum_t`` divided by their count (ap_fixed's division:
the dividend's LSB, truncated toward zero), then the result type.  This script converts the same
tf-keras pooling models with fpga_aware and with hls4ml 1.3.0 (Vivado backend, io_parallel,
``default_precision`` = fpga_aware's ``precision``) and compares both C simulations' outputs on
values of the input type, exactly (they are fixed-point values).  hls4ml's ``accum_t`` is the
default precision, so the models keep the sums inside it (inputs in [-1, 1], windows of at most
25 cells, ``ap_fixed<18,8>``); fpga_aware's sum type is exact whatever the window.

A convolution is compared with fpga_aware's accumulator and result types set to hls4ml's
defaults (``accum_t`` = ``result_t`` = the default precision; both assign every product to
``accum_t`` before adding it, so the sums agree in any order while they do not wrap).

Run: ``python benchmarks/hls4ml_conv_pooling.py`` (about a minute per model: two g++ builds).
Measured (hls4ml 1.3.0, g++ 12): 0 mismatches on each model below.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

import fpga_aware as fa  # noqa: E402
from fpga_aware._stack import keras  # noqa: E402

PRECISION = "ap_fixed<18,8>"


def models():
    """name -> (model, fpga_aware layer_config)."""
    L = keras().layers
    Sequential, Input = keras().Sequential, keras().Input
    keras().utils.set_random_seed(0)
    conv = Sequential([Input((7, 7, 2)), L.Conv2D(3, 3, strides=2, padding="same", name="c1"),
                       L.Activation("relu"), L.Conv2D(2, 2, name="c2"), L.Flatten()])
    hls4ml_types = {n: {"precision": {"accum": PRECISION, "result": PRECISION}} for n in ("c1", "c2")}
    pools = {
        "avg 2x2 valid + global average": Sequential([Input((6, 6, 2)), L.AveragePooling2D(2, strides=1), L.GlobalAveragePooling2D()]),
        "avg 3x3/2 same + max 2x2 same + global average": Sequential([
            Input((6, 6, 2)), L.AveragePooling2D(3, strides=2, padding="same"),
            L.MaxPooling2D(2, strides=1, padding="same"), L.GlobalAveragePooling2D()]),
        "1-D avg 3 same + max 2": Sequential([Input((9, 3)), L.AveragePooling1D(3, strides=1, padding="same"),
                                              L.MaxPooling1D(2), L.Flatten()]),
    }
    return {"conv 3x3/2 same + relu + conv 2x2 valid": (conv, hls4ml_types),
            **{name: (model, None) for name, model in pools.items()}}


def main() -> int:
    import hls4ml
    import keras as keras3
    import tf_keras

    rng = np.random.default_rng(0)
    failures = 0
    for name, (model, layer_config) in models().items():
        firmware = fa.to_firmware(model, precision=PRECISION, layer_config=layer_config)
        t = firmware.ir.input_type
        x = t.to_float(t.from_float(rng.uniform(-1, 1, (200, firmware.ir.n_inputs))))
        saved = keras3.__version__
        keras3.__version__ = tf_keras.__version__  # hls4ml 1.3.0 picks its Keras 2 parser by this
        try:
            cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", default_precision=PRECISION)
            with tempfile.TemporaryDirectory() as out:
                hls = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=out,
                                                                 backend="Vivado", io_type="io_parallel")
                hls.compile()
                theirs = np.asarray(hls.predict(x.reshape(-1, *model.input_shape[1:]))).reshape(len(x), -1)
        finally:
            keras3.__version__ = saved
        firmware.write(tempfile.mkdtemp(prefix="fa_pool_"))
        ours = firmware.predict(x, engine="csim")
        out_t = firmware.ir.output_type  # both outputs are values of this type: compare the mantissas
        mismatches = int(np.count_nonzero(out_t.from_float(ours) != out_t.from_float(theirs)))
        failures += mismatches != 0
        print(f"{name}: {mismatches} of {ours.size} outputs differ from hls4ml's C simulation")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
