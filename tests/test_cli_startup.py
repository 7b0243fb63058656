"""The command line answers at once and speaks its own language.

- ``--help``, every ``COMMAND --help`` and every usage error run without importing TensorFlow,
  and ``--help`` takes at most 0.3x the time of ``python -c "import tensorflow"`` (a ratio
  measured in the same run, not an absolute time);
- TensorFlow's start-up lines are hidden unless ``-v``; ``-v``/``-q`` work after the command;
- messages name CLI flags and commands, not Python keywords;
- models saved by Keras 3 get a one-line explanation; ``quantize()``d models saved as
  ``.keras`` load back.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import MODELS
from fpga_aware import cli
from fpga_aware._stack import _LOAD_NOISE, _filtered_stderr

COMMANDS = ("export", "estimate", "report", "build", "run", "profile", "demo")
JET = [MODELS / "KERAS_3layer.json", "--weights", MODELS / "KERAS_3layer_weights.h5"]
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL")}


def _python(code: str, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env or CLEAN_ENV, capture_output=True,
                          text=True, timeout=timeout)


def _cli(*argv, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fpga_aware", *map(str, argv)], cwd=cwd, env=env or CLEAN_ENV,
                          capture_output=True, text=True, timeout=timeout)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# ============================================================================ no TensorFlow for help
def test_help_and_usage_errors_do_not_import_tensorflow(tmp_path):
    argvs = [["--help"], *[[c, "--help"] for c in COMMANDS], ["estimate"], ["nope"], ["export", "m.h5"],
             ["estimate", "m.h5", "--reuse-factor", "two"], ["-q", "estimate", "m.h5", "-v"]]
    code = (
        "import sys\n"
        "from fpga_aware.cli import main\n"
        f"codes = [main(argv) for argv in {argvs!r}]\n"
        "print(codes, 'tensorflow' in sys.modules)\n"
    )
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    codes, tf_loaded = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert tf_loaded == "False", "a help or usage error imported TensorFlow"
    assert codes == str([0] * (1 + len(COMMANDS)) + [2] * 5)


@pytest.mark.serial  # a timing ratio: run alone, after the parallel part (Makefile)
def test_help_is_fast_compared_with_importing_tensorflow(tmp_path):
    def seconds(argv) -> float:
        start = time.perf_counter()
        subprocess.run(argv, cwd=tmp_path, env=CLEAN_ENV, capture_output=True, check=True, timeout=300)
        return time.perf_counter() - start

    help_times, tf_times = [], []
    for _ in range(3):  # interleaved, medians: the same machine load for both
        help_times.append(seconds([sys.executable, "-m", "fpga_aware", "--help"]))
        tf_times.append(seconds([sys.executable, "-c", "import tensorflow"]))
    ratio = statistics.median(help_times) / statistics.median(tf_times)
    assert ratio <= 0.3, f"--help takes {ratio:.2f}x the time of importing TensorFlow"


# ============================================================================ start-up noise
def test_filtered_stderr_drops_only_tensorflow_load_lines(capfd):
    noise = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
             "I0000 00:00:1796160825.367549    5096 port.cc:153] oneDNN custom operations are on.\n"
             "E0000 00:00:1796161053.092674    7887 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n")
    with _filtered_stderr(_LOAD_NOISE):
        os.write(2, noise.encode())
        os.write(2, b"a real warning\n")
    assert capfd.readouterr().err == "a real warning\n"


@pytest.mark.skipif(not MODELS.is_dir(), reason="../shared/models is absent")
def test_tensorflow_start_up_lines_only_with_verbose(tmp_path):
    quiet = _cli("estimate", *JET, cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "Estimated cost" in quiet.stdout
    assert quiet.stderr == "", quiet.stderr
    verbose = _cli("estimate", *JET, "-v", cwd=tmp_path)  # -v after the command
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout == quiet.stdout
    # what TensorFlow prints depends on the build and the CPU; where it prints anything, -v shows it
    noisy = [line for line in verbose.stderr.splitlines() if _LOAD_NOISE.match(line)]
    assert noisy or "tensorflow" not in verbose.stderr.lower()


def test_verbosity_flags_before_and_after_the_command():
    parser = cli.build_parser()
    assert parser.parse_args(["-v", "run", "--list"]).verbose is True
    assert parser.parse_args(["run", "--list", "-v"]).verbose is True
    after = parser.parse_args(["run", "--list", "-q"])
    assert after.quiet is True and after.verbose is False
    assert parser.parse_args(["run", "--list"]).quiet is False


# ============================================================================ CLI spelling
@pytest.mark.skipif(not MODELS.is_dir(), reason="../shared/models is absent")
def test_messages_name_cli_flags_and_commands(capsys, tmp_path, monkeypatch):
    one = [MODELS / "KERAS_1layer.json", "--weights", MODELS / "KERAS_1layer_weights.h5"]
    out = tmp_path / "prj"
    assert cli.main([str(a) for a in ("export", *one, "--out", out)]) == 0
    capsys.readouterr()
    assert cli.main([str(a) for a in ("export", *one, "--out", out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--overwrite" in line and "overwrite=True" not in line

    assert cli.main(["report", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "fpga-aware build" in line and "run_hls" not in line

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli.main(["build", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--tool" in line and "tool='" not in line

    assert cli.main(["build", str(tmp_path)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "fpga-aware export" in line and "Firmware.write" not in line


# ============================================================================ Keras 3 files
@pytest.fixture(scope="module")
def keras3_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keras3")
    code = (
        "import keras\n"
        "assert keras.__version__.startswith('3'), keras.__version__\n"
        "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name='fc')])\n"
        "m.save('m.keras'); m.save('m.h5'); m.export('exported')\n"
        "open('m.json', 'w').write(m.to_json())\n"
    )
    result = _python(code, folder)
    if result.returncode != 0 and "No module named 'keras'" in result.stderr:
        pytest.skip("Keras 3 is not installed beside tf-keras")
    assert result.returncode == 0, result.stderr[-3000:]
    return {"keras": folder / "m.keras", "h5": folder / "m.h5", "export": folder / "exported", "json": folder / "m.json"}


def test_keras3_files_get_a_clear_error(keras3_files, capsys):
    from fpga_aware.frontend.model_io import Keras3ModelError, load_model

    for kind, path in keras3_files.items():
        with pytest.raises(Keras3ModelError, match="Keras 3") as caught:
            load_model(path, weights=keras3_files["h5"] if kind == "json" else None)
        assert "model.save('model.h5')" in str(caught.value), kind
        argv = ["estimate", str(path)] + (["--weights", str(keras3_files["h5"])] if kind == "json" else [])
        assert cli.main(argv) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert line.startswith("fpga-aware estimate: error: ") and "Keras 3" in line, line


def test_tf_keras_files_are_not_taken_for_keras3(tmp_path):
    from fpga_aware._stack import keras
    from fpga_aware.frontend.model_io import saved_by_keras_version

    k = keras()
    model = k.Sequential([k.layers.Dense(2, input_shape=(3,))])
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "saved", save_format="tf")
    assert saved_by_keras_version(tmp_path / "m.keras").startswith("2.")
    assert saved_by_keras_version(tmp_path / "saved") is None


# ============================================================================ quantize() round trip
def test_quantized_model_saved_as_keras_loads_back(tmp_path, capsys):
    import fpga_aware as fa
    from fpga_aware._stack import keras
    from fpga_aware.frontend.model_io import load_model

    k = keras()
    k.utils.set_random_seed(3)
    float_model = k.Sequential([k.layers.Dense(8, activation="relu", input_shape=(6,), name="fc1"),
                                k.layers.Dense(3, activation="softmax", name="out")])
    quantized = fa.quantize(float_model, bits=6, activation_bits=6)
    path = tmp_path / "q.keras"
    quantized.save(path)
    loaded = load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in quantized.layers]
    x = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), quantized.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    # the firmware of the loaded model is the firmware of the original, exactly
    before = fa.to_firmware(quantized, "xcu250-figd2104-2L-e").predict(x)
    after = fa.to_firmware(loaded, "xcu250-figd2104-2L-e").predict(x)
    np.testing.assert_array_equal(before, after)
    assert cli.main(["estimate", str(path)]) == 0
    assert "Estimated cost" in capsys.readouterr().out
