"""Distributed searches: keras-tuner chief + workers over gRPC on 127.0.0.1, and tf.distribute.

Each scenario runs in separate Python processes: keras-tuner reads its chief/worker role from the
environment, and logical CPU devices must be configured before TensorFlow initialises.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PART = "xcu250-figd2104-2L-e"
MAX_TRIALS = 4
TIMEOUT_S = 480

WORKER_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    import fpga_aware
    from fpga_aware import tuner as ft
    from fpga_aware.workflows.demo import load_digits_split

    out, directory, sync = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    me = os.environ["KERASTUNER_TUNER_ID"]
    x_train, x_test, y_train, y_test = load_digits_split(0)
    build = ft.mlp_hypermodel(64, 10, layers=(1,), widths=(8, 16), bits=(4, 8), sparsity=(0.0, 0.75),
                              learning_rate=(3e-3,))
    if me != "chief":
        # both workers ask for trials at about the same time, so that both get some
        (sync / me).touch()
        deadline = time.time() + 240
        while len(list(sync.iterdir())) < 2 and time.time() < deadline:
            time.sleep(0.2)
    result = ft.search(build, x_train[:600], y_train[:600], part=%(part)r, budget={"dsp": 300},
                       max_trials=%(max_trials)d, epochs=1, directory=directory, algorithm="bayesian", seed=3)
    out.write_text(json.dumps({"tuner_id": me, "role": result.role, "trials": result.trials,
                               "pareto": [t["trial_id"] for t in result.pareto],
                               "best": None if result.best_trial is None else result.best_trial["trial_id"]}))
    """
) % {"part": PART, "max_trials": MAX_TRIALS}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env.update(PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3", **extra)
    return env


def _run_all(procs: dict, logs: dict, timeout: float) -> None:
    """Wait for every process; on timeout or a failure kill the others and fail with their logs."""
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs.values()):
            failed = [n for n, p in procs.items() if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        pending = [n for n, p in procs.items() if p.poll() is None]
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    failed = {n: p.returncode for n, p in procs.items() if p.returncode != 0}
    if failed:
        tails = "\n".join(f"--- {n} (rc={rc}):\n{logs[n].read_text()[-3000:]}" for n, rc in failed.items())
        reason = f"timed out after {timeout:.0f}s: {pending} still running" if pending else "a process failed"
        pytest.fail(f"distributed search {reason}\n{tails}")


@pytest.mark.slow
def test_chief_and_two_workers_run_every_trial_once(tmp_path):
    script = tmp_path / "tuner_process.py"
    script.write_text(WORKER_SCRIPT)
    directory = tmp_path / "search"
    sync = tmp_path / "sync"
    sync.mkdir()
    port = _free_port()
    procs, logs, outs = {}, {}, {}
    start = time.monotonic()
    for tuner_id in ("chief", "worker0", "worker1"):
        outs[tuner_id] = tmp_path / f"{tuner_id}.json"
        logs[tuner_id] = tmp_path / f"{tuner_id}.log"
        env = _env(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(port))
        procs[tuner_id] = subprocess.Popen(
            [sys.executable, str(script), str(outs[tuner_id]), str(directory), str(sync)],
            env=env, cwd=tmp_path, stdout=logs[tuner_id].open("w"), stderr=subprocess.STDOUT,
        )
    _run_all(procs, logs, TIMEOUT_S)
    elapsed = time.monotonic() - start

    reports = {n: json.loads(outs[n].read_text()) for n in procs}
    chief = reports["chief"]
    assert chief["role"] == "chief"
    chief_trials = {t["trial_id"]: t for t in chief["trials"]}
    assert len(chief_trials) == MAX_TRIALS, chief_trials.keys()
    assert all(t["status"] == "COMPLETED" for t in chief_trials.values())

    # every trial ran exactly once, on one of the two workers, and both workers took part
    ran = {}
    for name in ("worker0", "worker1"):
        worker = reports[name]
        assert worker["role"] == "worker"
        ids = [t["trial_id"] for t in worker["trials"]]
        assert len(ids) == len(set(ids)), f"{name} ran a trial twice: {ids}"
        assert ids, f"{name} ran no trial (elapsed {elapsed:.0f}s)"
        for trial_id in ids:
            assert trial_id not in ran, f"trial {trial_id} ran on {ran[trial_id]} and {name}"
            ran[trial_id] = name
    assert sorted(ran) == sorted(chief_trials), (ran, chief_trials.keys())

    # the chief's results are exactly what the workers reported
    for name in ("worker0", "worker1"):
        for reported in reports[name]["trials"]:
            recorded = chief_trials[reported["trial_id"]]
            assert recorded["hyperparameters"] == reported["hyperparameters"]
            metric_keys = [k for k in reported if k.startswith(("fpga_", "val_", "sparsity", "loss", "accuracy"))]
            assert "fpga_dsp" in metric_keys and "val_accuracy" in metric_keys
            for key in metric_keys:
                assert recorded[key] == reported[key], (reported["trial_id"], key, recorded[key], reported[key])
            trial_report = json.loads((directory / "search" / f"trial_{reported['trial_id']}" / "fpga_report.json").read_text())
            assert trial_report["tuner_id"] == name

    # the chief wrote the front, and the shared directory reloads to the same trials
    assert (directory / "search" / "pareto.json").exists() and (directory / "search" / "pareto.png").exists()
    import fpga_aware.search.tuner as ft

    reloaded = ft.SearchResult.from_directory(directory, "search")
    assert [t["trial_id"] for t in reloaded.trials] == sorted(chief_trials)
    for t in reloaded.trials:
        for key in ("fpga_dsp", "fpga_lut", "val_accuracy"):
            assert t[key] == chief_trials[t["trial_id"]][key]
    assert [t["trial_id"] for t in reloaded.pareto] == chief["pareto"]
    best = chief["best"]
    if best is not None:
        assert chief_trials[best]["fpga_dsp"] <= 300
    print(f"distributed search: {MAX_TRIALS} trials on 2 workers in {elapsed:.0f}s; workers ran "
          f"{ {n: [t['trial_id'] for t in reports[n]['trials']] for n in ('worker0', 'worker1')} }")


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import fpga_aware as fa
    from fpga_aware._stack import tensorflow
    tf = tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from fpga_aware.workflows.demo import build_mlp, load_digits_split

    x_train, x_test, y_train, y_test = load_digits_split(0)
    out = {}
    # one MirroredStrategy per process: a second one in the same process reuses the first one's
    # collective instance keys and fails (a TensorFlow limitation, seen on CPU collectives)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for name, strategy in (("mirrored", mirrored), ("plain", None)):
        tf.keras.utils.set_random_seed(0)
        scope = strategy.scope() if strategy else tf.distribute.get_strategy().scope()
        with scope:
            model = fa.quantize(build_mlp(64, 10, hidden=(16,)), bits=6, activation_bits=6)
            model.compile(tf.keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, epochs=3, batch_size=64, validation_split=0.2, verbose=0,
                            callbacks=[fa.Prune(0.75, frequency=5), fa.FPGACost(budget={"dsp": 1000})]).history
        replicas = {}
        for layer in model.layers:
            if hasattr(layer, "kernel"):
                values = [v.numpy() for v in getattr(layer.kernel, "values", [layer.kernel])]
                replicas[layer.name] = {
                    "zeros": [float(np.mean(v == 0)) for v in values],
                    "identical": all(np.array_equal(values[0], v) for v in values),
                }
        report = fa.estimate(model)
        out[name] = {
            "replicas": strategy.num_replicas_in_sync if strategy else 1,
            "variable": type(model.layers[0].kernel).__name__,
            "history": {k: [float(v) for v in vs] for k, vs in history.items()},
            "kernels": replicas,
            "estimate": {k: getattr(report, k) for k in ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")},
        }

    # a search whose trials run under the strategy
    from fpga_aware import tuner as ft
    seen = []

    class RecordVariableType(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(type(self.model.layers[0].kernel).__name__)

    build = ft.mlp_hypermodel(64, 10, layers=(1,), widths=(8,), bits=(6,), sparsity=(0.75,), learning_rate=(3e-3,))
    result = ft.search(build, x_train[:600], y_train[:600], part="xcu250-figd2104-2L-e", max_trials=1, epochs=2,
                       directory=sys.argv[2], algorithm="random", distribution_strategy=mirrored,
                       callbacks=[RecordVariableType()])
    trial = result.trials[0]
    out["search"] = {"variables": seen, "sparsity": trial["sparsity"], "fpga_dsp": trial["fpga_dsp"],
                     "estimate_dsp": fa.estimate(result.load_model(trial["trial_id"])).dsp}
    open(sys.argv[1], "w").write(json.dumps(out))
    """
)


@pytest.mark.slow
def test_fpgacost_prune_quantize_under_mirrored_strategy(tmp_path):
    """fit under MirroredStrategy (2 logical CPUs) with FPGACost and Prune, compared with a plain fit."""
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    out = tmp_path / "mirrored.json"
    log = tmp_path / "mirrored.log"
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(tmp_path / "search")], env=_env(), cwd=tmp_path,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    _run_all({"mirrored": proc}, {"mirrored": log}, 300)
    data = json.loads(out.read_text())
    mirrored, plain = data["mirrored"], data["plain"]
    assert mirrored["replicas"] == 2 and mirrored["variable"] == "MirroredVariable"
    assert plain["variable"] != "MirroredVariable"
    # the same keys are logged with and without the strategy, cost keys included
    assert set(mirrored["history"]) == set(plain["history"])
    for key in ("fpga_dsp", "fpga_lut", "fpga_ff", "fpga_bram_18k", "fpga_latency_cycles", "fpga_ii",
                "fpga_dsp_util", "fpga_score", "fpga_within_budget", "sparsity"):
        assert key in mirrored["history"] and len(mirrored["history"][key]) == 3, key
    # the target sparsity is reached, on every replica, with identical weights
    assert mirrored["history"]["sparsity"][-1] == pytest.approx(0.75, abs=0.01)
    for name, kernel in mirrored["kernels"].items():
        assert len(kernel["zeros"]) == 2 and kernel["identical"], name
        assert all(z == pytest.approx(0.75, abs=0.01) for z in kernel["zeros"]), (name, kernel)
    # the last logged cost is the estimate of the final (pruned, quantized) model
    for key, value in mirrored["estimate"].items():
        assert mirrored["history"][f"fpga_{key}"][-1] == value, key
    assert math.isfinite(mirrored["history"]["val_accuracy"][-1])
    assert np.all(np.diff(mirrored["history"]["sparsity"]) >= -1e-9)
    # a search with distribution_strategy= builds and fits each trial under it
    searched = data["search"]
    assert searched["variables"] == ["MirroredVariable"]
    assert searched["sparsity"] == pytest.approx(0.75, abs=0.01)
    assert searched["fpga_dsp"] == searched["estimate_dsp"]
