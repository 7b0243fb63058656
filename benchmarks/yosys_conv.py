"""Yosys (synth_xilinx, the part's family) on the Verilog backend's convolutional kinds against
``estimate(tool='yosys')``: the two seeded CNNs of tests/test_rtl_conv.py (a minute or two of
Yosys each), results committed as data (``benchmarks/data/yosys_conv.json``).

    .venv/bin/python benchmarks/yosys_conv.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    import fpga_aware as fa
    from test_rtl_conv import _model_1d, _model_2d

    runs = []
    for label, model, precision in [("conv2d strides/same + upsampling + cropping + max pooling", _model_2d(5), "ap_fixed<9,3>"),
                                    ("conv1d + relu + zero padding + average pooling", _model_1d(3), "ap_fixed<10,4>")]:
        firmware = fa.to_firmware(model, precision=precision)
        est = firmware.estimate(tool="yosys")
        with tempfile.TemporaryDirectory() as tmp:
            firmware.write_verilog(Path(tmp) / "p")
            start = time.perf_counter()
            report = firmware.synthesize()
            seconds = time.perf_counter() - start
        row = {"design": label, "precision": precision, "yosys": report.yosys_version,
               "measured": {"dsp": report.dsp, "lut": report.lut, "ff": report.ff},
               "estimate": {"dsp": est.dsp, "lut": est.lut, "ff": est.ff},
               "error_pct": {k: round(100 * (getattr(est, k) - getattr(report, k)) / max(1, getattr(report, k)), 1)
                             for k in ("dsp", "lut", "ff")},
               "layers": [{"name": c.name, "kind": c.kind, "dsp": c.dsp, "lut": c.lut, "ff": c.ff} for c in est.layers],
               "yosys_s": round(seconds, 1), "load_average": round(os.getloadavg()[0], 1)}
        print(json.dumps({k: row[k] for k in ("design", "measured", "estimate", "error_pct", "yosys_s")}), flush=True)
        runs.append(row)
    out = ROOT / "benchmarks" / "data" / "yosys_conv.json"
    out.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
