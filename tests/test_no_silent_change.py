"""Issue 9: no silent change, no late failure.

Every wrong input is rejected up front, by every entry point, with an exception that names the
layer / option and what is allowed; nothing is silently wrapped, ignored or half written.
"""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from fpga_aware import cli
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.names import project_name_problem, template_identifiers


def mlp(seed: int = 0, *, bn: bool = False, out_activation: str = "softmax"):
    tf.keras.utils.set_random_seed(seed)
    layers = [tf.keras.layers.Dense(8, input_shape=(4,), name="d0")]
    if bn:
        layers.append(tf.keras.layers.BatchNormalization(name="bn"))
    layers += [tf.keras.layers.Activation("relu", name="act"), tf.keras.layers.Dense(3, activation=out_activation, name="d1")]
    return tf.keras.Sequential(layers)


def set_weight(model, layer: str, index, value, bias: bool = False):
    kernel, b = model.get_layer(layer).get_weights()
    (b if bias else kernel)[index] = value
    model.get_layer(layer).set_weights([kernel, b])
    return model


# ============================================================================ 1. weights that overflow
@pytest.mark.parametrize(
    "value, precision, wrapped",
    [(1e6, "ap_fixed<16,6>", 0.0), (40.0, "ap_fixed<16,6>", -24.0), (-0.5, "ap_ufixed<16,6>", 63.5)],
)
def test_overflowing_weight_raises_with_the_layer_the_value_and_a_type_that_fits(value, precision, wrapped):
    model = mlp()
    kernel, b = model.get_layer("d0").get_weights()
    kernel = np.abs(kernel)  # ap_ufixed: only the one value below overflows
    kernel[0, 0] = value
    model.get_layer("d0").set_weights([kernel, np.abs(b)])
    config = {"d0": {"precision": {"weight": precision, "bias": precision}}}
    with pytest.raises(fa.WeightOverflowError) as info:
        fa.to_firmware(model, layer_config=config)
    message = str(info.value)
    assert f"layer 'd0': weight {value!r} lies outside {precision}" in message
    assert f"would wrap it to {wrapped!r}" in message
    fits = message.split("A type that holds every value: ")[1].split(" ")[0]
    assert fa.parse_precision(fits).contains(fa.parse_precision(precision))
    # the suggested type does hold the model: exporting with it works and keeps the value
    config["d0"]["precision"]["weight"] = fits
    firmware = fa.to_firmware(model, layer_config=config)
    assert firmware.ir.layers[1].weight_values()[0, 0] == value
    assert isinstance(info.value, fa.PrecisionError) and isinstance(info.value, fa.InvalidModelError)


def test_overflowing_bias_and_folded_batch_norm_are_named():
    with pytest.raises(fa.WeightOverflowError, match=r"layer 'd1': bias 100.0 lies outside ap_fixed<16,6>"):
        fa.to_firmware(set_weight(mlp(), "d1", 1, 100.0, bias=True))
    model = mlp(bn=True)
    bn = model.get_layer("bn")
    gamma, beta, mean, var = bn.get_weights()
    gamma[:] = 1000.0  # folded into d0's weights: weight * 1000 / sqrt(var + eps)
    bn.set_weights([gamma, beta, mean, var])
    with pytest.raises(fa.WeightOverflowError, match=r"layer 'd0': weight \(with BatchNormalization 'bn' folded in\)"):
        fa.to_firmware(model)


def test_explicit_overflow_mode_for_the_layer_converts_as_asked():
    model = set_weight(set_weight(mlp(), "d0", (0, 0), 1e6), "d0", (1, 1), 40.0)
    wrap = fa.to_firmware(model, layer_config={"d0": {"precision": {"weight": "ap_fixed<16,6,AP_TRN,AP_WRAP>"}}})
    sat = fa.to_firmware(model, layer_config={"d0": {"precision": {"weight": "ap_fixed<16,6,AP_TRN,AP_SAT>"}}})
    assert wrap.ir.layers[1].weight_values()[0, 0] == 0.0 and wrap.ir.layers[1].weight_values()[1, 1] == -24.0
    assert sat.ir.layers[1].weight_values()[0, 0] == pytest.approx(32 - 2**-10)
    # wrapping shows in the nonzero count: the user asked for it
    assert wrap.ir.layers[1].nonzero_weights == 31 and sat.ir.layers[1].nonzero_weights == 32
    # an explicit mode in the model-wide precision is not a request for this layer's weights
    with pytest.raises(fa.WeightOverflowError) as info:
        fa.to_firmware(model, precision="ap_fixed<16,6,AP_TRN,AP_SAT>")
    # ... and the message says how to ask for it: the layer's own precision, which then converts
    suggestion = str(info.value).split("own precision (a model-wide default does not count), e.g. layer_config=")[1]
    assert suggestion == "{'d0': {'precision': {'weight': 'ap_fixed<16,6,AP_TRN,AP_SAT>'}}}"
    asked = fa.to_firmware(model, precision="ap_fixed<16,6,AP_TRN,AP_SAT>", layer_config=ast.literal_eval(suggestion))
    assert asked.ir.layers[1].weight_values()[0, 0] == pytest.approx(32 - 2**-10)
    # nor is an explicit bias mode one for the weights
    with pytest.raises(fa.WeightOverflowError, match="'d0': weight"):
        fa.to_firmware(model, layer_config={"d0": {"precision": {"bias": "ap_fixed<16,6,AP_TRN,AP_SAT>"}}})


def test_table_entries_outside_the_result_type_raise():
    model = mlp(out_activation="sigmoid")
    with pytest.raises(fa.WeightOverflowError, match=r"'d1_sigmoid': sigmoid table entries reach 0.99.*ap_fixed<8,0>.*ap_fixed<9,1>"):
        fa.to_firmware(model, layer_config={"d1": {"precision": {"result": "ap_fixed<8,0>"}}})
    # within one LSB of the top (sigmoid -> 1.0 in ap_ufixed<8,0>): rounding, saturated as before
    fa.to_firmware(model, layer_config={"d1": {"precision": {"result": "ap_ufixed<8,0>"}}})
    fa.to_firmware(model, layer_config={"d1_sigmoid": {"precision": {"result": "ap_fixed<8,0,AP_RND,AP_SAT>"}}})


@pytest.mark.parametrize("name", ["KERAS_3layer", "qkeras_3layer", "qkeras_mnist_dense", "KERAS_3layer_batch_norm",
                                  "KERAS_1layer"])
def test_shared_models_fit_the_default_precision(shared_model, name):
    firmware = fa.to_firmware(shared_model(name))
    assert firmware.ir.dense_layers()


# ============================================================================ 2. unknown parts
def test_unknown_part_is_rejected_by_every_entry_point(tmp_path, capsys):
    model = mlp()
    with pytest.raises(fa.UnknownPartError, match=r"unknown FPGA part 'xcu251-figd2104-2L-e'; did you mean 'xcu250"):
        fa.to_firmware(model, "xcu251-figd2104-2L-e")
    with pytest.raises(fa.UnknownPartError, match="unknown FPGA part 'nope'"):
        fa.export(model, "nope", output_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists()
    with pytest.raises(fa.UnknownPartError, match="unknown FPGA part 'nope'"):
        fa.estimate(model, "nope")
    path = tmp_path / "m.h5"
    model.save(path)
    code = cli.main(["export", str(path), "--part", "nope", "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown FPGA part 'nope'" in err
    assert not (tmp_path / "cli").exists()
    # a prefix is completed: build_prj.tcl gets the full part name
    assert fa.to_firmware(model, "xcu50").part == "xcu50-fsvh2104-2-e"


# ============================================================================ 3. layer_config that does not apply
def test_options_that_do_not_apply_to_a_layer_raise():
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(8, activation="relu", input_shape=(4,), name="d0"),
        tf.keras.layers.Dropout(0.1, name="drop"),
        tf.keras.layers.Dense(3, activation="softmax", name="d1"),
    ])
    with pytest.raises(fa.ConfigError, match=(
            r"layer_config\['d0_relu'\]: reuse_factor, strategy, precision\['weight'\] do not apply to layer "
            r"'d0_relu' \(the relu activation of 'd0'\); it accepts precision \(key 'result'\); "
            r"reuse_factor and strategy are options of 'd0'")):
        fa.to_firmware(model, layer_config={"d0_relu": {"reuse_factor": 3, "strategy": "resource",
                                                        "precision": {"weight": "ap_fixed<8,2>"}}})
    with pytest.raises(fa.ConfigError, match=r"table_size does not apply to layer 'd0' \(Dense layer\)"):
        fa.to_firmware(model, layer_config={"d0": {"table_size": 64}})
    with pytest.raises(fa.ConfigError, match=r"'drop' is a Dropout"):
        fa.to_firmware(model, layer_config={"drop": {"reuse_factor": 2}})
    input_name = fa.to_firmware(model).ir.input.name
    with pytest.raises(fa.ConfigError, match=r"precision\['weight'\] does not apply to layer .* \(the model input\)"):
        fa.to_firmware(model, layer_config={input_name: {"precision": {"weight": "ap_fixed<8,2>"}}})
    # what does apply still works: the softmax's table size (on the Dense or the activation)
    assert fa.to_firmware(model, layer_config={"d1": {"table_size": 256}}).ir.layers[-1].inv_table.size == 256
    assert fa.to_firmware(model, layer_config={"d0_relu": {"precision": "ap_ufixed<8,3>"}}).ir.layers[2].result_type.cpp() == "ap_ufixed<8,3>"


def test_folded_batch_norm_config_names_the_dense_it_was_folded_into():
    model = mlp(bn=True)
    assert [layer.name for layer in fa.to_firmware(model).ir.layers][1:] == ["d0", "act", "d1", "d1_softmax"]
    with pytest.raises(fa.ConfigError, match=(r"layer_config\['bn'\]: BatchNormalization 'bn' is folded into Dense 'd0'"
                                              r".*configure 'd0' instead")):
        fa.to_firmware(model, layer_config={"bn": {"precision": "ap_fixed<8,3>"}})


# ============================================================================ 4. project names
@pytest.mark.parametrize("name", ["class", "int", "main", "input_t", "result_t", "fa", "N_INPUT", "defines",
                                  "parameters", "fa_layers", "ap_fixed", "ap_int", "Defines", "weights", "x",
                                  "FA_STORAGE_d0", "size_t", "NULL", "__top", "p" * 65])
def test_project_names_that_break_the_cpp_are_rejected(name):
    with pytest.raises(fa.ConfigError, match=rf"project_name '{name}' cannot be used: .*; choose another name"):
        fa.to_firmware(mlp(), project_name=name)


def test_reserved_names_come_from_the_templates():
    identifiers, prefixes, stems = template_identifiers()
    assert {"main", "input_t", "result_t", "N_INPUT", "N_OUTPUT", "fa", "x", "y", "run_sample"} <= set(identifiers)
    assert {"FA_STORAGE_", "FA_EXTERN_WEIGHTS_", "FA_DEFINE_WEIGHTS_"} <= set(prefixes)
    assert {"defines", "parameters", "fa_layers", "rom_types", "fa_ap_types", "weights"} <= set(stems)
    for fine in ("myproject", "digits", "jets", "jet_tagger", "model", "dense_net", "softmax_net"):
        assert project_name_problem(fine) is None, fine


@pytest.mark.slow
def test_a_name_from_the_template_list_really_fails_in_gxx(tmp_path):
    """The list is not a guess: the one-identifier check skipped, such a name breaks the build."""
    pytest.importorskip("hls4ml")
    from fpga_aware.sim.csim import CompilationError, compile_project
    from fpga_aware.frontend.keras import build_ir
    from fpga_aware.hls.writer import write_project

    model = mlp()
    config = FirmwareConfig.from_options()
    ir = build_ir(model, config)
    for name in ("row", "s", "main"):
        bad = FirmwareConfig(project_name=name)
        ir.project_name = name
        path = write_project(ir, bad, tmp_path / name)
        with pytest.raises(CompilationError):
            compile_project(path)


# ============================================================================ 7. option checks
@pytest.mark.parametrize("value", [np.int64(2), np.int32(2), np.uint8(2)])
def test_numpy_integers_are_integers(value):
    firmware = fa.to_firmware(mlp(), reuse_factor=value, layer_config={"d1": {"reuse_factor": value, "table_size": np.int64(64)}})
    assert [layer.reuse_factor for layer in firmware.ir.dense_layers()] == [2, 2]
    assert type(firmware.config.reuse_factor) is int


@pytest.mark.parametrize("value", [True, np.bool_(True), 2.0, np.float64(2.0), "2"])
def test_bools_and_floats_are_not_integers(value):
    with pytest.raises(fa.ConfigError, match="reuse_factor"):
        fa.to_firmware(mlp(), reuse_factor=value)
    with pytest.raises(fa.ConfigError, match="table_size"):
        fa.to_firmware(mlp(), layer_config={"d1": {"table_size": value}})


@pytest.mark.parametrize("precision", ["ap_fixed<1_6,6>", "ap_fixed<16,6_0>", "ap_fixed<\uff11\uff16,6>",
                                       "ap_fixed<16,\u0666>", "ap_int<\u0661\u0666>", "ap_fixed<+16,6>"])
def test_precision_numbers_are_ascii_decimal(precision):
    with pytest.raises(fa.PrecisionError, match="must be an integer written with the digits 0-9"):
        fa.parse_precision(precision)
    assert fa.parse_precision("ap_fixed< 16 , -2 >").integer == -2


def test_zero_width_layers_and_inputs_are_named():
    with pytest.raises(fa.InvalidModelError, match="layer 'z' has 0 units; a Dense layer needs at least one"):
        fa.to_firmware(tf.keras.Sequential([tf.keras.layers.Dense(0, input_shape=(4,), name="z")]))
    with pytest.raises(fa.InvalidModelError, match=r"model input shape \(None, 0\) has no values"):
        fa.to_firmware(tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(0,), name="z")]))


def test_layer_precision_errors_name_the_layer():
    # an unfolded BatchNormalization (after a ReLU) whose accumulator would need more than ap_fixed's 1024 bits
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(4, activation="relu", input_shape=(4,), name="d0"),
        tf.keras.layers.BatchNormalization(name="bn"),
        tf.keras.layers.Dense(2, name="d1"),
    ])
    with pytest.raises(fa.PrecisionError, match=r"layer 'bn': accumulator"):
        fa.to_firmware(model, layer_config={"bn": {"precision": {"weight": "ap_fixed<1000,500>", "bias": "ap_fixed<1000,500>"}},
                                            "d0": {"precision": {"result": "ap_fixed<1000,500>"}}})
    with pytest.raises(fa.PrecisionError, match=r"layer 'd1': accumulator"):
        fa.to_firmware(model, layer_config={"d1": {"precision": {"weight": "ap_fixed<1000,500>"}},
                                            "bn": {"precision": {"result": "ap_fixed<1000,500>"}}})


def test_shape_message_says_a_flat_shape_once():
    firmware = fa.to_firmware(mlp())
    with pytest.raises(fa.InputShapeError) as info:
        firmware.predict(np.zeros((2, 5)))
    assert "expected (batch, 4))" in str(info.value) and "or (batch, 4)" not in str(info.value)


# ============================================================================ 5. a folder overwritten by another export
def test_csim_of_a_folder_overwritten_by_another_export_raises(tmp_path):
    pytest.importorskip("hls4ml")
    first = fa.to_firmware(mlp(0))
    second = fa.to_firmware(mlp(1))
    first.write(tmp_path / "p")
    second.write(tmp_path / "p", overwrite=True)
    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(fa.ProjectChangedError, match=r"now holds another export .*firmware.write\(path, overwrite=True\)"):
        first.predict(x, engine="csim")
    np.testing.assert_array_equal(second.predict(x, engine="csim"), second.predict(x))
    # written again, the first one simulates its own model
    first.write(tmp_path / "p", overwrite=True)
    np.testing.assert_array_equal(first.predict(x, engine="csim"), first.predict(x))


def test_csim_of_an_edited_project_raises(tmp_path):
    firmware = fa.to_firmware(mlp(0))
    path = firmware.write(tmp_path / "p")
    weights = next((path / "firmware" / "weights").glob("*.h"))
    weights.write_text(weights.read_text() + "\n// edited\n")
    with pytest.raises(fa.ProjectChangedError, match=r"changed after it was written: \['firmware/weights/"):
        firmware.compile()
    manifest = json.loads((path / "fpga_aware_project.json").read_text())
    assert set(manifest["sha256"]) == set(manifest["files"]) - {"fpga_aware_project.json"}


# ============================================================================ 6. all-or-nothing writes, bounded names
def long_names_model(n: int = 300):
    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([
        tf.keras.layers.Dense(4, activation="relu", input_shape=(3,), name="a" * n),
        tf.keras.layers.Dense(2, name="a" * (n - 1) + "b"),
    ])


def test_long_layer_names_give_bounded_unique_file_names(tmp_path):
    firmware = fa.to_firmware(long_names_model())
    cnames = [layer.cname for layer in firmware.ir.layers]
    assert len(set(cnames)) == len(cnames) and max(len(c) for c in cnames) <= 48
    path = firmware.write(tmp_path / "p")
    headers = sorted(p.name for p in (path / "firmware" / "weights").iterdir())
    assert len(headers) == 2 and all(len(h) <= 50 for h in headers)
    manifest = json.loads((path / "fpga_aware_project.json").read_text())
    assert manifest["layers"][1]["name"] == "a" * 300  # the Keras name is kept where it is data


def test_a_failed_write_leaves_nothing_behind_and_keeps_the_earlier_project(tmp_path, monkeypatch):
    from fpga_aware import writer

    first = fa.to_firmware(mlp(0))
    target = tmp_path / "p"
    real = writer._write_text
    calls = {"n": 0}

    def failing(path, text):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(36, "File name too long", str(path))
        real(path, text)

    monkeypatch.setattr(writer, "_write_text", failing)
    with pytest.raises(OSError, match="File name too long"):
        first.write(target)
    assert not target.exists() and list(tmp_path.iterdir()) == []  # no half-written project, no staging folder
    monkeypatch.setattr(writer, "_write_text", real)
    first.write(target)
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    calls["n"] = 0
    monkeypatch.setattr(writer, "_write_text", failing)
    with pytest.raises(OSError):
        fa.to_firmware(mlp(1)).write(target, overwrite=True)
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before and [p.name for p in tmp_path.iterdir()] == ["p"]
    # an empty folder stays empty
    empty = tmp_path / "empty"
    empty.mkdir()
    calls["n"] = 0
    with pytest.raises(OSError):
        first.write(empty)
    assert empty.is_dir() and list(empty.iterdir()) == []


def test_overwrite_replaces_the_whole_folder(tmp_path):
    target = tmp_path / "p"
    fa.to_firmware(mlp(0)).write(target)
    (target / "myproject_prj").mkdir()  # an HLS build output
    fa.to_firmware(mlp(1), project_name="other").write(target, overwrite=True)
    assert not (target / "myproject_prj").exists() and (target / "firmware" / "other.cpp").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["p"]


# ============================================================================ 8. NaN / inf / None / complex inputs
@pytest.mark.parametrize("engine", ["emulator", "csim"])
def test_bad_input_values_raise_the_same_for_both_engines(engine):
    if engine == "csim":
        pytest.importorskip("hls4ml")
    firmware = fa.to_firmware(mlp())
    x = np.zeros((20, 4))
    x[3, 1] = np.nan
    x[17, 0] = -np.inf
    with pytest.raises(fa.InputValueError, match=r"^rows \[3, 17\] of the input contain NaN or infinity"):
        firmware.predict(x, engine=engine)
    with pytest.raises(fa.InputValueError, match=r"complex"):
        firmware.predict(np.zeros((2, 4), dtype=complex), engine=engine)
    rows = [[0.0, 1.0, 2.0, 3.0], [0.0, None, 2.0, 3.0]]
    with pytest.raises(fa.InputValueError, match=r"^row \[1\] of the input contains None"):
        firmware.predict(np.array(rows, dtype=object), engine=engine)
    with pytest.raises(fa.InputValueError, match=r"row \[1\] of the input contains None"):
        firmware.predict(rows, engine=engine)
    with pytest.raises(fa.InputValueError, match="dtype <U"):
        firmware.predict(np.array([["1", "2", "3", "4"]]), engine=engine)
    # numbers in an object array and integers are fine
    good = np.array([[0, 1, 2.5, np.float32(3)]], dtype=object)
    np.testing.assert_array_equal(firmware.predict(good, engine=engine), firmware.predict([[0, 1, 2.5, 3]]))


def test_many_bad_rows_are_summarised():
    x = np.full((50, 4), np.nan)
    with pytest.raises(fa.InputValueError, match=r"rows \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\. \(50 rows in all\)\]"):
        fa.to_firmware(mlp()).predict(x)


# ============================================================================ 9. QKeras input rounded once
def qkeras_input_model():
    """hls4ml's test_single_dense_activation_exact, behind an input quantizer (Input(16) ->
    QActivation(quantized_bits(4,0,alpha=1)) -> QDense(16) -> QActivation(quantized_relu(4,0)))."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(7)
    return tf.keras.Sequential([
        QActivation(quantized_bits(4, 0, alpha=1), input_shape=(16,), name="qin"),
        QDense(16, name="fc1", kernel_quantizer=quantized_bits(4, 0, alpha=1),
               bias_quantizer=quantized_bits(4, 0, alpha=1), kernel_initializer="lecun_uniform"),
        QActivation(quantized_relu(4, 0), name="relu1"),
    ])


def test_a_leading_quantizer_rounds_the_float_input_once_as_qkeras_does():
    model = qkeras_input_model()
    x = np.random.default_rng(0).random((100, 16)).astype(np.float32)  # what Keras computes with
    expected = model.predict(x, verbose=0)
    firmware = fa.to_firmware(model)
    assert firmware.ir.input_type.cpp() == "ap_fixed<4,1,AP_RND_CONV,AP_SAT>"
    assert int(np.count_nonzero(firmware.predict(x) != expected)) == 0
    # the old input type (truncation to ap_fixed<16,6>, then the quantizer's rounding) is off
    twice = fa.to_firmware(model, layer_config={firmware.ir.input.name: {"precision": {"result": "ap_fixed<16,6>"}}})
    assert int(np.count_nonzero(twice.predict(x) != expected)) > 0
    if pytest.importorskip("hls4ml"):
        np.testing.assert_array_equal(firmware.predict(x, engine="csim"), firmware.predict(x))


# ============================================================================ 7. FPGACost checks everything before the first epoch
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(budget={"dsp": float("nan")}), r"budget\['dsp'\]=nan must be a positive, finite number"),
        (dict(budget={"dsp": float("inf")}), r"budget\['dsp'\]=inf must be a positive, finite number"),
        (dict(budget={"dsp": True}), r"budget\['dsp'\]=True"),
        (dict(budget="dsp"), r"budget must be a dict of resource -> limit such as \{'dsp': 500\}, got 'dsp'"),
        (dict(budget=["dsp"]), r"budget must be a dict"),
        (dict(metric=None), r"metric=None must be the name of a logged metric"),
        (dict(metric=""), r"metric='' must be the name"),
        (dict(every=2.0), r"every=2.0 is invalid"),
        (dict(part="nope"), None),
    ],
)
def test_fpga_cost_rejects_bad_arguments_at_once(kwargs, message):
    if message is None:
        with pytest.raises(fa.UnknownPartError):
            fa.FPGACost(**kwargs)
        return
    with pytest.raises(fa.ConfigError, match=message):
        fa.FPGACost(**kwargs)


def test_fpga_cost_accepts_numpy_numbers():
    cost = fa.FPGACost(budget={"dsp": np.int64(500), "lut_util": np.float32(50)}, every=np.int64(3))
    assert cost.budget == {"dsp": 500.0, "lut_util": 50.0} and cost.every == 3


class _EpochCounter(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize(
    "cost_kwargs, message",
    [
        (dict(layer_config={"nope": {"reuse_factor": 2}}), r"unknown layer\(s\) \['nope'\]"),
        (dict(layer_config={"d0_relu": {"reuse_factor": 2}}), r"reuse_factor does not apply to layer 'd0_relu'"),
        (dict(budget={"dsp": 100}, metric="val_f1"), r"metric='val_f1'\) is not among the metrics the model logs \['accuracy', 'loss'\]"),
    ],
)
def test_fpga_cost_fails_before_the_first_batch(cost_kwargs, message):
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu", input_shape=(3,), name="d0"),
                                 tf.keras.layers.Dense(2, activation="softmax", name="d1")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    counter = _EpochCounter()
    with pytest.raises(fa.ConfigError, match=message):
        model.fit(np.zeros((64, 3)), np.zeros(64), epochs=2, batch_size=8, verbose=0,
                  callbacks=[counter, fa.FPGACost(**cost_kwargs)])
    assert counter.batches == 0
    # a metric that is logged works, validation or not (val_accuracy falls back to accuracy)
    history = model.fit(np.zeros((16, 3)), np.zeros(16), epochs=1, verbose=0,
                        callbacks=[fa.FPGACost(budget={"dsp": 100})]).history
    assert "fpga_score" in history
