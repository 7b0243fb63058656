"""The frontend's structure: one handler per Keras class, one IR builder per IR kind, the float view."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core import ir
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import parse_precision
from fpga_aware.frontend.builders import IR_BUILDERS
from fpga_aware.frontend.handlers import KERAS_HANDLERS, NO_OPS
from fpga_aware.frontend.keras import SUPPORTED_LAYERS, build_ir, float_view, parse
from fpga_aware.frontend.pending import PendingActivation

PACKAGE = Path(fa.__file__).resolve().parent


def _ir_kinds() -> set[str]:
    out, todo = set(), [ir.Layer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            out.add(sub.kind)
            todo.append(sub)
    return out


def test_supported_layers_are_the_handler_registry():
    assert SUPPORTED_LAYERS == tuple(KERAS_HANDLERS)
    assert set(NO_OPS) == {"InputLayer", "Dropout", "Flatten", "Reshape"}


def test_every_ir_kind_has_one_ir_builder():
    assert set(IR_BUILDERS) == _ir_kinds()
    for kind in IR_BUILDERS:
        builder = IR_BUILDERS[kind]
        assert callable(builder.build) and callable(builder.accepted), kind


def test_pending_activation_kind_follows_the_function():
    assert PendingActivation("a", "relu", None, "Activation").kind == "activation"
    assert PendingActivation("s", "softmax", None, "Softmax").kind == "softmax"


def test_no_private_name_is_imported_across_modules():
    """No fpga_aware module imports a leading-underscore name of another (third-party ones aside)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            ours = isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("fpga_aware"))
            if ours:
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.module}: {private}")
    assert offenders == []


def test_profiling_uses_no_parser_internals():
    source = (PACKAGE / "workflows" / "profiling.py").read_text(encoding="utf-8")
    for internal in ("_pending_for", "_fold_batch_norms", "_layer_chain", "_unwrap_pruning", "Pending",
                     "startswith"):
        assert internal not in source, internal


# ------------------------------------------------------------------------------ the float view
@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def _model(tf):
    layers = tf.keras.layers
    inp = layers.Input((6,), name="x")
    h = layers.Dense(5, activation="relu", name="d1")(inp)
    h = layers.Dropout(0.1, name="drop")(h)
    h = layers.Dense(4, name="d2")(h)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.Activation("tanh", name="t")(h)
    h = layers.BatchNormalization(name="bn2")(h)
    out = layers.Softmax(name="sm")(h)
    model = tf.keras.Model(inp, out, name="m")
    rng = np.random.default_rng(3)
    for layer in model.layers:
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if "variance" in v.name else rng.normal(0, 0.3, w.shape)
                           for v, w in zip(layer.weights, layer.get_weights())])
    return model


def test_float_view_records_sources_and_folded_floats(tf):
    model = _model(tf)
    view = float_view(model)
    firmware_ir = build_ir(model, FirmwareConfig(precision=parse_precision("ap_fixed<24,10>")))
    assert view.names == [layer.name for layer in firmware_ir.layers]
    assert [fl.kind for fl in view] == [layer.kind for layer in firmware_ir.layers]
    assert view.folded == {"bn": "d2"} and view.no_ops == {"x": "InputLayer", "drop": "Dropout"}

    assert view.input.keras_layer == "x" and view.input.keras_class == "InputLayer"
    d1, act = view["d1"], view["d1_relu"]
    assert (d1.keras_layer, d1.keras_class, d1.fused_activation, d1.output_layer) == ("d1", "Dense", "d1_relu", None)
    assert (act.owner, act.keras_layer, act.output_layer, act.function) == ("d1", "d1", "d1", "relu")
    kernel, bias = model.get_layer("d1").get_weights()
    assert np.array_equal(d1.weights, kernel.astype(np.float64)) and np.array_equal(d1.bias, bias.astype(np.float64))

    d2 = view["d2"]
    bn = model.get_layer("bn")
    gamma, beta, mean, var = (w.astype(np.float64) for w in bn.get_weights())
    scale = gamma / np.sqrt(var + bn.epsilon)
    k2, b2 = (w.astype(np.float64) for w in model.get_layer("d2").get_weights())
    assert (d2.folded, d2.folded_keras_layer, d2.output_layer) == ("bn", "bn", "bn")
    np.testing.assert_allclose(d2.weights, k2 * scale, rtol=1e-12)
    np.testing.assert_allclose(d2.bias, b2 * scale + beta - mean * scale, rtol=1e-12)

    bn2 = view["bn2"]  # after an activation: a scale/shift layer of its own
    assert bn2.kind == "scale_shift" and bn2.scale is not None and bn2.weights is None
    assert view["sm"].kind == "softmax" and view["sm"].output_layer == "sm"
    assert not d2.weights.flags.writeable
    assert view.to_dict()["layers"][1]["weights_shape"] == [6, 5]
    with pytest.raises(KeyError, match="no layer named 'bn'"):
        view["bn"]


def test_parse_returns_the_ir_and_its_float_view(tf):
    model = _model(tf)
    parsed = parse(model, FirmwareConfig(precision=parse_precision("ap_fixed<24,10>")))
    assert parsed.float_view.names == [layer.name for layer in parsed.ir.layers]
    dense = parsed.ir.layer("d1")
    np.testing.assert_array_equal(dense.weight_values(), dense.weight_type.to_float(
        dense.weight_type.from_float(parsed.float_view["d1"].weights)))


def test_float_view_of_a_pruned_model_and_qdense(tf):
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    from fpga_aware.training.pruning import prunable

    model = tf.keras.Sequential([
        tf.keras.layers.Dense(5, input_shape=(6,), name="fc"),
        QDense(3, name="q", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               activation=quantized_relu(8, 3)),
        QActivation(quantized_relu(8, 3), name="qr"),
    ], name="seq")
    wrapped = prunable(model, 0.5, end_step=10, layers=["fc"])
    view = float_view(wrapped)
    assert view.input.keras_layer is None and view.input.name == "seq_input"
    fc = view["fc"]
    assert fc.pruned and fc.keras_layer != "fc" and wrapped.get_layer(fc.keras_layer).layer.name == "fc"
    q = view["q"]
    qact = view[q.fused_activation]
    assert q.keras_class == "QDense" and q.output_layer is None and qact.name == "q_relu"
    assert qact.owner == "q" and qact.output_layer == q.keras_layer


def test_profile_of_a_qdense_with_a_quantizer_activation(tf):
    """The pre-activation sum of a QDense with its own quantizer activation is profiled in float
    (input @ kernel + bias), its activation with the QDense's output."""
    from qkeras import QDense, quantized_bits, quantized_relu

    model = tf.keras.Sequential([
        QDense(4, input_shape=(8,), name="q", kernel_quantizer=quantized_bits(6, 0, alpha=1),
               bias_quantizer=quantized_bits(6, 0, alpha=1), activation=quantized_relu(8, 3)),
    ])
    x = np.random.default_rng(7).uniform(0.0, 1.0, size=(64, 8))
    prof = fa.profile(model, x)
    pre, act = prof.entry("q"), prof.entry("q_relu")
    assert pre.source == "keras" and act.source == "keras"
    assert pre.min < 0 <= act.min  # the sum before the ReLU, the ReLU's output after
