"""The recipes (the hls4ml tutorial's four parts) in reduced mode, the recipe format and the data loaders.

Each shipped recipe runs with 1-2 epochs per training step; its outputs are checked against
what the tutorial part is about (conversion: emulator = C simulation; advanced configuration:
the published 1162 DSPs and II 128; pruning: 75 % zeros and fewer DSPs; quantization: QKeras
export verified bit for bit).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import MODELS
from fpga_aware.workflows.recipes import (
    DataUnavailableError,
    FirmwareSpec,
    PruneSpec,
    QuantizeStep,
    Recipe,
    RecipeError,
    TrainStep,
    find_recipe,
    list_recipes,
    load_fashion_mnist,
    load_jets,
    load_recipe,
    read_idx,
    run_recipe,
)

SHIPPED = ("part1_conversion", "part2_advanced_config", "part3_pruning", "part4_quantization", "part5_cnn")


def check_outputs(result, out: Path) -> dict:
    assert (out / "summary.md").is_file() and (out / "model.h5").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["name"] == result.name and summary["output_dir"] == str(out)
    md = (out / "summary.md").read_text()
    assert md.startswith(f"# {result.name}") and "## Estimated cost after each stage" in md
    for fw in result.firmware:
        assert f"## Firmware `{fw.name}`" in md
        if fw.path:
            assert (Path(fw.path) / "build_prj.tcl").is_file() and (Path(fw.path) / "fpga_aware_project.json").is_file()
    return summary


# ============================================================================ the shipped recipes
def test_shipped_recipes_load():
    assert [p.stem for p in list_recipes()] == list(SHIPPED)
    for name in SHIPPED:
        recipe = load_recipe(name)
        assert recipe.name == name and recipe.description and recipe.firmware
    assert find_recipe("part3").stem == "part3_pruning"  # a unique prefix is enough
    with pytest.raises(RecipeError, match="ambiguous"):
        find_recipe("part")
    part2 = load_recipe("part2_advanced_config")
    main = part2.firmware[0]
    assert part2.model.hidden == [128, 128, 128] and part2.model.names[0] == "dense1"
    assert (main.part, main.strategy, main.reuse_factor) == ("xcku115-flvb2104-2-i", "resource", 128)
    assert main.layer_config == {"dense1": {"reuse_factor": 112}}
    assert main.reference["dsp"] == 1162 and main.reference["ii"] == 128


def test_part1_conversion(tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO, logger="fpga_aware")
    result = run_recipe("part1_conversion", tmp_path, epochs=2)
    # one progress line per epoch, with the loss, the accuracies in %, the cost; no Keras progress bar
    lines = [r.getMessage() for r in caplog.records if r.name == "fpga_aware.training.progress"]
    assert [line.split(":")[0] for line in lines] == ["step 1 epoch 1/2", "step 1 epoch 2/2"]
    for line, dsp in zip(lines, result.dsp_per_epoch):
        assert re.search(r"loss [\d.]+, accuracy [\d.]+ %, val_loss [\d.]+, val_accuracy [\d.]+ %", line), line
        assert f"| DSP {dsp:,} (" in line and "LUT " in line, line
    assert "Epoch 1/2" not in capsys.readouterr().out
    summary = check_outputs(result, tmp_path)
    fw = result.firmware_result("firmware")
    assert result.trained and result.data_available
    assert result.keras_accuracy > 0.6  # digits after 2 epochs
    assert fw.emulator_csim_mismatches == 0 and fw.n_verified == 450 + 2000
    assert fw.keras_agreement >= 0.97 and abs(fw.emulator_accuracy - result.keras_accuracy) <= 0.03
    assert [s["stage"] for s in summary["stages"]] == ["initial", "1: train 2 epochs"]
    assert len(summary["dsp_per_epoch"]) == 2  # FPGACost every epoch
    assert "emulator vs C simulation: 0 mismatching samples of 2450" in (tmp_path / "summary.md").read_text()


def test_part2_advanced_config_cost_without_the_data_set(tmp_path, monkeypatch):
    """Fashion-MNIST absent (forced): the recipe says so and estimates the untrained model's cost."""
    monkeypatch.setenv("FPGA_AWARE_FASHION_MNIST", str(tmp_path / "no_data_here"))
    result = run_recipe("part2_advanced_config", tmp_path / "out", epochs=1)
    check_outputs(result, tmp_path / "out")
    assert not result.data_available and not result.trained and result.keras_accuracy is None
    assert any("DATA SET MISSING" in note and "apt-get install dataset-fashion-mnist" in note for note in result.notes)
    assert "MISSING" in (tmp_path / "out" / "summary.md").read_text()
    main = result.firmware_result("mnist_resource")
    est = main.estimate
    assert abs(est["dsp"] - 1162) <= 0.03 * 1162, est["dsp"]  # tutorial: (784*128)/112 + (2*128*128+128*10)/128
    assert est["ii"] == 128
    assert 518 * 0.85 <= est["latency_cycles"] <= 522 * 1.15
    assert main.reference_diff_pct["ii"] == 0.0 and abs(main.reference_diff_pct["dsp"]) <= 3
    layers = {layer["name"]: layer for layer in est["layers"]}
    assert layers["dense1"]["reuse_factor"] == 112 and layers["dense2"]["reuse_factor"] == 128
    assert layers["dense1"]["strategy"] == "resource"
    assert (tmp_path / "out" / "mnist_resource" / "build_prj.tcl").is_file()
    # the fully parallel design does not fit; narrower weights halve nothing but the memory
    rf1 = result.firmware_result("mnist_latency_rf1").estimate
    assert rf1["ii"] == 1 and rf1["utilization"]["dsp"] > 100
    narrow = result.firmware_result("mnist_per_layer_precision").estimate
    assert narrow["bram_18k"] < 0.8 * est["bram_18k"] and narrow["ii"] == 128
    assert not (tmp_path / "out" / "mnist_latency_rf1").exists()  # write: false


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    codes = {np.dtype(np.uint8): 0x08}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def _fake_fashion_mnist(folder: Path, n_train: int = 300, n_test: int = 100, compress: bool = True) -> None:
    """Idx files in the Debian package's layout (gzipped), labels learnable from the images."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, label * 2:label * 2 + 3, :] = 255
        _write_idx(folder / f"{stem}-images-idx3-ubyte", images, compress)
        _write_idx(folder / f"{stem}-labels-idx1-ubyte", labels, compress)


def test_fashion_mnist_loader(tmp_path):
    _fake_fashion_mnist(tmp_path / "gz", 30, 10)
    data = load_fashion_mnist(tmp_path / "gz")
    assert data.x_train.shape == (30, 784) and data.x_test.shape == (10, 784)
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() == 1.0
    assert data.y_train.shape == (30,) and data.n_classes == 10 and data.n_inputs == 784
    _fake_fashion_mnist(tmp_path / "plain", 20, 5, compress=False)
    assert load_fashion_mnist(tmp_path / "plain").x_test.shape == (5, 784)
    raw = read_idx(tmp_path / "plain" / "t10k-labels-idx1-ubyte")
    assert raw.dtype == np.uint8 and raw.shape == (5,)
    with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "empty")
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(RecipeError, match="not an idx file"):
        read_idx(bad)
    short = tmp_path / "short-idx"
    short.write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 10) + b"\x00" * 3)
    with pytest.raises(RecipeError, match="10 bytes"):
        read_idx(short)


def test_part2_trains_when_the_data_set_is_there(tmp_path, monkeypatch):
    """With (a small stand-in for) the Debian package's files the recipe trains and reports accuracy."""
    _fake_fashion_mnist(tmp_path / "fashion")
    monkeypatch.setenv("FPGA_AWARE_FASHION_MNIST", str(tmp_path / "fashion"))
    result = run_recipe("part2_advanced_config", tmp_path / "out", epochs=1)
    assert result.data_available and result.trained and not result.notes
    assert [s["stage"] for s in result.stages] == ["initial", "1: train 1 epochs"]
    assert result.keras_accuracy is not None and result.stages[-1]["ii"] == 128
    main = result.firmware_result("mnist_resource")
    assert main.emulator_accuracy is not None and main.keras_agreement > 0.9


def test_part3_pruning(tmp_path):
    result = run_recipe("part3_pruning", tmp_path, epochs=2)
    summary = check_outputs(result, tmp_path)
    assert abs(result.sparsity - 0.75) < 0.01
    assert abs(summary["sparsity_per_epoch"][-1] - 0.75) < 0.01
    before, after = result.stages[1], result.stages[2]  # after float training, after pruning
    assert before["sparsity"] == 0.0 and abs(after["sparsity"] - 0.75) < 0.01
    # Vitis HLS (the recipe's tool) builds products by small constants from LUTs, and magnitude
    # pruning removes the small weights first: 75 % zeros remove fewer than 75 % of the DSPs
    assert after["dsp"] < 0.7 * before["dsp"] and after["lut"] < before["lut"]
    assert result.dsp_per_epoch[-1] == after["dsp"] and len(result.dsp_per_epoch) == 4
    assert result.firmware_result().estimate["dsp"] == after["dsp"]
    assert result.keras_accuracy > 0.5


def test_part4_quantization(tmp_path):
    result = run_recipe("part4_quantization", tmp_path, epochs=2)
    check_outputs(result, tmp_path)
    fw = result.firmware_result("firmware")
    assert fw.emulator_csim_mismatches == 0 and fw.n_verified == 2450
    assert fw.keras_agreement >= 0.97
    assert abs(result.sparsity - 0.75) < 0.01
    assert [s["stage"] for s in result.stages] == ["initial", "1: quantize 6 bits", "2: train 2 epochs, prune to 75%"]
    float_dsp = result.stages[0]["dsp"]
    assert fw.estimate["dsp"] < 0.1 * float_dsp  # 6-bit weights and activations: mostly LUT products
    from fpga_aware.frontend.model_io import load_model

    saved = load_model(tmp_path / "model.h5")
    assert {type(layer).__name__ for layer in saved.layers} >= {"QDense"}
    manifest = json.loads((Path(fw.path) / "fpga_aware_project.json").read_text())
    assert manifest["project_name"] == "part4"


def test_part5_cnn(tmp_path):
    """Issue 14: a QKeras CNN pruned while FPGACost logs it; emulator == C simulation on the test rows."""
    result = run_recipe("part5_cnn", tmp_path, epochs=4)
    check_outputs(result, tmp_path)
    fw = result.firmware_result("firmware")
    assert fw.emulator_csim_mismatches == 0 and fw.n_verified == 450  # the digits' test rows, compiled and run
    lut = result.lut_per_epoch
    assert len(lut) == 4 and len(result.dsp_per_epoch) == 4
    assert all(b <= a for a, b in zip(lut, lut[1:])) and lut[-1] < 0.85 * lut[0]  # pruning removes products
    assert all(b <= a for a, b in zip(result.dsp_per_epoch, result.dsp_per_epoch[1:]))
    assert result.sparsity_per_epoch[-1] == pytest.approx(0.75, abs=0.01)
    assert fw.emulator_accuracy > 0.3 and result.keras_accuracy > 0.3  # 10 classes: chance is 0.1
    assert fw.keras_agreement >= 0.9
    from fpga_aware.frontend.model_io import load_model

    saved = load_model(tmp_path / "model.h5")
    assert [type(layer).__name__ for layer in saved.layers].count("QConv2D") == 2  # quantize() turned both
    conv1 = saved.get_layer("conv1").get_weights()[0]
    assert conv1.shape == (3, 3, 1, 8) and 0.7 < 1 - np.count_nonzero(conv1) / conv1.size < 0.8


# ============================================================================ the format
def _recipe(**overrides) -> dict:
    base = {"data": "digits", "model": {"hidden": [4]}, "steps": [{"train": {"epochs": 1}}],
            "firmware": {"name": "fw", "write": False}}
    base.update(overrides)
    return base


def test_recipe_types_and_defaults():
    recipe = Recipe.from_dict(_recipe(steps=[{"quantize": {"bits": 4}}, {"train": {"epochs": 3, "prune": 0.5}},
                                             {"train": {"epochs": 2, "prune": {"target_sparsity": 0.8}}}, "train"]))
    q, t1, t2, t3 = recipe.steps
    assert isinstance(q, QuantizeStep) and q.bits == 4 and q.integer == 0
    assert isinstance(t1, TrainStep) and isinstance(t1.prune, PruneSpec) and t1.prune.target_sparsity == 0.5
    assert t2.prune.target_sparsity == 0.8 and t2.prune.frequency == 10
    assert t3.epochs == 10 and t3.prune is None and t3.keep_sparsity
    assert isinstance(recipe.firmware[0], FirmwareSpec) and recipe.firmware[0].part == "xcu250-figd2104-2L-e"
    reduced = recipe.with_epochs(1)
    assert [s.epochs for s in reduced.steps if isinstance(s, TrainStep)] == [1, 1, 1]
    assert [s.epochs for s in recipe.steps if isinstance(s, TrainStep)] == [3, 2, 10]  # the original is unchanged


@pytest.mark.parametrize("data, fragments", [
    (_recipe(optimizer="sgd"), ["unknown key(s) ['optimizer']", "allowed keys are", "'steps'", "'firmware'"]),
    (_recipe(model={"hidden": [4], "width": 3}), ["model", "'width'", "allowed keys", "'hidden'"]),
    (_recipe(steps=[{"train": {"epochs": "ten"}}]), ["steps[0].train.epochs", "'ten'", "integer"]),
    (_recipe(steps=[{"train": {"epoch": 1}}]), ["steps[0].train", "'epoch'", "'epochs'"]),
    (_recipe(steps=[{"train": {"prune": {"target": 0.5}}}]), ["steps[0].train.prune", "'target'", "'target_sparsity'"]),
    (_recipe(steps=[{"distill": {}}]), ["unknown step 'distill'", "'train'", "'quantize'"]),
    (_recipe(steps=[{"train": {}, "quantize": {}}]), ["one key"]),
    (_recipe(steps=[{"train": {"prune": 1.5}}]), ["target_sparsity must be in [0, 1)"]),
    (_recipe(firmware={"name": "fw", "precision": "ap_fixed<16"}), ["firmware[fw]", "invalid precision"]),
    (_recipe(firmware={"name": "fw", "part": "xc_nope"}), ["firmware[fw]", "unknown FPGA part"]),
    (_recipe(firmware={"name": "fw", "strategy": "fast"}), ["firmware[fw]", "strategy"]),
    (_recipe(firmware={"name": "fw", "layer_config": {"fc1": {"speed": 1}}}), ["firmware[fw]", "speed"]),
    (_recipe(firmware={"name": "fw", "colour": "red"}), ["firmware[0]", "'colour'", "'reuse_factor'"]),
    (_recipe(firmware={"name": "fw", "reference": {"dsps": 3}}), ["reference", "'dsps'", "'dsp'"]),
    (_recipe(firmware=[{"name": "a"}, {"name": "a"}]), ["distinct"]),
    (_recipe(firmware={"name": "fw", "csim": True, "write": False}), ["csim needs write"]),
    (_recipe(data="mnist"), ["data 'mnist'", "'digits'", "'fashion_mnist'", "'jets'"]),
    (_recipe(on_missing_data="skip"), ["on_missing_data", "'cost_only'"]),
    (_recipe(model={"hidden": [4], "names": ["a"]}), ["model.names needs 2 names"]),
    (_recipe(model={"hidden": [4], "conv": [{"filters": 2}]}), ["model.conv needs model.image"]),
    (_recipe(model={"hidden": [4], "image": [8, 8, 1]}), ["model.image is only used with model.conv"]),
    (_recipe(model={"hidden": [], "image": [8, 8, 1], "conv": [{"filters": 0}]}), ["model.conv[0]", "filters"]),
    (_recipe(model={"image": [8, 8, 1], "conv": [{"size": 3}]}), ["model.conv[0]", "'size'", "'kernel'"]),
    (_recipe(model={"shared": "x", "image": [8, 8, 1], "conv": [{}]}), ["shared or file model takes neither"]),
    ([1, 2], ["must be a YAML mapping"]),
])
def test_invalid_recipes_name_the_key(data, fragments):
    with pytest.raises(RecipeError) as info:
        Recipe.from_dict(data, "bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml: ")
    for fragment in fragments:
        assert fragment in message, message


def test_recipe_files(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")
    with pytest.raises(RecipeError, match="no recipe 'part9'"):
        load_recipe("part9")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [digits\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(broken)
    good = tmp_path / "mine.yaml"
    good.write_text("model: {hidden: [4]}\n")
    assert load_recipe(good).name == "mine"  # default: the file name
    with pytest.raises(RecipeError, match="non-negative"):
        load_recipe(good).with_epochs(-1)


# ============================================================================ jets (no network here)
def _no_network(monkeypatch):
    import urllib.error

    import sklearn.datasets

    calls = []

    def fetch_openml(*args, **kwargs):
        calls.append(kwargs.get("data_id"))
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch_openml)
    return calls


def test_jets_without_network_is_a_clear_error(monkeypatch, tmp_path):
    calls = _no_network(monkeypatch)
    with pytest.raises(DataUnavailableError) as info:
        load_jets(tmp_path)
    message = str(info.value)
    assert calls == [42468]
    assert "OpenML 42468" in message and "Name or service not known" in message and "data: digits" in message
    recipe = tmp_path / "jets.yaml"
    recipe.write_text("data: jets\nmodel: {hidden: [8]}\nfirmware: {write: false}\n")
    with pytest.raises(DataUnavailableError, match="OpenML 42468"):
        run_recipe(recipe, tmp_path / "out")


def test_shared_model_cost_only_without_its_data(monkeypatch, tmp_path):
    """Part 1's other route: the tutorial's pre-trained jet tagger, converted without its data set."""
    if not (MODELS / "KERAS_3layer.json").is_file():
        pytest.skip("shared models not found")
    _no_network(monkeypatch)
    recipe = tmp_path / "jets.yaml"
    recipe.write_text("data: jets\non_missing_data: cost_only\nmodel: {shared: KERAS_3layer}\n"
                      "steps: [{train: {epochs: 3}}]\nfirmware: {name: jet_fw, project_name: jets}\n")
    result = run_recipe(recipe, tmp_path / "out")
    assert not result.data_available and not result.trained
    assert any("skipped: no data" in note for note in result.notes)
    est = result.firmware_result("jet_fw").estimate
    # the unpruned jet tagger at ap_fixed<16,6>, RF 1, for Vitis HLS (the default tool; the
    # tutorial's Vitis HLS 2024.1 report: 1,502 DSPs)
    assert 1200 < est["dsp"] < 1800 and est["tool"].startswith("vitis")
    assert (tmp_path / "out" / "jet_fw" / "build_prj.tcl").is_file()


def test_an_earlier_run_is_overwritten_only_when_asked(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text("data: digits\nmodel: {hidden: [4]}\nsteps: [{train: {epochs: 1}}]\nfirmware: {write: false}\n")
    out = tmp_path / "out"
    run_recipe(recipe, out)
    first = (out / "summary.json").read_text()
    with pytest.raises(RecipeError, match="earlier recipe run; pass overwrite=True"):
        run_recipe(recipe, out)
    assert (out / "summary.json").read_text() == first  # untouched
    run_recipe(recipe, out, overwrite=True)
    other = tmp_path / "theirs"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(RecipeError, match="holds no earlier recipe run"):
            run_recipe(recipe, other, overwrite=overwrite)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
