"""Time :func:`fpga_aware.cost.model.estimate_ir` (not a test: timings depend on the machine).

    python benchmarks/bench_estimate.py [--repeat N]

Models (random ap_fixed<16,6> weights with 50 % zeros, ReLU, softmax output):

* the 16-64-32-32-5 jet tagger (4,256 weights), Latency strategy, RF 1;
* a 1.01M-weight MLP 16x500x500x500x500x500x5 (1,010,500 weights), Latency RF 1 and
  Resource RF 100.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.cost.model import estimate_ir
from fpga_aware.core.fixed import FixedType
from fpga_aware.core.ir import ActivationLayer, DenseLayer, InputLayer, LookupTable, ModelIR, SoftmaxLayer, Strategy

FIX16 = FixedType(16, 6)
ACCUM = FixedType(40, 20)


def mlp(sizes: list[int], *, sparsity: float = 0.5, reuse: int = 1, strategy: Strategy = Strategy.LATENCY,
        seed: int = 0) -> ModelIR:
    rng = np.random.default_rng(seed)
    layers: list = [InputLayer(name="input", cname="input", n_in=sizes[0], n_out=sizes[0], input_type=FIX16,
                               result_type=FIX16)]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.integers(-512, 512, size=(n_in, n_out), dtype=np.int64)
        w[rng.random((n_in, n_out)) < sparsity] = 0
        name = f"dense{i + 1}"
        layers.append(DenseLayer(name=name, cname=name, n_in=n_in, n_out=n_out, input_type=FIX16, result_type=ACCUM,
                                 weight_type=FIX16, bias_type=FIX16, accum_type=ACCUM, weights=w,
                                 bias=rng.integers(-512, 512, size=n_out, dtype=np.int64), reuse_factor=reuse,
                                 strategy=strategy))
        if i < len(sizes) - 2:
            layers.append(ActivationLayer(name=name + "_relu", cname=name + "_relu", n_in=n_out, n_out=n_out,
                                          input_type=ACCUM, result_type=FIX16, function="relu"))
    n = sizes[-1]
    exp_t = FixedType(18, 1, signed=False)
    table = LookupTable(shift=0, offset=0, values=np.zeros(1024, np.int64), value_type=exp_t)
    layers.append(SoftmaxLayer(name="softmax", cname="softmax", n_in=n, n_out=n, input_type=ACCUM, result_type=FIX16,
                               diff_type=FixedType(41, 21), exp_table=table, sum_type=FixedType(21, 4, signed=False),
                               inv_table=table))
    return ModelIR(project_name="bench", layers=layers)


def bench(label: str, ir: ModelIR, config: FirmwareConfig, repeat: int) -> None:
    estimate_ir(ir, config)  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = estimate_ir(ir, config)
        times.append(time.perf_counter() - t0)
    n_weights = sum(layer.n_weights for layer in ir.dense_layers())
    print(f"{label:<44} {n_weights:>10,} weights  median {1e3 * statistics.median(times):8.2f} ms  "
          f"min {1e3 * min(times):8.2f} ms  (DSP {report.dsp:,}, LUT {report.lut:,}, "
          f"{report.latency_cycles} cycles, II {report.ii})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    config = FirmwareConfig(part="xcu250-figd2104-2L-e", clock_period=5.0)
    big = [16, 500, 500, 500, 500, 500, 5]
    bench("jet tagger 16-64-32-32-5, Latency RF 1", mlp([16, 64, 32, 32, 5]), config, args.repeat)
    bench("MLP 16x500x500x500x500x500x5, Latency RF 1", mlp(big), config, max(3, args.repeat // 4))
    bench("MLP 16x500x500x500x500x500x5, Resource RF 100", mlp(big, reuse=100, strategy=Strategy.RESOURCE),
          config, max(3, args.repeat // 4))


if __name__ == "__main__":
    main()
