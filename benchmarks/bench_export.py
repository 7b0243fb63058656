#!/usr/bin/env python
"""Export benchmark: fpga_aware against hls4ml on the same models, config and machine.

Measured in one run (see ``benchmarks/README.md`` for what every number means):

1. jet tagger (``KERAS_3layer``, 16-64-32-32-5) at ``ap_fixed<16,6>``, reuse 1, Latency:
   throughput of our numpy emulator, of our g++ C simulation and of hls4ml's ``predict`` (its
   C simulation) on the same N standard-normal samples (median of R repeats after a warm-up);
2. C-simulation compile time from scratch: our ``Firmware.compile()`` (writes the project to a
   fresh temporary folder, then g++) against hls4ml's ``ModelGraph.compile()`` (writes, then g++);
3. the 1.01M-weight MLP (``KERAS_dense_16x500x500x500x500x500x5``): export and compile times of
   both tools, each in its own child process bounded by ``--timeout`` (default 20 min);
4. our emulator against our C simulation, bit for bit on the N samples, and the argmax agreement
   between our firmware and hls4ml's (they differ by design: our accumulators are exact and the
   pre-activation sum is not wrapped).

Writes ``benchmarks/results/export.json`` (git-ignored) and prints a table.

    .venv/bin/python benchmarks/bench_export.py            # everything (~5-10 min on 2 cores)
    .venv/bin/python benchmarks/bench_export.py --quick    # skip the 1.01M-weight model
    .venv/bin/python benchmarks/bench_export.py --samples 2000 --repeats 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import fpga_aware as fa  # noqa: E402  (must come before TensorFlow: it selects tf-keras)
import numpy as np  # noqa: E402

PART = "xcu250-figd2104-2L-e"
PRECISION = "ap_fixed<16,6>"
REUSE = 1
JET = "KERAS_3layer"
BIG = "KERAS_dense_16x500x500x500x500x500x5"
SEED = 20240611

TARGET_EMULATOR_RATIO = 200.0  # our emulator samples/s over hls4ml predict samples/s (issue 9; was 100)
DEFAULT_TIMEOUT_S = 1200.0  # per tool, for the 1.01M-weight model

# The child processes of the big-model measurement print one line per finished stage.
STAGE_PREFIX = "BENCH-STAGE "
RESULT_PREFIX = "BENCH-RESULT "


def _models_dir() -> Path:
    shared = os.environ.get("FPGA_AWARE_SHARED")
    if shared:
        return Path(shared) / "models"
    return REPO.parent / "shared" / "models"


# ---------------------------------------------------------------------------- helpers
def load_model(name: str, models_dir: Path):
    """``<name>.json`` + ``<name>_weights.h5`` as a tf-keras model (QKeras objects known)."""
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    arch = models_dir / f"{name}.json"
    weights = models_dir / f"{name}_weights.h5"
    if not arch.exists() or not weights.exists():
        raise FileNotFoundError(f"model {name} not found under {models_dir}")
    custom: dict = {}
    _add_supported_quantized_objects(custom)
    model = tf.keras.models.model_from_json(arch.read_text(), custom_objects=custom)
    model.load_weights(str(weights))
    return model


def n_weights(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.get_weights()))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


_CONTROLLER = None


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Limit BLAS/OpenMP threads to ``n`` inside the block (no-op for ``None``; ~20 us)."""
    global _CONTROLLER
    if n is None:
        yield
        return
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()  # found once: threadpool_limits() rescans (~0.5 ms)
    with _CONTROLLER.limit(limits=n):
        yield


def blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: d.get(k) for k in ("internal_api", "num_threads", "version")} for d in threadpool_info()
        ]
    except Exception:  # pragma: no cover - threadpoolctl missing
        return []


@contextlib.contextmanager
def hls4ml_sees_keras2():
    """Make hls4ml 1.3.0 pick its Keras 2 parser for a tf-keras model.

    hls4ml chooses the parser with ``import keras; keras.__version__ >= '3.0'`` (in
    ``hls4ml/converters/__init__.py``: ``convert_from_keras_model`` and
    ``keras_v2_to_hls``'s dispatcher, and ``hls4ml/utils/config.py``:
    ``config_from_keras_model``).  The ``keras`` package installed next to TensorFlow 2.21 is
    Keras 3, while our models are tf-keras (Keras 2) objects, so for the duration of the
    conversion ``keras.__version__`` reads as tf-keras's version.
    """
    import keras
    import tf_keras

    saved = keras.__version__
    keras.__version__ = tf_keras.__version__
    try:
        yield
    finally:
        keras.__version__ = saved


def hls4ml_convert(model, output_dir: Path, strategy: str = "Latency"):
    """hls4ml's model-granularity config at PRECISION / REUSE / strategy, io_parallel, Vivado."""
    import hls4ml

    with hls4ml_sees_keras2(), contextlib.redirect_stdout(io.StringIO()):
        cfg = hls4ml.utils.config_from_keras_model(model, granularity="model")
        cfg["Model"]["Precision"] = PRECISION
        cfg["Model"]["ReuseFactor"] = REUSE
        cfg["Model"]["Strategy"] = strategy
        hls_model = hls4ml.converters.convert_from_keras_model(
            model,
            hls_config=cfg,
            output_dir=str(output_dir),
            part=PART,
            io_type="io_parallel",
            backend="Vivado",
        )
    return hls_model, cfg


def quiet(fn: Callable[[], Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def our_firmware(model):
    return fa.to_firmware(model, part=PART, precision=PRECISION, reuse_factor=REUSE, strategy="latency")


@contextlib.contextmanager
def clean_csim_cache():
    """Point any compile cache fpga_aware's csim might keep at an empty folder."""
    with tempfile.TemporaryDirectory(prefix="fa_bench_cache_") as cache:
        saved = {k: os.environ.get(k) for k in ("FPGA_AWARE_CACHE", "FPGA_AWARE_CSIM_CACHE", "XDG_CACHE_HOME")}
        for k in saved:
            os.environ[k] = cache
        try:
            yield Path(cache)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except Exception:  # pragma: no cover - not a checkout
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:2000]


# ---------------------------------------------------------------------------- part 1, 2, 4: jet tagger
def interleaved_throughput(engines: dict[str, Callable[[np.ndarray], Any]], x: np.ndarray, repeats: int) -> dict:
    """Throughput of several engines, their timed calls interleaved round by round.

    One warm-up call each, then ``repeats`` rounds of one timed call per engine, so a change in
    the machine's load hits every engine alike.  Per engine: median (and best) wall time; the
    median CPU time of the calling thread (``cpu_*``: robust to other jobs on a busy machine, and
    complete for the single-threaded engines: hls4ml, our csim, the emulator with 1 BLAS thread);
    and the CPU time of the whole process (``process_cpu_*``, which also counts idle threads of
    TensorFlow / OpenBLAS spinning meanwhile).
    """
    for fn in engines.values():
        fn(x)
    wall: dict[str, list[float]] = {name: [] for name in engines}
    cpu: dict[str, list[float]] = {name: [] for name in engines}
    pcpu: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, fn in engines.items():
            p0, c0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
            fn(x)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.thread_time() - c0)
            pcpu[name].append(time.process_time() - p0)
    out = {}
    n = int(x.shape[0])
    for name in engines:
        median, cpu_median = statistics.median(wall[name]), statistics.median(cpu[name])
        out[name] = {
            "samples": n,
            "repeats": repeats,
            "times_s": wall[name],
            "median_s": median,
            "samples_per_s": n / median,
            "best_s": min(wall[name]),
            "best_samples_per_s": n / min(wall[name]),
            "cpu_times_s": cpu[name],
            "cpu_median_s": cpu_median,
            "cpu_samples_per_s": n / cpu_median if cpu_median > 0 else float("inf"),
            "process_cpu_times_s": pcpu[name],
            "process_cpu_median_s": statistics.median(pcpu[name]),
        }
    return out


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def compile_ours(model) -> tuple[float, float, Any]:
    """A fresh firmware (not timed), then ``fw.compile()`` timed with an empty csim cache.

    Returns (wall seconds, CPU seconds of the compiler processes, firmware)."""
    fw = our_firmware(model)
    with clean_csim_cache():
        c0 = _children_cpu()
        t, _ = timed(fw.compile)
        cpu = _children_cpu() - c0
    if not getattr(fw._library, "compiled", True):
        raise RuntimeError("fw.compile() reused a cached library; the compile time would be wrong")
    return t, cpu, fw


def compile_hls4ml(model, output_dir: Path) -> tuple[float, float, Any, dict]:
    """A fresh hls4ml conversion into a new folder (not timed), then ``compile()`` timed."""
    hls_model, cfg = hls4ml_convert(model, output_dir)
    c0 = _children_cpu()
    t, _ = timed(lambda: quiet(hls_model.compile))
    return t, _children_cpu() - c0, hls_model, cfg


def bench_jet(models_dir: Path, samples: int, repeats: int, compile_repeats: int, workdir: Path) -> dict:
    model = load_model(JET, models_dir)
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((samples, model.input_shape[-1]))
    res: dict = {"model": JET, "n_weights": n_weights(model), "samples": samples, "seed": SEED}

    # -- compile times from scratch, alternating which tool goes first
    ours_times, hls_times, ours_cpu, hls_cpu = [], [], [], []
    fw_c = hls_model = csim_error = None
    for r in range(compile_repeats):
        order = ("ours", "hls4ml") if r % 2 == 0 else ("hls4ml", "ours")
        for tool in order:
            if tool == "hls4ml":
                t, cpu, hls_model, cfg = compile_hls4ml(model, workdir / f"hls4ml_jet_{r}")
                res["hls4ml_config"] = cfg
                hls_times.append(t)
                hls_cpu.append(cpu)
            elif csim_error is None:
                try:
                    t, cpu, fw_c = compile_ours(model)
                    ours_times.append(t)
                    ours_cpu.append(cpu)
                except Exception as exc:  # csim missing or broken: report, do not hide
                    csim_error = exc
                    res["ours_csim_error"] = error_text(exc)
                    res["ours_csim_traceback"] = traceback.format_exc()[-4000:]
    res["hls4ml_compile_times_s"] = hls_times
    res["hls4ml_compile_s"] = statistics.median(hls_times)
    res["hls4ml_compile_cpu_s"] = statistics.median(hls_cpu)
    if ours_times:
        res["ours_compile_times_s"] = ours_times
        res["ours_compile_s"] = statistics.median(ours_times)
        res["ours_compile_cpu_s"] = statistics.median(ours_cpu)

    # -- predict throughput, interleaved
    fw = our_firmware(model)
    engines: dict[str, Callable[[np.ndarray], Any]] = {"ours_emulator": fw.predict}
    try:
        import threadpoolctl  # noqa: F401

        def emulator_1_thread(a):
            with blas_threads(1):
                return fw._emulator.predict(a, threads=1)

        # numpy's OpenBLAS threads fight other processes on a busy machine; one thread (one Python
        # thread, one BLAS thread: its thread CPU time is the whole cost) is shown too
        engines["ours_emulator_1_blas_thread"] = emulator_1_thread
    except ImportError:
        pass
    if fw_c is not None:
        engines["ours_csim"] = lambda a: fw_c.predict(a, engine="csim")  # the batch on every CPU
        # one thread: the calling thread's CPU time is then the whole cost (the CPU-time row)
        engines["ours_csim_1_thread"] = lambda a: fw_c._library.predict(a, threads=1)
    engines["hls4ml_predict"] = lambda a: hls_model.predict(np.ascontiguousarray(a))
    res.update(interleaved_throughput(engines, x, repeats))

    # -- correctness
    emu_out = fw.predict(x)
    hls_out = np.asarray(hls_model.predict(np.ascontiguousarray(x)), dtype=np.float64)
    if fw_c is not None:
        csim_out = fw_c.predict(x, engine="csim")
        same_shape = emu_out.shape == csim_out.shape
        res["bit_exact"] = {
            "emulator_equals_csim": bool(np.array_equal(emu_out, csim_out)),
            "samples": samples,
            "mismatching_samples": int(np.any(emu_out != csim_out, axis=1).sum()) if same_shape else samples,
            "max_abs_diff": float(np.max(np.abs(emu_out - csim_out))) if same_shape else None,
        }
    res["agreement_vs_hls4ml"] = {
        "argmax_agreement": float(np.mean(emu_out.argmax(axis=1) == hls_out.argmax(axis=1))),
        "identical_outputs_fraction": float(np.mean(np.all(emu_out == hls_out, axis=1))),
        "max_abs_diff": float(np.max(np.abs(emu_out - hls_out))),
        "mean_abs_diff": float(np.mean(np.abs(emu_out - hls_out))),
    }
    # float Keras reference, for context (both firmwares are approximations of it)
    keras_out = model.predict(x, batch_size=4096, verbose=0)
    res["agreement_vs_keras_float"] = {
        "ours_argmax_agreement": float(np.mean(emu_out.argmax(1) == keras_out.argmax(1))),
        "hls4ml_argmax_agreement": float(np.mean(hls_out.argmax(1) == keras_out.argmax(1))),
    }

    theirs = res["hls4ml_predict"]["samples_per_s"]
    res["emulator_vs_hls4ml_ratio"] = res["ours_emulator"]["samples_per_s"] / theirs
    if "ours_emulator_1_blas_thread" in res:
        res["emulator_1_blas_thread_vs_hls4ml_ratio"] = res["ours_emulator_1_blas_thread"]["samples_per_s"] / theirs
    if "ours_csim" in res:
        res["csim_vs_hls4ml_ratio"] = res["ours_csim"]["samples_per_s"] / theirs
    # by CPU time of the calling thread (whatever else runs on the machine); only meaningful for
    # single-threaded engines, so not for the emulator with numpy's default BLAS threads nor for
    # the C simulation on several threads
    theirs_cpu = res["hls4ml_predict"]["cpu_samples_per_s"]
    res["cpu_time_ratios_vs_hls4ml"] = {
        name: res[name]["cpu_samples_per_s"] / theirs_cpu
        for name in ("ours_emulator_1_blas_thread", "ours_csim_1_thread")
        if name in res
    }
    if "ours_compile_s" in res:
        res["compile_ratio_ours_over_hls4ml"] = res["ours_compile_s"] / res["hls4ml_compile_s"]
    return res


# ---------------------------------------------------------------------------- part 3: big model (child processes)
def _stage(name: str, value: Any) -> None:
    print(STAGE_PREFIX + json.dumps({name: value}), flush=True)


def worker(tool: str, model_name: str, models_dir: Path, workdir: Path, samples: int) -> None:
    """One tool on one model: export, compile, predict ``samples`` rows; prints stage lines."""
    model = load_model(model_name, models_dir)
    _stage("n_weights", n_weights(model))
    _stage("n_kernel_weights", int(sum(np.prod(layer.kernel.shape) for layer in model.layers if hasattr(layer, "kernel"))))
    x = np.random.default_rng(SEED).standard_normal((samples, model.input_shape[-1]))
    out_dir = workdir / f"{tool}_prj"
    if tool == "ours":
        t, fw = timed(
            lambda: fa.export(
                model, part=PART, output_dir=out_dir, overwrite=True,
                precision=PRECISION, reuse_factor=REUSE, strategy="latency",
            )
        )
        _stage("export_s", t)
        _stage("project_bytes", _tree_bytes(out_dir))
        _stage("stored_weights", int(sum(layer.nonzero_weights for layer in fw.ir.dense_layers())))
        with clean_csim_cache():
            c0 = _children_cpu()
            t, _ = timed(fw.compile)  # project already written: g++ build only
            _stage("compile_cpu_s", _children_cpu() - c0)
        _stage("compile_s", t)
        _stage("really_compiled", bool(getattr(fw._library, "compiled", True)))
        t, y = timed(lambda: fw.predict(x, engine="csim"))
        _stage("csim_predict_s", t)
        t, y_emu = timed(lambda: fw.predict(x))
        _stage("emulator_predict_s", t)
        _stage("emulator_equals_csim", bool(np.array_equal(y, y_emu)))
    elif tool == "hls4ml":
        def export():
            hls_model, _ = hls4ml_convert(model, out_dir)
            quiet(hls_model.write)
            return hls_model

        t, hls_model = timed(export)
        _stage("export_s", t)
        _stage("project_bytes", _tree_bytes(out_dir))
        # compile() would write the project again; _compile() is its g++ build + library load,
        # the same work as our compile() of an already written project.
        c0 = _children_cpu()
        t, _ = timed(lambda: quiet(hls_model._compile))
        _stage("compile_cpu_s", _children_cpu() - c0)
        _stage("compile_s", t)
        t, y = timed(lambda: np.asarray(hls_model.predict(np.ascontiguousarray(x)), dtype=np.float64))
        _stage("csim_predict_s", t)
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    _stage("distinct_output_rows", int(len(np.unique(y, axis=0))))
    np.save(workdir / f"{tool}_out.npy", y)
    print(RESULT_PREFIX + json.dumps({"ok": True}), flush=True)


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def run_worker(tool: str, model_name: str, models_dir: Path, workdir: Path, samples: int, timeout: float) -> dict:
    """Run :func:`worker` in its own process group; kill the whole group after ``timeout``."""
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--model", model_name,
        "--models-dir", str(models_dir), "--workdir", str(workdir), "--samples", str(samples),
    ]
    log = workdir / f"{tool}.stderr.log"
    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
        timed_out = False
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and its g++ children
            stdout, _ = proc.communicate()
    wall = time.perf_counter() - t0
    res: dict = {"wall_s": wall, "timeout_s": timeout}
    ok = False
    for line in stdout.splitlines():
        if line.startswith(STAGE_PREFIX):
            res.update(json.loads(line[len(STAGE_PREFIX):]))
        elif line.startswith(RESULT_PREFIX):
            ok = True
    if timed_out:
        res["status"] = f"did not finish within {timeout:.0f} s"
    elif proc.returncode != 0 or not ok:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        res["status"] = f"failed (exit {proc.returncode})"
        res["error_tail"] = "\n".join(tail)
    else:
        res["status"] = "ok"
    return res


def bench_big(models_dir: Path, workdir: Path, samples: int, timeout: float) -> dict:
    res: dict = {"model": BIG, "predict_samples": samples}
    for tool in ("ours", "hls4ml"):  # one after the other: never two compilers at once
        tool_dir = workdir / f"big_{tool}"
        tool_dir.mkdir(parents=True, exist_ok=True)
        res[tool] = run_worker(tool, BIG, models_dir, tool_dir, samples, timeout)
        out = tool_dir / f"{tool}_out.npy"
        if out.exists():
            res[tool]["_out"] = out
    if "_out" in res["ours"] and "_out" in res["hls4ml"]:
        a, b = np.load(res["ours"]["_out"]), np.load(res["hls4ml"]["_out"])
        res["argmax_agreement"] = float(np.mean(a.argmax(1) == b.argmax(1)))
    for tool in ("ours", "hls4ml"):
        res[tool].pop("_out", None)
    res["n_weights"] = res["ours"].get("n_weights", res["hls4ml"].get("n_weights"))
    return res


# ---------------------------------------------------------------------------- report
def _fmt_s(v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return f"{v:.2f} s"
    return "—"


def _fmt_rate(block: dict | None) -> str:
    if not block:
        return "—"
    return f"{block['samples_per_s']:,.0f} /s  ({block['median_s'] * 1e3:.1f} ms, best {block['best_s'] * 1e3:.1f})"


def print_report(results: dict) -> None:
    jet = results.get("jet_tagger", {})
    rows: list[tuple[str, str, str]] = []
    if jet:
        n = jet["samples"]
        rows.append((f"jet tagger ({jet['n_weights']:,} weights), {n:,} samples", "", ""))
        rows.append(("  predict throughput: emulator (ours) / hls4ml", _fmt_rate(jet.get("ours_emulator")), _fmt_rate(jet.get("hls4ml_predict"))))
        if jet.get("ours_emulator_1_blas_thread"):
            rows.append(("  predict throughput: emulator, 1 BLAS thread", _fmt_rate(jet["ours_emulator_1_blas_thread"]), ""))
        rows.append(("  predict throughput: csim (ours) / hls4ml", _fmt_rate(jet.get("ours_csim")), _fmt_rate(jet.get("hls4ml_predict"))))
        ratio = jet.get("emulator_vs_hls4ml_ratio")
        rows.append((f"  emulator / hls4ml ratio (target >= {TARGET_EMULATOR_RATIO:.0f}x)", f"{ratio:,.1f}x" if ratio else "—",
                     "MET" if ratio and ratio >= TARGET_EMULATOR_RATIO else "NOT MET"))
        if jet.get("emulator_1_blas_thread_vs_hls4ml_ratio"):
            r1 = jet["emulator_1_blas_thread_vs_hls4ml_ratio"]
            rows.append(("  emulator (1 BLAS thread) / hls4ml ratio", f"{r1:,.1f}x",
                         "MET" if r1 >= TARGET_EMULATOR_RATIO else "NOT MET"))
        cpu_r = jet.get("cpu_time_ratios_vs_hls4ml", {})
        if cpu_r:
            rows.append(("  by thread CPU time: emulator 1 BLAS thread / csim 1 thread vs hls4ml",
                         " / ".join(f"{cpu_r[k]:,.1f}x" for k in ("ours_emulator_1_blas_thread", "ours_csim_1_thread") if k in cpu_r),
                         "MET" if cpu_r.get("ours_emulator_1_blas_thread", 0) >= TARGET_EMULATOR_RATIO else "NOT MET"))
        if jet.get("csim_vs_hls4ml_ratio"):
            rows.append(("  csim (ours) / hls4ml ratio", f"{jet['csim_vs_hls4ml_ratio']:,.1f}x", ""))
        oc, hc = jet.get("ours_compile_s"), jet.get("hls4ml_compile_s")
        rows.append(("  compile from scratch: ours / hls4ml (target ours <= hls4ml)", _fmt_s(oc), _fmt_s(hc)))
        if oc is not None and hc is not None:
            rows.append(("  compile ratio ours / hls4ml", f"{oc / hc:.2f}", "MET" if oc <= hc else "NOT MET"))
        if jet.get("ours_compile_cpu_s") is not None:
            rows.append(("  compile CPU time of g++ (all processes): ours / hls4ml",
                         _fmt_s(jet["ours_compile_cpu_s"]), _fmt_s(jet.get("hls4ml_compile_cpu_s"))))
        be = jet.get("bit_exact")
        if be:
            rows.append(("  emulator == csim, bit for bit", "YES" if be["emulator_equals_csim"] else
                         f"NO: {be['mismatching_samples']} of {be['samples']} samples differ", ""))
        elif jet.get("ours_csim_error"):
            rows.append(("  our csim", "unavailable", jet["ours_csim_error"][:60]))
        ag = jet.get("agreement_vs_hls4ml", {})
        rows.append(("  argmax agreement ours vs hls4ml", f"{ag.get('argmax_agreement', float('nan')):.2%}",
                     f"identical outputs {ag.get('identical_outputs_fraction', float('nan')):.2%}"))
        kf = jet.get("agreement_vs_keras_float", {})
        rows.append(("  argmax agreement with float Keras: ours / hls4ml",
                     f"{kf.get('ours_argmax_agreement', float('nan')):.2%}",
                     f"{kf.get('hls4ml_argmax_agreement', float('nan')):.2%}"))
    big = results.get("big_mlp")
    if big:
        o, h = big["ours"], big["hls4ml"]
        rows.append((f"1.01M-weight MLP ({big.get('n_weights') or 0:,} weights)", "ours", "hls4ml"))
        rows.append(("  export (convert + write project)", _fmt_s(o.get("export_s")), _fmt_s(h.get("export_s"))))
        rows.append(("  compile (g++ build of the written project)", _fmt_s(o.get("compile_s")), _fmt_s(h.get("compile_s"))))
        rows.append(("  compile CPU time of g++ (all processes)", _fmt_s(o.get("compile_cpu_s")), _fmt_s(h.get("compile_cpu_s"))))
        rows.append((f"  csim predict, {big['predict_samples']} samples", _fmt_s(o.get("csim_predict_s")), _fmt_s(h.get("csim_predict_s"))))
        rows.append(("  project size on disk",
                     f"{o['project_bytes'] / 1e6:.1f} MB" if "project_bytes" in o else "—",
                     f"{h['project_bytes'] / 1e6:.1f} MB" if "project_bytes" in h else "—"))
        rows.append(("  status", o["status"], h["status"]))
        for tool, block in (("ours", o), ("hls4ml", h)):
            if block.get("error_tail"):
                rows.append((f"  {tool} error", block["error_tail"].strip().splitlines()[-1][:90], ""))
        if "emulator_equals_csim" in o:
            rows.append(("  emulator == csim (ours), bit for bit", "YES" if o["emulator_equals_csim"] else "NO", ""))
        if "argmax_agreement" in big:
            rows.append(("  argmax agreement ours vs hls4ml", f"{big['argmax_agreement']:.2%}", ""))
        if "stored_weights" in o:
            rows.append(("  kernel weights stored (ours: nonzero ones)", f"{o['stored_weights']:,}", f"{h.get('n_kernel_weights', 0):,} (all)"))
        if "distinct_output_rows" in o or "distinct_output_rows" in h:
            rows.append((f"  distinct output rows among the {big['predict_samples']} samples",
                         str(o.get("distinct_output_rows", "—")), str(h.get("distinct_output_rows", "—"))))
    w0 = max(len(r[0]) for r in rows) + 2
    w1 = max(len(r[1]) for r in rows) + 2
    print()
    print(f"{'fpga_aware vs hls4ml':<{w0}}{'ours':<{w1}}hls4ml / note")
    print("-" * (w0 + w1 + 30))
    for a, b, c in rows:
        print(f"{a:<{w0}}{b:<{w1}}{c}")
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the 1.01M-weight model")
    ap.add_argument("--samples", type=int, default=10_000, help="samples for the jet-tagger throughput (default 10000)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per throughput, median reported (default 5)")
    ap.add_argument("--compile-repeats", type=int, default=2,
                    help="from-scratch compiles per tool for the jet tagger, order alternating (default 2)")
    ap.add_argument("--big-samples", type=int, default=200, help="samples predicted with the 1.01M model (default 200)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="per-tool limit for the 1.01M model, seconds")
    ap.add_argument("--models-dir", type=Path, default=None, help="folder of <name>.json + <name>_weights.h5")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "export.json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects (path printed)")
    ap.add_argument("--worker", choices=("ours", "hls4ml"), help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if min(args.repeats, args.samples, args.compile_repeats) < 1:
        ap.error("--samples, --repeats and --compile-repeats must be positive")
    models_dir = args.models_dir or _models_dir()

    if args.worker:
        worker(args.worker, args.model, models_dir, args.workdir, args.samples)
        return 0

    import hls4ml
    import tensorflow as tf

    results: dict = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_commit": git_commit(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "tensorflow": tf.__version__,
            "hls4ml": hls4ml.__version__,
            "fpga_aware": fa.__version__,
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "blas": blas_info(),
            "gxx": (shutil.which("g++") and subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]),
            "part": PART,
            "precision": PRECISION,
            "reuse_factor": REUSE,
            "strategy": "latency",
            "io_type": "io_parallel",
            "hls4ml_patch": "keras.__version__ = tf_keras.__version__ during config_from_keras_model/convert_from_keras_model",
        },
        "targets": {"emulator_over_hls4ml_predict": TARGET_EMULATOR_RATIO, "compile_ours_over_hls4ml_max": 1.0},
    }
    workdir = Path(tempfile.mkdtemp(prefix="fa_bench_export_"))
    try:
        print(f"[bench_export] jet tagger, {args.samples} samples x {args.repeats} repeats ...", flush=True)
        results["jet_tagger"] = bench_jet(models_dir, args.samples, args.repeats, args.compile_repeats, workdir)
        if not args.quick:
            print(f"[bench_export] 1.01M-weight MLP (each tool limited to {args.timeout:.0f} s) ...", flush=True)
            results["big_mlp"] = bench_big(models_dir, workdir, args.big_samples, args.timeout)
    finally:
        if args.keep:
            print(f"[bench_export] projects kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    results["meta"]["load_average_at_end"] = os.getloadavg()
    print_report(results)
    la0, la1 = results["meta"]["load_average_at_start"][0], results["meta"]["load_average_at_end"][0]
    if max(la0, la1) > (os.cpu_count() or 1):
        print(f"[bench_export] note: the machine was busy (1-min load {la0:.1f} -> {la1:.1f} on "
              f"{os.cpu_count()} CPUs); timings are noisy, compare best_s in the JSON as well")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    print(f"[bench_export] results written to {args.output}")
    ratio = results["jet_tagger"].get("emulator_vs_hls4ml_ratio", 0)
    if ratio < TARGET_EMULATOR_RATIO:
        print(f"[bench_export] emulator target not met ({ratio:.1f}x < {TARGET_EMULATOR_RATIO:.0f}x); "
              "see where the time goes: .venv/bin/python benchmarks/profile_emulator.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
