"""strategy='distributed_arithmetic' against 'latency' on the jet tagger (KERAS_3layer, shared/models).

Prints, per weight set: da4ml's adders, depth and solve time per dense layer, the HLS cost
estimate (DSP, LUT, FF, latency) of both strategies, the g++ compile time of the C simulation and
whether it equals the emulator bit for bit on 200 rows.  Run:
``python benchmarks/hls_da.py [weights ...]`` (default: the dense weights).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import fpga_aware as fa  # noqa: E402
from tests.conftest import load_shared_model  # noqa: E402

log = logging.getLogger("hls_da")


def main(weight_sets: list[str]) -> None:
    for weights in weight_sets:
        model = load_shared_model("KERAS_3layer", weights)
        start = time.perf_counter()
        firmware = fa.to_firmware(model, strategy="distributed_arithmetic")
        for layer in firmware.ir.dense_layers():
            g = layer.adder_graph
            log.info("%s %s: %d nonzero weights, %d adders (%d bits), depth %d, da4ml %.1f s", weights, layer.name,
                     layer.nonzero_weights, g["adders"], g["adder_bits"], g["depth"], g["seconds"])
        log.info("%s: graphs %.1f s, %d adders in all", weights, time.perf_counter() - start,
                 sum(layer.adder_graph["adders"] for layer in firmware.ir.dense_layers()))
        for strategy in ("latency", "distributed_arithmetic"):
            e = fa.estimate(model, strategy=strategy)
            dense = [c for c in e.layers if c.kind == "dense"]
            log.info("%s %s: DSP %d (dense %d), LUT %d (dense %d), FF %d, latency %d cycles", weights, strategy, e.dsp,
                     sum(c.dsp for c in dense), e.lut, sum(c.lut for c in dense), e.ff, e.latency_cycles)
        with tempfile.TemporaryDirectory() as tmp:
            firmware.write(Path(tmp) / "p")
            start = time.perf_counter()
            firmware.compile()
            log.info("%s: g++ C simulation compiled in %.1f s", weights, time.perf_counter() - start)
            x = np.random.default_rng(0).standard_normal((200, firmware.ir.n_inputs))
            x[:20] *= 40
            differ = int((firmware.predict(x, engine="csim") != firmware.predict(x)).any(axis=1).sum())
            log.info("%s: rows where csim differs from the emulator: %d of 200", weights, differ)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(sys.argv[1:] or ["KERAS_3layer_weights"])
