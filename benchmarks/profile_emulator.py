#!/usr/bin/env python
"""Where does the emulator's time go?  Profile ``Firmware.predict`` on the jet tagger.

Prints, for the jet tagger at ``ap_fixed<16,6>`` on N standard-normal samples:

1. the median time of ``fw.predict`` and the time of every IR layer (its integer rule, ``EMULATOR_RULES[kind].integer``);
2. a cProfile of ``fw.predict`` (functions of ``fpga_aware/sim/emulator.py``, ``core/fixed.py``, ``core/ir.py``
   and the numpy calls they make), sorted by own time;
3. a *what-if* prototype, only in this file: the same arithmetic for the layer kinds of this model
   with (a) the integer mantissas kept in float64 between layers (exact below 2**53; no int64
   round trips), (b) the weights converted and the overflow-freedom of each accumulator decided
   once instead of on every call, (c) ``AP_TRN`` requantisation as one floor of a power-of-two
   scaling (no rounding-bump arrays), (d) ``AP_WRAP`` skipped when a min/max check shows nothing
   can wrap, and (e) the batch processed in cache-sized chunks.  Its output is checked bit for
   bit against ``fw.predict`` before its throughput is reported.  It is a measurement of what the
   suggestions are worth, not a replacement: layers or types it does not cover fall back to the
   emulator.

    .venv/bin/python benchmarks/profile_emulator.py [--samples 10000] [--repeats 5] [--model KERAS_3layer]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import fpga_aware as fa  # noqa: E402  (before TensorFlow)
import numpy as np  # noqa: E402

from bench_export import JET, PART, PRECISION, SEED, _models_dir, load_model  # noqa: E402
from fpga_aware.sim import emulator as emu_mod  # noqa: E402
from fpga_aware.sim.emulator import EMULATOR_RULES, Emulator  # noqa: E402
from fpga_aware.core.fixed import Overflow, Rounding  # noqa: E402
from fpga_aware.sim.inputs import as_batch  # noqa: E402
from fpga_aware.core.ir import ActivationLayer, DenseLayer  # noqa: E402


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def per_layer(fw, x: np.ndarray, repeats: int) -> list[tuple[str, str, float]]:
    """Median time of each layer of the emulator's chain, fed with the real previous output."""
    batch = as_batch(fw.ir, x)
    rows = []
    values = fw.ir.input_type.from_float(batch)  # mantissas of the input type
    t = median_time(lambda: fw.ir.input_type.from_float(batch), repeats)
    rows.append((fw.ir.input.name, f"input ->{fw.ir.input_type}", t))
    for layer in fw.ir.layers[1:]:
        inp = values
        rule = EMULATOR_RULES[layer.kind].integer
        t = median_time(lambda: rule(layer, inp), repeats)
        values = rule(layer, inp)
        desc = f"{layer.kind}"
        if isinstance(layer, DenseLayer):
            desc += f" {layer.n_in}x{layer.n_out} acc={layer.accum_type} res={layer.result_type}"
        elif isinstance(layer, ActivationLayer):
            desc += f" {layer.function} {layer.input_type}->{layer.result_type}"
        else:
            desc += f" ->{layer.result_type}"
        rows.append((layer.name, desc, t))
    return rows


def profile(fw, x: np.ndarray, repeats: int, top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeats):
        fw.predict(x)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(r"fpga_aware", top)
    return out.getvalue()


# ---------------------------------------------------------------------------- what-if prototype
_EXACT = float(2**53)


class FastPath:
    """Prototype of the suggested emulator fast path (float64-held mantissas, decided-once checks)."""

    def __init__(self, ir, chunk: int | None = 2048):
        self.ir = ir
        self.chunk = chunk
        self.plan = [self._plan(layer) for layer in ir.layers]

    def _plan(self, layer):
        if layer.kind == "input":  # the batch of doubles -> the input type's float64-held mantissas
            return ("input", layer.result_type)
        if isinstance(layer, DenseLayer) and emu_mod._accum_is_lossless(layer):
            acc_t, res_t, x_t = layer.accum_type, layer.result_type, layer.input_type
            prod_frac = x_t.frac + layer.weight_type.frac
            x_max = max(abs(x_t.min_mantissa), abs(x_t.max_mantissa))
            w = layer.weights
            col = np.abs(w).sum(axis=0).astype(np.float64) * x_max
            lshift = acc_t.frac - prod_frac
            bias = acc_t.requantize(layer.bias, layer.bias_type.frac)
            bound = (col * 2.0**lshift + np.abs(bias)).max(initial=0)
            no_wrap = bound <= min(acc_t.max_mantissa, -acc_t.min_mantissa)
            shift = acc_t.frac - res_t.frac
            if bound < _EXACT and no_wrap and lshift >= 0 and shift >= 0 and res_t.rounding == Rounding.TRN:
                w_f = (w.astype(np.float64) * 2.0**lshift)
                return ("dense", w_f, bias.astype(np.float64), 2.0**-shift if shift > 0 else None, res_t)
        if isinstance(layer, ActivationLayer) and layer.function == "relu":
            shift = layer.input_type.frac - layer.result_type.frac
            if layer.result_type.rounding == Rounding.TRN and shift >= 0:
                return ("relu", 2.0**-shift if shift > 0 else None, layer.result_type)
        return ("emulator", layer)

    @staticmethod
    def _fit(v: np.ndarray, t) -> np.ndarray:
        """Apply ``t``'s overflow only when a value is out of range (float64 mantissas)."""
        lo, hi = t.min_mantissa, t.max_mantissa
        if not v.size or (v.min() >= lo and v.max() <= hi):
            return v
        if t.overflow == Overflow.WRAP:  # v - span * floor((v - lo) / span): exact below 2**53
            span = float(1 << t.width)
            k = v - lo
            k *= 1.0 / span
            np.floor(k, out=k)
            k *= span
            return v - k
        return t.apply_overflow(v.astype(np.int64)).astype(np.float64)

    def _run(self, x: np.ndarray) -> np.ndarray:
        v = x
        is_float = False  # v holds int64 mantissas (False) or float64-held mantissas (True)
        for layer, plan in zip(self.ir.layers, self.plan):
            kind = plan[0]
            if kind == "input":
                v, is_float = plan[1].mantissas_float(v), True
            elif kind == "dense":
                _, w_f, b_f, scale, res_t = plan
                a = (v if is_float else v.astype(np.float64)) @ w_f
                a += b_f
                if scale is not None:
                    a *= scale
                    np.floor(a, out=a)
                v, is_float = self._fit(a, res_t), True
            elif kind == "relu":
                _, scale, res_t = plan
                a = v if is_float else v.astype(np.float64)
                a = np.maximum(a, 0.0)
                if scale is not None:
                    a *= scale
                    np.floor(a, out=a)
                v, is_float = self._fit(a, res_t), True
            else:
                if is_float:
                    v = v.astype(np.int64)
                    is_float = False
                v = EMULATOR_RULES[layer.kind].integer(layer, v)
        out_t = self.ir.output.result_type
        return (v if is_float else v.astype(np.float64)) * math.ldexp(1.0, -out_t.frac)

    def predict(self, x) -> np.ndarray:
        batch = as_batch(self.ir, x)
        if not self.chunk or batch.shape[0] <= self.chunk:
            return self._run(batch)
        return np.concatenate([self._run(batch[i : i + self.chunk]) for i in range(0, batch.shape[0], self.chunk)])


def program_ops(fw, x: np.ndarray, repeats: int) -> list[tuple[str, float, float]]:
    """Thread CPU time (median and best, one thread, one BLAS thread) of every numpy operation of
    the buffered program (``fpga_aware/sim/fused.py``) on the whole batch: the input conversion,
    per stage its product, rounding, overflow scan and ReLU (block by block, summed), the last
    product and the softmax tail.  Each is replayed on the real intermediate values."""
    from fpga_aware.sim import fused
    from threadpoolctl import threadpool_limits

    program = fw._emulator._program
    if program is None:
        return []
    batch = as_batch(fw.ir, x)
    n = batch.shape[0]

    def timed(fn):
        fn()
        cpu = []
        for _ in range(repeats):
            c0 = time.thread_time()
            fn()
            cpu.append(time.thread_time() - c0)
        return statistics.median(cpu), min(cpu)

    rows: list[tuple[str, float, float]] = []
    with threadpool_limits(1):
        ws = fused._Workspace(program, n)
        x_buf, sums = ws.x[:n], ws.sums[:n]
        scratch = None if ws.x_in is None else ws.x_in[:n]
        rows.append(("input conversion (scale, round, min/max, copy)",
                     *timed(lambda: program._convert_input(batch, x_buf[:, :-1], scratch))))
        step = -(-n // -(-n // fused._BLOCK_ROWS))
        starts = list(range(0, n, step))
        ins = [x_buf[s:s + step] for s in starts]
        for k, stage in enumerate(program.stages):
            buf = ws.blocks[k]
            outs = []
            for v in ins:
                outs.append(stage(v, buf).copy())
            shape = stage.weights.shape
            def gemm():
                for v in ins:
                    np.matmul(v, stage.weights, out=buf.product[:v.shape[0], :-1])
            def rnd():
                for v in ins:
                    np.floor(buf.product[:v.shape[0]], out=buf.product[:v.shape[0]])
            def scan():
                for v in ins:
                    buf.product[:v.shape[0]].max()
            def relu():
                for v in ins:
                    np.maximum(buf.product[:v.shape[0]], buf.zeros[:v.shape[0]], out=buf.next_in[:v.shape[0]])
            def whole():
                for v in ins:
                    stage(v, buf)
            label = f"stage {k + 1}: {shape[0]}x{shape[1]} {stage.weights.dtype}"
            rows.append((f"{label} product", *timed(gemm)))
            rows.append((f"{label} rounding", *timed(rnd)))
            rows.append((f"{label} overflow scan (max)", *timed(scan)))
            rows.append((f"{label} ReLU", *timed(relu)))
            rows.append((f"{label} whole stage (incl. overflow fix-ups)", *timed(whole)))
            ins = outs
        if program.final is not None:
            def final():
                for s, v in zip(starts, ins):
                    program.final(v, sums[s:s + v.shape[0]])
            shape = program.final.weights.shape
            rows.append((f"last product {shape[0]}x{shape[1]} {program.final.weights.dtype}", *timed(final)))
            final()
        if program.softmax is not None:
            saved = sums.copy()
            out = np.empty((n, fw.ir.n_outputs))
            def tail():
                np.copyto(sums, saved)
                program.softmax(sums, out, ws.tail)
            rows.append(("softmax tail (incl. a copy of the sums)", *timed(tail)))
        rows.append(("fw._emulator.predict(x, threads=1), whole", *timed(lambda: fw._emulator.predict(batch, threads=1))))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="profile the numpy emulator")
    ap.add_argument("--model", default=JET)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--what-if-rounds", type=int, default=15)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit numpy's BLAS threads for the profile (threadpoolctl); default: numpy's own")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "profile_emulator.json")
    args = ap.parse_args(argv)

    from bench_export import blas_info, blas_threads

    model = load_model(args.model, _models_dir())
    fw = fa.to_firmware(model, part=PART, precision=PRECISION, reuse_factor=1, strategy="latency")
    x = np.random.default_rng(SEED).standard_normal((args.samples, model.input_shape[-1]))
    ref = fw.predict(x)

    with blas_threads(args.blas_threads):
        print(f"\nBLAS: {blas_info()}")
        t_total = median_time(lambda: fw.predict(x), args.repeats)
        print(f"fw.predict, {args.samples} samples: median {t_total * 1e3:.1f} ms  ({args.samples / t_total:,.0f} samples/s)\n")
        rows = per_layer(fw, x, args.repeats)
        report = profile(fw, x, args.repeats, args.top)
    print(f"{'layer':<26}{'what':<64}{'median ms':>10}{'share':>8}")
    layer_sum = sum(r[2] for r in rows)
    for name, desc, t in rows:
        print(f"{name:<26}{desc:<64}{t * 1e3:>10.2f}{t / layer_sum:>8.1%}")
    print(f"{'sum of layers':<90}{layer_sum * 1e3:>10.2f}\n")

    print(report)

    ops = program_ops(fw, x, max(args.repeats, 15))
    if ops:
        print(f"buffered program, per operation (thread CPU time, 1 thread, 1 BLAS thread, {args.samples} rows):")
        print(f"{'operation':<62}{'median ms':>10}{'best ms':>10}")
        for name, med, best in ops:
            print(f"{name:<62}{med * 1e3:>10.3f}{best * 1e3:>10.3f}")
        print()

    # Fresh multi-megabyte temporaries come from mmap: every page is a minor fault (costly in a VM)
    import resource

    def faults(fn, n=5):
        fn()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(n):
            fn()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n

    with blas_threads(args.blas_threads):
        fault_whole = faults(lambda: fw.predict(x))
        fault_chunked = faults(lambda: [fw.predict(x[i : i + 1024]) for i in range(0, len(x), 1024)])
    print(f"minor page faults per fw.predict of {args.samples} samples: whole batch {fault_whole:,.0f}, "
          f"in chunks of 1024 rows {fault_chunked:,.0f}\n")

    result = {
        "model": args.model, "samples": args.samples, "predict_median_s": t_total,
        "samples_per_s": args.samples / t_total,
        "layers": [{"name": n, "what": d, "median_s": t} for n, d, t in rows],
        "program_ops": [{"operation": n, "cpu_median_s": m, "cpu_best_s": b} for n, m, b in ops],
        "minor_page_faults_per_predict": {"whole_batch": fault_whole, "chunks_of_1024": fault_chunked},
        "what_if": {},
    }
    print("what-if (benchmarks/profile_emulator.py), each variant checked bit for bit against fw.predict;")
    print(f"variants interleaved round by round, {args.what_if_rounds} rounds; best (min) and median wall time:")
    variants: dict[str, tuple[int | None, object]] = {}
    for threads in (None, 1):
        tlabel = "BLAS default" if threads is None else f"BLAS {threads} thread"
        variants[f"{tlabel} | fw.predict"] = (threads, lambda: fw.predict(x))
        for chunk in (4096, 1024):  # the current emulator, only fed in chunks
            variants[f"{tlabel} | fw.predict in chunks of {chunk}"] = (
                threads, lambda c=chunk: np.concatenate([fw.predict(x[i : i + c]) for i in range(0, len(x), c)])
            )
        for chunk in (None, 4096, 1024):
            fast = FastPath(fw.ir, chunk=chunk)
            label = f"FastPath, chunks of {chunk}" if chunk else "FastPath, whole batch"
            variants[f"{tlabel} | {label}"] = (threads, lambda f=fast: f.predict(x))
    exact = {}
    for name, (threads, fn) in variants.items():
        with blas_threads(threads):
            exact[name] = bool(np.array_equal(fn(), ref))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.what_if_rounds):
        for name, (threads, fn) in variants.items():
            with blas_threads(threads):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    base_best = {t: min(times[f"{t} | fw.predict"]) for t in ("BLAS default", "BLAS 1 thread")}
    for name, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        base = base_best[name.split(" | ")[0]]
        print(f"  {name:<50} best {best * 1e3:7.1f} ms ({args.samples / best:>9,.0f}/s)  median {med * 1e3:7.1f} ms  "
              f"{base / best:4.1f}x of fw.predict (same threads, best)  bit-exact={exact[name]}")
        result["what_if"][name] = {
            "best_s": best, "median_s": med, "best_samples_per_s": args.samples / best,
            "speedup_vs_fw_predict_best": base / best, "bit_exact": exact[name], "times_s": ts,
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
