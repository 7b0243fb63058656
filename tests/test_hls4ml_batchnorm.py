"""hls4ml 1.3.0 ``test/pytest/test_batchnorm.py``: a BatchNormalization alone (no Dense).

Same model, input (``np.random.seed(0); rand(100, 16)``), default precision ``fixed<32, 1>``
and tolerance (``atol=5e-3``).  hls4ml's backend and io_type axes are dropped: fpga_aware has
one backend and io_parallel only.  One case also runs the C simulation (equal to the emulator).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.keras.layers import BatchNormalization
from tensorflow.keras.models import Sequential

import fpga_aware as fa
from hls4ml_port import check_csim

in_shape = 16
atol = 5e-3


@pytest.fixture(scope="module")
def data():
    np.random.seed(0)
    return np.random.rand(100, in_shape)


def _model(center_scale: bool):
    model = Sequential()
    model.add(BatchNormalization(input_shape=(in_shape,), center=center_scale, scale=center_scale))
    model.compile()
    return model


@pytest.mark.parametrize("center_scale", [True, False])
def test_batchnorm(center_scale, data):
    model = _model(center_scale)
    firmware = fa.to_firmware(model, precision="ap_fixed<32,1>")
    assert [layer.kind for layer in firmware.ir.layers] == ["input", "scale_shift"]
    y_keras = np.squeeze(model.predict(data, verbose=0))
    y_hls = firmware.predict(data)
    np.testing.assert_allclose(y_keras, y_hls, rtol=0, atol=atol, verbose=True)


def test_batchnorm_csim(data, tmp_path):
    model = _model(True)
    # non-trivial statistics, so the scale and shift are not 1 and 0
    bn = model.layers[0]
    rng = np.random.default_rng(1)
    bn.set_weights([rng.uniform(0.5, 0.9, in_shape), rng.uniform(-0.2, 0.2, in_shape),   # scale < 1: fits
                    rng.uniform(-0.2, 0.2, in_shape), rng.uniform(1.0, 2.0, in_shape)])  # fixed<32,1>
    firmware = fa.to_firmware(model, precision="ap_fixed<32,1>")
    y_hls = check_csim(firmware, data, tmp_path)
    np.testing.assert_allclose(model.predict(data, verbose=0), y_hls, rtol=0, atol=atol)
    assert firmware.estimate().layers[1].kind == "scale_shift"
