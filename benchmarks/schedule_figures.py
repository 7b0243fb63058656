"""Static-schedule figures of issue 11: lanes, multiplexers and registers of every dense layer,
and the cost model's estimate, for the jet tagger (RF 1, 2, 4; dense and 70 % pruned; Latency
and Resource) and the tutorial's MNIST MLP (784-128-128-128-10, Resource, RF 128, dense1 RF 112).

    .venv/bin/python benchmarks/schedule_figures.py --json benchmarks/data/schedule_figures.json

Run on an older checkout (``PYTHONPATH=<old tree>``) it writes the same estimate fields without
the schedule (``--json`` of the "before" run), which is how the before/after table was made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


SHARED = Path(os.environ.get("FPGA_AWARE_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "models"


def _jet(weights: str):
    import tensorflow as tf

    model = tf.keras.models.model_from_json((SHARED / "KERAS_3layer.json").read_text())
    model.load_weights(str(SHARED / f"{weights}.h5"))
    return model


def _mnist_mlp():
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    k = tf.keras
    model = k.Sequential([k.layers.Input((784,)), k.layers.Dense(128, activation="relu", name="dense1"),
                          k.layers.Dense(128, activation="relu", name="dense2"),
                          k.layers.Dense(128, activation="relu", name="dense3"), k.layers.Dense(10, name="output")])
    return model


def _row(name, model, part, **options) -> dict:
    import fpga_aware as fa

    firmware = fa.to_firmware(model, part, **options)
    report = firmware.estimate()
    row = {"design": name, "part": part, "dsp": report.dsp, "lut": report.lut, "ff": report.ff,
           "bram_18k": report.bram_18k, "latency_cycles": report.latency_cycles, "ii": report.ii, "layers": []}
    for layer in firmware.ir.dense_layers():
        entry = {"layer": layer.name, "nnz": layer.nonzero_weights, "reuse_factor": layer.reuse_factor,
                 "strategy": str(layer.strategy.value)}
        if hasattr(layer, "schedule"):
            entry.update(layer.schedule.summary())
        row["layers"].append(entry)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    u250 = "xcu250-figd2104-2L-e"
    for weights, label in (("KERAS_3layer_weights", "jet"), ("KERAS_3layer_70pruned_retrained_weights", "jet 70% pruned")):
        model = _jet(weights)
        for strategy in ("latency", "resource"):
            for reuse in (1, 2, 4):
                rows.append(_row(f"{label} {strategy} RF{reuse}", model, u250, reuse_factor=reuse, strategy=strategy))
    rows.append(_row("MNIST MLP resource RF128/112", _mnist_mlp(), "xcku115-flvb2104-2-i", reuse_factor=128,
                     strategy="resource", layer_config={"dense1": {"reuse_factor": 112}}))
    for row in rows:
        print(f"{row['design']:34s} DSP {row['dsp']:6d} LUT {row['lut']:8d} FF {row['ff']:7d} BRAM {row['bram_18k']:4d} "
              f"lat {row['latency_cycles']:4d} II {row['ii']:4d}")
        for entry in row["layers"]:
            if "lanes" in entry:
                print(f"    {entry['layer']:14s} nnz {entry['nnz']:6d} lanes {entry['lanes']:5d} x {entry['cycles']:4d} cycles, "
                      f"mux <= {entry['max_mux_inputs']:4d}:1 (mean {entry['mean_mux_inputs']:.1f}), registers "
                      f"{entry['registers']:5d}, boundaries {entry['segment_boundaries']:4d}, tree {entry['combine_levels']} levels")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
