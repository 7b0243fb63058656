"""The ``fpga-aware`` command line, end to end: every command on real models and the real report fixture.

Commands run in-process through ``cli.main([...])`` (TensorFlow is imported once); one test
runs the installed console script in a subprocess.  User errors must give exit status 2 and
exactly one line on stderr, ``fpga-aware <command>: error: ...``, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import MODELS, SHARED
from fpga_aware import cli

FIXTURE = SHARED / "fixtures" / "vivado_report"
JET_JSON = MODELS / "KERAS_3layer.json"
JET_WEIGHTS = MODELS / "KERAS_3layer_weights.h5"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, command: str, *fragments: str) -> str:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{err}"
    assert lines[0].startswith(f"fpga-aware {command}: error: "), lines[0]
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def need(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            pytest.skip(f"{path} not found (../shared is absent)")


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    """A small float MLP saved as .h5, .keras and a SavedModel folder."""
    from fpga_aware._stack import keras

    k = keras()
    k.utils.set_random_seed(1)
    model = k.Sequential([
        k.layers.InputLayer(input_shape=(6,), name="input"),
        k.layers.Dense(5, activation="relu", name="fc1"),
        k.layers.Dense(3, activation="softmax", name="output"),
    ])
    folder = tmp_path_factory.mktemp("models")
    paths = {"h5": folder / "small.h5", "keras": folder / "small.keras", "savedmodel": folder / "small_savedmodel"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy")
        model.save(paths["h5"])
    model.save(paths["keras"])
    model.save(paths["savedmodel"], save_format="tf")
    return paths


# ============================================================================ help
def test_help_for_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    commands = ("export", "estimate", "report", "build", "run", "profile", "demo")
    for command in commands:
        assert command in out
    for command in commands:
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and out.startswith(f"usage: fpga-aware {command}"), out


def test_usage_errors_are_one_line(capsys):
    code, _, err = run(capsys, "export")
    assert code == 2
    assert err.strip().splitlines() == [
        "fpga-aware export: error: the following arguments are required: model, --out (see fpga-aware export --help)"]
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "invalid choice" in err
    code, _, err = run(capsys, "estimate", "m.h5", "--reuse-factor", "x")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--reuse-factor" in err


# ============================================================================ estimate / export
def test_estimate_shared_json_model(capsys):
    need(JET_JSON, JET_WEIGHTS)
    code, out, err = run(capsys, "estimate", JET_JSON, "--weights", JET_WEIGHTS, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["part"] == "xcu250-figd2104-2L-e"
    assert [layer["name"] for layer in data["layers"] if layer["kind"] == "dense"] == ["fc1_relu", "fc2_relu", "fc3_relu", "output_softmax"]
    # the default tool is Vitis HLS: the unpruned jet tagger's published figure is 1,502 DSPs (2024.1)
    assert data["tool"].startswith("vitis") and 1200 < data["dsp"] < 1800 and data["ii"] == 1
    code, out, _ = run(capsys, "estimate", JET_JSON, "--weights", JET_WEIGHTS, "--json", "--tool", "vivado")
    vivado = json.loads(out)  # Vivado HLS 2019.2: 3,953 DSPs published
    assert code == 0 and vivado["tool"].startswith("vivado") and 3000 < vivado["dsp"] < 5000
    # options reach the estimate: reuse factor 4 -> II 4 and about a quarter of the multipliers
    code, out, _ = run(capsys, "estimate", JET_JSON, "--weights", JET_WEIGHTS, "--reuse-factor", 4,
                       "--strategy", "resource", "--json", "--tool", "vivado")
    rf4 = json.loads(out)
    assert code == 0 and rf4["ii"] == 4 and rf4["dsp"] < vivado["dsp"] / 3
    code, out, _ = run(capsys, "estimate", JET_JSON, "--weights", JET_WEIGHTS)
    assert code == 0 and "total" in out and "fc1" in out


def test_qkeras_model_loads_without_flags(capsys):
    path = MODELS / "qkeras_3layer.json"
    need(path)
    code, out, err = run(capsys, "estimate", path, "--weights", MODELS / "qkeras_3layer_weights.h5", "--json")
    assert code == 0, err
    assert json.loads(out)["dsp"] >= 0


def test_h5_keras_and_savedmodel_give_the_same_estimate(capsys, small_models):
    results = {}
    for kind, path in small_models.items():
        code, out, err = run(capsys, "estimate", path, "--json")
        assert code == 0, err
        results[kind] = json.loads(out)
    assert results["h5"]["dsp"] == results["keras"]["dsp"] == results["savedmodel"]["dsp"]
    assert results["h5"]["lut"] == results["keras"]["lut"] == results["savedmodel"]["lut"]


def test_export_and_verify(capsys, small_models, tmp_path):
    out_dir = tmp_path / "prj"
    code, out, err = run(capsys, "export", small_models["h5"], "--out", out_dir, "--precision", "ap_fixed<18,8>",
                         "--verify", 300)
    assert code == 0, err
    assert "emulator vs C simulation: 0 mismatching samples of 300" in out
    assert (out_dir / "build_prj.tcl").is_file() and (out_dir / "fpga_aware_project.json").is_file()
    assert "ap_fixed<18,8>" in (out_dir / "firmware" / "defines.h").read_text()
    # an existing project needs --overwrite
    code, _, err = run(capsys, "export", small_models["keras"], "--out", out_dir)
    assert_one_line_error(code, err, "export", "overwrite")
    code, out, err = run(capsys, "export", small_models["keras"], "--out", out_dir, "--overwrite")
    assert code == 0, err


def test_export_shared_model_with_layer_config(capsys, tmp_path):
    need(JET_JSON, JET_WEIGHTS)
    config = tmp_path / "layers.yaml"
    config.write_text("fc1_relu: {reuse_factor: 4, precision: 'ap_fixed<12,4>'}\n")
    code, out, err = run(capsys, "export", JET_JSON, "--weights", JET_WEIGHTS, "--out", tmp_path / "jet",
                         "--config", config, "--project-name", "jets")
    assert code == 0, err
    manifest = json.loads((tmp_path / "jet" / "fpga_aware_project.json").read_text())
    assert manifest["project_name"] == "jets"
    assert "ap_fixed<12,4>" in (tmp_path / "jet" / "firmware" / "defines.h").read_text()


# ============================================================================ user errors
def test_user_errors_are_one_line(capsys, tmp_path):
    need(JET_JSON, JET_WEIGHTS)
    jet = [JET_JSON, "--weights", JET_WEIGHTS]
    cases = [
        (("estimate", tmp_path / "missing.h5"), ("does not exist",)),
        (("estimate", JET_JSON), ("--weights",)),
        (("export", tmp_path / "missing.keras", "--out", tmp_path / "x"), ("does not exist",)),
        (("estimate", *jet, "--precision", "ap_fixed<16"), ("invalid precision", "ap_fixed<16")),
        (("estimate", *jet, "--precision", "float32"), ("float32",)),
        (("estimate", *jet, "--part", "xc9z999-nope"), ("unknown FPGA part", "xc9z999-nope")),
        (("estimate", *jet, "--strategy", "fastest"), ("strategy",)),
        (("estimate", *jet, "--config", tmp_path / "nope.yaml"), ("nope.yaml",)),
        (("report", tmp_path), ("no C-synthesis report",)),
        (("profile", tmp_path / "missing.h5"), ("does not exist",)),
        (("run", "no_such_recipe"), ("no recipe", "part1_conversion")),
        (("build", tmp_path), ("build_prj.tcl",)),
    ]
    for argv, fragments in cases:
        code, _, err = run(capsys, *argv)
        assert_one_line_error(code, err, argv[0], *fragments)


def test_unsupported_layer_is_one_line(capsys, tmp_path):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Conv1DTranspose(2, 3, input_shape=(8, 2), name="sep"),
                                 tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
    conv = tmp_path / "sep.json"
    conv.write_text(model.to_json())
    weights = tmp_path / "sep_weights.h5"
    model.save_weights(str(weights))
    for command in (("estimate",), ("export", "--out", tmp_path / "conv")):
        code, _, err = run(capsys, command[0], conv, "--weights", weights, *command[1:])
        assert_one_line_error(code, err, command[0], "Conv1DTranspose", "not supported")
    assert not (tmp_path / "conv").exists()


def test_bad_config_file_is_one_line(capsys, tmp_path):
    need(JET_JSON, JET_WEIGHTS)
    bad = tmp_path / "bad.yaml"
    bad.write_text("fc1: {reuse_factor: [\n")
    code, _, err = run(capsys, "estimate", JET_JSON, "--weights", JET_WEIGHTS, "--config", bad)
    assert_one_line_error(code, err, "estimate", "cannot be parsed")
    bad.write_text("fc1_relu: {speed: 3}\n")
    code, _, err = run(capsys, "estimate", JET_JSON, "--weights", JET_WEIGHTS, "--config", bad)
    assert_one_line_error(code, err, "estimate", "speed", "allowed options")


# ============================================================================ report
def test_report_text_and_json(capsys):
    need(FIXTURE / "myproject_csynth.xml")
    code, out, err = run(capsys, "report", FIXTURE)
    assert code == 0, err
    assert "xc7z020-clg400-1" in out
    assert "latency: 10..10 cycles, interval 8..8" in out
    assert "DSP              73 of" in out and "LUT           2,532 of" in out
    assert "Vivado synthesis (vivado_synth.rpt)" in out
    code, out, err = run(capsys, "report", FIXTURE, "--json")
    data = json.loads(out)
    assert data["resources"]["dsp"] == 73 and data["resources"]["lut"] == 2532
    assert data["latency_max"] == 10 and data["interval_max"] == 8
    assert data["implementation"]["used"]["dsp"] == 66
    # a report file instead of a folder: the text report
    code, out, _ = run(capsys, "report", FIXTURE / "myproject_csynth.rpt", "--json")
    assert code == 0 and json.loads(out)["resources"]["dsp"] == 73


def test_report_compare(capsys):
    need(FIXTURE / "myproject_csynth.xml", JET_JSON, JET_WEIGHTS)
    code, out, err = run(capsys, "report", FIXTURE, "--compare", JET_JSON, "--weights", JET_WEIGHTS)
    assert code == 0, err
    assert "Estimate vs synthesis" in out
    dsp_row = next(line for line in out.splitlines() if line.startswith("DSP "))
    assert " 73 " in dsp_row and "66" in dsp_row  # HLS and Vivado numbers beside the estimate
    code, out, err = run(capsys, "report", FIXTURE, "--compare", JET_JSON, "--weights", JET_WEIGHTS, "--json",
                         "--reuse-factor", 8, "--strategy", "resource")
    data = json.loads(out)
    comparison = data["comparison"]
    assert comparison["estimate_part"] == "xc7z020-clg400-1"  # the report's part by default
    assert comparison["estimate_clock_ns"] == 5.0
    rows = {row["metric"]: row for row in comparison["rows"]}
    assert rows["DSP"]["synthesis"] == 73 and rows["LUT"]["synthesis"] == 2532
    assert rows["II (cycles)"]["estimate"] == 8 and rows["II (cycles)"]["synthesis"] == 8
    assert data["report"]["interval_max"] == 8
    # an explicit part is used (and noted)
    code, out, _ = run(capsys, "report", FIXTURE, "--compare", JET_JSON, "--weights", JET_WEIGHTS,
                       "--part", "xcu250-figd2104-2L-e")
    assert code == 0 and "note: the estimate is for xcu250-figd2104-2L-e" in out
    code, _, err = run(capsys, "report", FIXTURE, "--compare", JET_JSON, "--weights", JET_WEIGHTS, "--part", "bogus")
    assert_one_line_error(code, err, "report", "bogus")


# ============================================================================ build
STAND_IN = r"""#!/bin/sh
# Stand-in for vitis_hls: records its arguments; "synthesizes" by copying the report fixture.
printf '%s\n' "$@" > "$FAKE_HLS_ARGS"
echo "INFO: [HLS 200-10] stand-in HLS tool"
if [ -n "$FAKE_HLS_FAIL" ]; then
    echo "ERROR: [HLS 207-812] 'nonexistent.h' file not found"
    echo "INFO: more output"
    exit 3
fi
case "$*" in
    *synth=1*)
        mkdir -p myproject_prj/solution1/syn/report
        cp "$FAKE_HLS_REPORT" myproject_prj/solution1/syn/report/myproject_csynth.xml
        ;;
esac
exit 0
"""


@pytest.fixture
def stand_in(tmp_path, monkeypatch, small_models, capsys):
    """A written project and a bin folder first on PATH with a stand-in vitis_hls."""
    need(FIXTURE / "myproject_csynth.xml")
    if shutil.which("vitis_hls") or shutil.which("vivado_hls"):
        pytest.skip("a real HLS tool is on PATH")
    project = tmp_path / "prj"
    code, _, err = run(capsys, "export", small_models["h5"], "--out", project)
    assert code == 0, err
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "vitis_hls"
    tool.write_text(STAND_IN)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}")
    monkeypatch.setenv("FAKE_HLS_ARGS", str(tmp_path / "args.txt"))
    monkeypatch.setenv("FAKE_HLS_REPORT", str(FIXTURE / "myproject_csynth.xml"))
    monkeypatch.delenv("FAKE_HLS_FAIL", raising=False)
    return project, tool


def test_build_with_stand_in_tool(capsys, stand_in, tmp_path):
    project, tool = stand_in
    code, out, err = run(capsys, "build", project)
    assert code == 0, err
    assert (tmp_path / "args.txt").read_text().splitlines()[-1] == "reset=1 csim=0 synth=1 cosim=0 validation=0 export=0"
    assert "vitis_hls ran synth" in out and "build.log" in out
    assert "DSP              73 of" in out and "interval 8..8" in out
    assert "stand-in HLS tool" in (project / "build.log").read_text()
    # the report it left is what `report` reads
    code, out, _ = run(capsys, "report", project, "--json")
    assert code == 0 and json.loads(out)["resources"]["dsp"] == 73
    # step switches, and --json
    code, out, err = run(capsys, "build", project, "--csim", "--no-synth", "--json")
    assert code == 0, err
    assert (tmp_path / "args.txt").read_text().splitlines()[-1] == "reset=0 csim=1 synth=0 cosim=0 validation=0 export=0"
    data = json.loads(out)
    assert data["steps"] == ["csim"] and data["report"] is None and data["returncode"] == 0
    code, out, err = run(capsys, "build", project, "--cosim", "--export", "--tool", tool)
    assert code == 0, err
    assert (tmp_path / "args.txt").read_text().splitlines()[-1] == "reset=1 csim=0 synth=1 cosim=1 validation=0 export=1"


def test_build_failures_are_one_line(capsys, stand_in, monkeypatch, tmp_path):
    project, _ = stand_in
    monkeypatch.setenv("FAKE_HLS_FAIL", "1")
    code, _, err = run(capsys, "build", project, "--csim")
    line = assert_one_line_error(code, err, "build", "exit status 3", "nonexistent.h", "build.log")
    assert "more output" not in line  # the log tail stays in build.log
    monkeypatch.delenv("FAKE_HLS_FAIL")
    code, _, err = run(capsys, "build", project, "--no-synth")
    assert_one_line_error(code, err, "build", "no step selected")
    code, _, err = run(capsys, "build", project, "--tool", tmp_path / "missing_hls")
    assert_one_line_error(code, err, "build", "does not exist")
    # no tool on PATH at all
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run(capsys, "build", project)
    assert_one_line_error(code, err, "build", "no HLS tool found", "vitis_hls")


# ============================================================================ run / profile / demo
TINY_RECIPE = """
name: tiny
description: a tiny digits recipe for the CLI test
data: digits
model: {hidden: [8]}
steps:
  - train: {epochs: 5, learning_rate: 0.01}
firmware: {name: fw, project_name: tiny}
"""


def test_run_recipe(capsys, tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY_RECIPE)
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "run", recipe, "--epochs", 1, "--out", out_dir)
    assert code == 0, err
    assert out.startswith("# tiny") and "## Firmware `fw`" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["name"] == "tiny" and len(summary["dsp_per_epoch"]) == 1  # --epochs 1
    assert (out_dir / "summary.md").is_file() and (out_dir / "model.h5").is_file()
    assert (out_dir / "fw" / "build_prj.tcl").is_file()
    # the model it saved is a MODEL for the other commands
    code, out, err = run(capsys, "estimate", out_dir / "model.h5", "--json")
    assert code == 0 and json.loads(out)["dsp"] == summary["firmware"][0]["estimate"]["dsp"]
    # a second run into the same folder needs --overwrite (the message names the flag)
    code, _, err = run(capsys, "run", recipe, "--epochs", 1, "--out", out_dir)
    assert_one_line_error(code, err, "run", "--overwrite")
    code, _, err = run(capsys, "run", recipe, "--epochs", 1, "--out", out_dir, "--overwrite")
    assert code == 0, err
    code, out, _ = run(capsys, "run", "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "part1_conversion", "part2_advanced_config", "part3_pruning", "part4_quantization", "part5_cnn"]


def test_run_bad_recipe_is_one_line(capsys, tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(TINY_RECIPE + "optimizer: sgd\n")
    code, _, err = run(capsys, "run", recipe)
    assert_one_line_error(code, err, "run", "optimizer", "allowed keys", "steps")
    recipe.write_text(TINY_RECIPE.replace("project_name: tiny", "precision: 'ap_fixed<8'"))
    code, _, err = run(capsys, "run", recipe)
    assert_one_line_error(code, err, "run", "firmware[fw]", "invalid precision")
    code, _, err = run(capsys, "run")
    assert_one_line_error(code, err, "run", "--list")


def test_profile_writes_a_png(capsys, tmp_path):
    need(JET_JSON, JET_WEIGHTS)
    fig = tmp_path / "figs" / "profile.png"
    code, out, err = run(capsys, "profile", JET_JSON, "--weights", JET_WEIGHTS, "--samples", 200, "--out", fig)
    assert code == 0, err
    assert "profile on 200 N(0,1) samples" in out and "fc1" in out and f"wrote {fig}" in out
    assert fig.read_bytes()[:8] == PNG_SIGNATURE
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).uniform(-1, 1, (50, 16)))
    # ap_fixed<10,3>: the jet model's weights reach 3.37 (ap_fixed<10,2> is an overflow error)
    code, out, err = run(capsys, "profile", JET_JSON, "--weights", JET_WEIGHTS, "--data", x, "--json",
                         "--precision", "ap_fixed<10,3>")
    assert code == 0, err
    data = json.loads(out)
    assert data["n_samples"] == 50
    code, _, err = run(capsys, "profile", JET_JSON, "--weights", JET_WEIGHTS, "--out", tmp_path / "fig.txt")
    assert_one_line_error(code, err, "profile", ".png")
    code, _, err = run(capsys, "profile", JET_JSON, "--weights", JET_WEIGHTS, "--data", "mnist_digits")
    assert_one_line_error(code, err, "profile", "mnist_digits", "random")


def test_demo_command_wiring(capsys, tmp_path, monkeypatch):
    """The demo itself is tested in test_demo.py; here only the command's arguments and exit status."""
    import fpga_aware.workflows.demo as demo

    seen = {}

    class Result:
        emulator_csim_mismatches = 0
        cnn = None

    def fake_run_demo(out, **kwargs):
        seen.update(kwargs, out=out)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "summary.md").write_text("# demo summary\n")
        return Result()

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    code, out, _ = run(capsys, "demo", "--out", tmp_path / "d", "--epochs", 2, "--prune-epochs", 3,
                       "--finetune-epochs", 1)
    assert code == 0 and "# demo summary" in out
    assert seen == {"out": str(tmp_path / "d"), "epochs": 2, "prune_epochs": 3, "finetune_epochs": 1,
                    "cnn_epochs": None}  # the CNN step is off by default
    code, _, _ = run(capsys, "demo", "--out", tmp_path / "d", "--cnn", "--cnn-epochs", 5)
    assert code == 0 and seen["cnn_epochs"] == 5
    code, _, _ = run(capsys, "demo", "--out", tmp_path / "d", "--cnn")
    assert code == 0 and seen["cnn_epochs"] == 30
    Result.cnn = {"emulator_csim_mismatches": 2}  # the CNN step's C simulation differs: failure
    code, _, _ = run(capsys, "demo", "--out", tmp_path / "d", "--cnn")
    assert code == 1
    Result.cnn = None
    Result.emulator_csim_mismatches = 4
    code, _, _ = run(capsys, "demo", "--out", tmp_path / "d")
    assert code == 1


# ============================================================================ entry point
def test_console_script_entry_point(tmp_path):
    """One real process (TensorFlow's start-up chatter goes to stderr; stdout must stay clean JSON)."""
    need(FIXTURE / "myproject_csynth.xml")
    script = Path(sys.executable).with_name("fpga-aware")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "fpga_aware"]
    proc = subprocess.run(command + ["report", str(FIXTURE), "--json"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["resources"]["dsp"] == 73 and data["latency_max"] == 10 and data["interval_max"] == 8
    assert "Traceback" not in proc.stderr
