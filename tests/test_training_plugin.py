"""Training plugin end to end on real offline data (training-plugin issue, tests 1, 2 and 4)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from fpga_aware.workflows.demo import build_mlp, load_digits_split

PRETRAIN_EPOCHS = 12
FINETUNE_EPOCHS = 12
COST_KEYS = ["fpga_dsp", "fpga_lut", "fpga_ff", "fpga_bram_18k", "fpga_latency_cycles", "fpga_ii"]


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


def _compile(model, lr=1e-3):
    model.compile(tf.keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def float_models(digits):
    """A pretrained float MLP, and the same trained on unpruned for the whole budget (the baseline)."""
    x_train, x_test, y_train, y_test = digits
    tf.keras.utils.set_random_seed(1)
    model = _compile(build_mlp(64, 10), 3e-3)
    model.fit(x_train, y_train, epochs=PRETRAIN_EPOCHS, batch_size=32, verbose=0)
    pretrained = tf.keras.models.clone_model(model)
    pretrained.set_weights(model.get_weights())
    model.fit(x_train, y_train, epochs=FINETUNE_EPOCHS, batch_size=32, verbose=0)
    baseline_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    return pretrained, baseline_accuracy


def _kernel_sparsities(model):
    out = {}
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if type(inner).__name__ in ("Dense", "QDense"):
            kernel = inner.kernel.numpy()
            if type(layer).__name__ == "PruneLowMagnitude":
                kernel = kernel * layer.pruning_vars[0][1].numpy()
            out[inner.name] = float(np.mean(kernel == 0))
    return out


def _check_history(history, report, falling=(("fpga_dsp", 0.6), ("fpga_lut", 0.9))):
    for key in COST_KEYS + ["sparsity"]:
        assert key in history and len(history[key]) == FINETUNE_EPOCHS, key
    sparsity = np.asarray(history["sparsity"])
    assert sparsity[-1] == pytest.approx(0.75, abs=0.01)
    # the cost falls as sparsity rises: lower at the end, and anti-correlated with sparsity
    for key, factor in falling:
        cost = np.asarray(history[key])
        assert cost[-1] < factor * cost[0], (key, cost)
        assert np.corrcoef(cost, sparsity)[0, 1] < -0.8, (key, cost, sparsity)
    # the last logged cost is the estimate of the final model
    for key in COST_KEYS:
        assert history[key][-1] == getattr(report, key.removeprefix("fpga_")), key


def test_quantized_pruned_training_end_to_end(digits, float_models):
    x_train, x_test, y_train, y_test = digits
    pretrained, baseline = float_models
    tf.keras.utils.set_random_seed(2)
    model = _compile(fa.quantize(pretrained, bits=6, integer=0, activation_bits=6))
    # Reuse factor 2: multipliers are shared, so every stored 16-bit x 6-bit product needs a
    # DSP and the DSP count follows the nonzero weights.  (At reuse factor 1 each weight is a
    # constant: pruning removes the small ones, which are LUT shift-and-adds, so LUTs fall
    # while the DSP count follows the large weights; see docs/cost_model.md.)
    options = {"reuse_factor": 2}
    cost = fa.FPGACost(**options)
    history = model.fit(
        x_train, y_train, epochs=FINETUNE_EPOCHS, batch_size=32, verbose=0, validation_split=0.1,
        callbacks=[fa.Prune(0.75), cost],
    ).history

    for name, sparsity in _kernel_sparsities(model).items():
        assert sparsity == pytest.approx(0.75, abs=0.01), name
    report = fa.estimate(model, **options)
    firmware = fa.to_firmware(model, **options)
    assert firmware.estimate().to_dict() == report.to_dict()
    _check_history(history, report)
    # at reuse factor 1 the LUTs still fall with sparsity
    assert fa.estimate(model).lut < 0.9 * fa.estimate(_compile(fa.quantize(pretrained, bits=6, activation_bits=6))).lut

    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy >= baseline - 0.03, (accuracy, baseline)

    # the exported firmware computes what the QKeras model computes
    qact = [layer.name for layer in model.layers if type(layer).__name__ == "QActivation"]
    probe = tf.keras.Model(model.inputs, [model.get_layer(n).output for n in qact])
    trace = firmware.trace(x_test)  # digits are multiples of 1/16: representable in ap_fixed<16,6>
    for name, expected in zip(qact, probe.predict(x_test, verbose=0)):
        assert np.mean(np.any(trace[name] != expected, axis=1)) <= 0.001, name
    agree = np.mean(firmware.predict(x_test).argmax(1) == model.predict(x_test, verbose=0).argmax(1))
    assert agree >= 0.999


def test_tfmot_wrapped_model(digits, float_models):
    x_train, x_test, y_train, y_test = digits
    pretrained, baseline = float_models
    steps = FINETUNE_EPOCHS * int(np.ceil(len(x_train) / 32))
    tf.keras.utils.set_random_seed(3)
    wrapped = _compile(fa.prunable(pretrained, target_sparsity=0.75, end_step=int(0.8 * steps), frequency=10))
    history = wrapped.fit(
        x_train, y_train, epochs=FINETUNE_EPOCHS, batch_size=32, verbose=0, callbacks=[fa.Prune(0.75), fa.FPGACost()]
    ).history
    for name, sparsity in _kernel_sparsities(wrapped).items():
        assert sparsity == pytest.approx(0.75, abs=0.01), name
    stripped = fa.strip(wrapped)
    _check_history(history, fa.estimate(stripped))
    assert fa.estimate(wrapped).to_dict() == fa.estimate(stripped).to_dict()
    assert _compile(stripped).evaluate(x_test, y_test, verbose=0)[1] >= baseline - 0.03


def test_plain_float_model(digits, float_models):
    x_train, x_test, y_train, y_test = digits
    pretrained, baseline = float_models
    model = tf.keras.models.clone_model(pretrained)
    model.set_weights(pretrained.get_weights())
    _compile(model)
    history = model.fit(
        x_train, y_train, epochs=FINETUNE_EPOCHS, batch_size=32, verbose=0, callbacks=[fa.Prune(0.75), fa.FPGACost()]
    ).history
    for name, sparsity in _kernel_sparsities(model).items():
        assert sparsity == pytest.approx(0.75, abs=0.01), name
    _check_history(history, fa.estimate(model))
    assert model.evaluate(x_test, y_test, verbose=0)[1] >= baseline - 0.03
    firmware = fa.to_firmware(model)
    assert np.mean(firmware.predict(x_test).argmax(1) == model.predict(x_test, verbose=0).argmax(1)) >= 0.99


def test_budget_adds_a_score_for_early_stopping(digits, float_models):
    x_train, _, y_train, _ = digits
    pretrained, _ = float_models
    model = _compile(tf.keras.models.clone_model(pretrained))
    model.set_weights(pretrained.get_weights())
    history = model.fit(
        x_train, y_train, epochs=2, batch_size=64, verbose=0, validation_split=0.2,
        callbacks=[fa.FPGACost(budget={"dsp": 100}), tf.keras.callbacks.EarlyStopping(monitor="fpga_score", mode="max", patience=5)],
    ).history
    dsp, acc, score = history["fpga_dsp"][-1], history["val_accuracy"][-1], history["fpga_score"][-1]
    assert dsp > 100  # the dense float model is over this budget ...
    assert score == pytest.approx(acc * 100 / dsp)  # ... so its score is scaled down
    assert history["fpga_within_budget"][-1] == 0.0


def test_fpga_cost_estimates_from_the_ir_without_an_emulator(digits, monkeypatch):
    """FPGACost runs the cost model on the parsed IR each epoch: no Emulator (nor Firmware) is built."""
    from fpga_aware.sim.emulator import Emulator

    x_train, _, y_train, _ = digits
    model = _compile(build_mlp(64, 10, hidden=(16,)))

    def no_emulator(self, *args, **kwargs):
        raise AssertionError("FPGACost built an Emulator")

    monkeypatch.setattr(Emulator, "__init__", no_emulator)
    cost = fa.FPGACost(reuse_factor=2)
    history = model.fit(x_train[:256], y_train[:256], epochs=2, batch_size=64, verbose=0, callbacks=[cost]).history
    monkeypatch.undo()
    report = fa.estimate(model, reuse_factor=2)
    for key in COST_KEYS:
        assert history[key][-1] == float(getattr(report, key.removeprefix("fpga_"))), key
    assert cost.last_report.to_dict() == report.to_dict()


def test_fpga_cost_tool_logged_and_changes_the_mapping(caplog):
    """FPGACost names its tool when training begins; Vivado HLS maps a 16-bit x 7-significant-bit
    constant product (1000/1024 = 125 * 2**-7) to a DSP, Vitis HLS (the default) to LUTs."""
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, input_shape=(8,), name="d")])
    model.compile("sgd", "mse")
    model.get_layer("d").set_weights([np.full((8, 4), 1000 / 1024), np.zeros(4)])
    x, y = np.zeros((4, 8)), np.zeros((4, 4))
    costs = {tool: fa.FPGACost(tool=tool) for tool in ("vitis", "vivado")}
    with caplog.at_level("INFO", logger="fpga_aware.training.callbacks"):
        for cost in costs.values():
            model.fit(x, y, epochs=1, verbose=0, callbacks=[cost])
    assert "estimates for vitis: Vitis HLS" in caplog.text and "estimates for vivado: Vivado HLS" in caplog.text
    assert fa.FPGACost().tool == "vitis"
    assert costs["vivado"].last_report.dsp == 32 and costs["vitis"].last_report.dsp == 0
    dense = {tool: next(c for c in cost.last_report.layers if c.name == "d") for tool, cost in costs.items()}
    assert (dense["vitis"].n_lut_mult, dense["vivado"].n_lut_mult) == (32, 0)
    assert dense["vitis"].lut_breakdown["lut_multipliers"] > 0 and "lut_multipliers" not in dense["vivado"].lut_breakdown
    assert costs["vitis"].last_report.tool.startswith("vitis")
    with pytest.raises(fa.ConfigError, match=r"FPGACost tool='vitis_hls' is not one of \['vitis', 'vivado', 'yosys'\]"):
        fa.FPGACost(tool="vitis_hls")


# ------------------------------------------------------------------------------ bad input
def test_prune_without_prunable_layers():
    model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(4, 2)), tf.keras.layers.Activation("relu")])
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="no prunable layer; prunable layers are Dense, QDense"):
        model.fit(np.zeros((8, 4, 2)), np.zeros((8, 8)), epochs=1, verbose=0, callbacks=[fa.Prune()])


@pytest.mark.parametrize("target", [-0.1, 1.0, 1.5])
def test_prune_target_outside_range(target):
    with pytest.raises(ValueError, match=r"target_sparsity.*\[0, 1\)"):
        fa.Prune(target_sparsity=target)


def test_unknown_part_names_close_ones():
    with pytest.raises(fa.UnknownPartError, match="xcu250"):
        fa.FPGACost(part="xcu205-figd2104-2L-e")


def test_fpga_cost_on_unsupported_layer():
    model = tf.keras.Sequential(
        [tf.keras.layers.Conv1DTranspose(2, 3, input_shape=(8, 1), name="conv"), tf.keras.layers.Flatten(),
         tf.keras.layers.Dense(2)]
    )
    model.compile("adam", "mse")
    with pytest.raises(fa.UnsupportedLayerError, match="'conv' of type Conv1DTranspose"):
        model.fit(np.zeros((4, 8, 1)), np.zeros((4, 2)), epochs=1, verbose=0, callbacks=[fa.FPGACost()])
