"""hls4ml 1.3.0 ``test/pytest/test_keras_nested_model.py``: nested Sequential/functional
sub-models, flattened into one chain.

Same two models (copied verbatim), input (``rand(20, 15)``, seeded here), default precision
``fixed<24,12>`` and tolerance (``rtol=1e-2, atol=0.02``).  The backend and io_type axes are
dropped (one backend, io_parallel).  One case also runs the C simulation.
"""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow.keras.layers import Dense, Input
from tensorflow.keras.models import Model, Sequential

import fpga_aware as fa
from hls4ml_port import check_csim


def make_nested_model(input_shape):
    """
    This model will have the following architecture:
    Functional (fun_model)
        Dense (fun_first_dense)
        Sequential (seq_sub)
            Dense
            Dense
        Dense (fun_middle_dense)
        Functional (fun_sub)
            Dense
            Dense
        Dense (fun_last_dense)
    """
    seq_sub = Sequential(name='seq_sub')
    seq_sub.add(Dense(5, activation='linear', input_shape=(5,), name='seq_sub_dense_1'))
    seq_sub.add(Dense(3, activation='linear', name='seq_sub_dense_2'))

    fun_input = Input(shape=(8,), name='fun_input')
    fun_x = Dense(7, activation='linear', name='fun_sub_dense_1')(fun_input)
    fun_x = Dense(6, activation='linear', name='fun_sub_dense_2')(fun_x)
    fun_sub = Model(inputs=fun_input, outputs=fun_x, name='fun_sub')

    input = Input(shape=input_shape, name='model_input')
    x = Dense(5, activation='linear', name='fun_first_dense')(input)
    x = seq_sub(x)
    x = Dense(8, activation='linear', name='fun_middle_dense')(x)
    x = fun_sub(x)
    x = Dense(4, activation='linear', name='fun_last_dense')(x)
    fun_model = Model(inputs=input, outputs=x, name='fun_model')

    return fun_model


def make_sub_nested_model(input_shape):
    """
    The following abomination will create this hierarchy:
    Sequential
        Dense (first_dense)
        Functional (fun_model)
            Dense (fun_first_dense)
            Sequential (fun_model_seq_sub)
                Dense
                Dense
            Dense (fun_middle_dense)
            Functional (fun_model_fun_sub)
                Dense
                Dense
            Dense (fun_last_dense)
        Dense (middle_dense)
        Sequential (seq_model)
            Dense
            Functional (seq_model_fun_sub)
                Dense
                Dense
            Dense
            Sequential (seq_model_seq_sub)
                Dense
                Dense
            Dense
        Dense (last_dense)
    """
    fun_model_seq_sub = Sequential(name='fun_model_seq_sub')
    fun_model_seq_sub.add(Dense(5, activation='linear', input_shape=(5,), name='fun_seq_sub_dense_1'))
    fun_model_seq_sub.add(Dense(3, activation='linear', name='fun_seq_sub_dense_2'))

    fun_fun_input = Input(shape=(8,), name='fun_fun_input')
    fun_fun_x = Dense(7, activation='linear', name='fun_fun_sub_dense_1')(fun_fun_input)
    fun_fun_x = Dense(6, activation='linear', name='fun_fun_sub_dense_2')(fun_fun_x)
    fun_model_fun_sub = Model(inputs=fun_fun_input, outputs=fun_fun_x, name='fun_model_fun_sub')

    fun_input = Input(shape=(10,), name='fun_input')
    fun_x = Dense(5, activation='linear', name='fun_first_dense')(fun_input)
    fun_x = fun_model_seq_sub(fun_x)
    fun_x = Dense(8, activation='linear', name='fun_middle_dense')(fun_x)
    fun_x = fun_model_fun_sub(fun_x)
    fun_x = Dense(4, activation='linear', name='fun_last_dense')(fun_x)
    fun_model = Model(inputs=fun_input, outputs=fun_x, name='fun_model')

    seq_fun_input = Input(shape=(2,), name='seq_fun_input')
    seq_fun_x = Dense(9, activation='linear', name='seq_fun_sub_dense_1')(seq_fun_input)
    seq_fun_x = Dense(3, activation='linear', name='seq_fun_sub_dense_2')(seq_fun_x)
    seq_model_fun_sub = Model(inputs=seq_fun_input, outputs=seq_fun_x, name='seq_model_fun_sub')

    seq_model_seq_sub = Sequential(name='seq_model_seq_sub')
    seq_model_seq_sub.add(Dense(5, activation='linear', input_shape=(2,), name='seq_seq_sub_dense_1'))
    seq_model_seq_sub.add(Dense(7, activation='linear', name='seq_seq_sub_dense_2'))

    seq_model = Sequential(name='seq_model')
    seq_model.add(Dense(2, activation='linear', input_shape=(6,), name='seq_first_dense'))
    seq_model.add(seq_model_fun_sub)
    seq_model.add(Dense(2, activation='linear', name='seq_middle_dense'))
    seq_model.add(seq_model_seq_sub)
    seq_model.add(Dense(2, activation='linear', name='seq_last_dense'))

    model = Sequential()
    model.add(Dense(10, activation='linear', input_shape=input_shape, name='first_dense'))
    model.add(fun_model)
    model.add(Dense(6, activation='linear', name='middle_dense'))
    model.add(seq_model)
    model.add(Dense(4, activation='linear', name='last_dense'))

    return model


@pytest.fixture(scope="module")
def randX_20_15():
    return np.random.default_rng(0).random((20, 15))


@pytest.mark.parametrize("make", [make_nested_model, make_sub_nested_model], ids=["nested", "sub_nested"])
def test_nested_model(make, randX_20_15):
    keras_model = make((15,))
    keras_model.compile(optimizer="adam", loss="mae")
    firmware = fa.to_firmware(keras_model, precision="ap_fixed<24,12>")
    X = randX_20_15
    y_keras = keras_model.predict(X, verbose=0)
    y_fw = firmware.predict(X)
    np.testing.assert_allclose(y_keras.ravel(), y_fw.ravel(), rtol=1e-2, atol=0.02)
    # every Dense of every level is one IR layer, in call order
    assert [layer.kind for layer in firmware.ir.layers[1:]] == ["dense"] * (len(firmware.ir.layers) - 1)


def test_nested_model_layer_order_and_csim(randX_20_15, tmp_path):
    keras_model = make_nested_model((15,))
    firmware = fa.to_firmware(keras_model, precision="ap_fixed<24,12>")
    assert [layer.name for layer in firmware.ir.layers] == [
        "model_input", "fun_first_dense", "seq_sub_dense_1", "seq_sub_dense_2", "fun_middle_dense",
        "fun_sub_dense_1", "fun_sub_dense_2", "fun_last_dense"]
    check_csim(firmware, randX_20_15, tmp_path)
