"""The HLS cost model against published C-synthesis reports, per tool (issue 13).

``benchmarks/hls_calibration.py`` rebuilds every published dense design of
``benchmarks/data/published_reports.json`` it can, estimates it with its tool's profile and
splits the errors by the fit and validation sets (decided once, by configuration).  Here the
committed table (``benchmarks/data/hls_calibration.json``, the one docs/cost_model.md shows) is
recomputed and compared, and the validation errors are held to the issue's targets where the
model meets them, and to today's values where it does not (docs/cost_model.md says which), so
that a regression shows.  The validation figures are over each profile's calibrated domain
(UltraScale/UltraScale+ parts); the 7-series designs are scored in a table of their own.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"


@pytest.fixture(scope="module")
def calibration():
    if not (MODELS / "KERAS_3layer_weights.h5").exists():
        pytest.skip("the jet tagger's weights (../shared/models) are not available")
    spec = importlib.util.spec_from_file_location("hls_calibration", ROOT / "benchmarks" / "hls_calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows(calibration):
    from fpga_aware.cost.tools import TOOL_PROFILES

    return calibration.evaluate(calibration.load_designs(), dict(TOOL_PROFILES.items()))


def _summary(calibration, rows, domain="calibrated") -> dict:
    return {(s["profile"], s["split"], s["quantity"]): s for s in calibration.summary(rows) if s["domain"] == domain}


def test_the_published_data_names_its_sources():
    data = json.loads((ROOT / "benchmarks" / "data" / "published_reports.json").read_text())
    designs = data["designs"]
    assert len(designs) >= 25 and sum(d["tool"] == "Vitis HLS" for d in designs) >= 10
    for d in designs:
        source = d["source"]
        assert d["split"] in ("fit", "validation", "reference"), d["id"]
        if not d["verified"]:  # numbers whose public source was not found: never fitted nor scored
            assert d["split"] == "reference", d["id"]
            continue
        assert source.get("url") or (source.get("repo") and source.get("commit")) or source.get("path"), d["id"]


def test_every_tool_has_fit_and_validation_designs(calibration):
    designs = calibration.load_designs()
    for tool in ("vitis", "vivado"):
        splits = {d["split"] for d in designs if calibration.tool_of(d["tool"]) == tool}
        assert splits == {"fit", "validation"}, tool


def test_the_committed_table_is_what_the_model_computes(calibration, rows):
    """docs/cost_model.md's per-tool tables come from benchmarks/data/hls_calibration.json:
    regenerate it (``python benchmarks/hls_calibration.py``) when the model changes."""
    committed = json.loads((ROOT / "benchmarks" / "data" / "hls_calibration.json").read_text())
    ours = {(r["design"], r["quantity"]): r["ours"] for r in rows}
    theirs = {(r["design"], r["quantity"]): r["ours"] for r in committed["rows"]}
    assert ours == theirs


#: Targets of issue 13 on the validation set, per tool: ``(quantity, statistic) -> limit``,
#: relative for DSP/LUT/FF, absolute cycles / blocks for latency and BRAM.
TARGETS = {("dsp", "median"): 0.10, ("dsp", "worst"): 0.25, ("lut", "median"): 0.20, ("ff", "median"): 0.30,
           ("latency", "worst"): 2, ("bram_18k", "worst"): 2}
#: Where a target is not met today: the value it is held to instead (docs/cost_model.md, "Per-tool
#: calibration", says why).
NOT_MET = {
    # QKeras 6-bit unpruned (enlupi26_u200_vitis242_qkeras6): Vitis puts 92 of fc1's 16x6-bit
    # constant products on DSPs (97 published), the 'constant_bits' rule none (5); without it the
    # median is 8.6 % and the worst the RF 2 design's 44.1 % (hls4ml's firmware keeps constant
    # products, ours shares DSPs)
    ("vitis", "dsp", "median"): 0.12,
    ("vitis", "dsp", "worst"): 0.95,
    ("vitis", "latency", "worst"): 8,  # RF 2, the same reason
    # RF 2 again (enlupi25_*_rf2, Vitis HLS 2023.2/2024.2): Vitis shares the DSPs (2,126 published,
    # 2,127 ours) but not its LUT-built constant products (127 k LUT, ours 68 k: -47 %); 15.6 %
    # without the three RF 2 designs of the 8
    ("vitis", "lut", "median"): 0.28,
    ("vivado", "latency", "worst"): 73,  # RF 128: hls4ml's loop (II 123 < RF) is shorter than our schedule
    # uwacme25_u250_v192_rf2 (recorded 2026-12-04, validation): the same RF 2 configuration, tool and
    # part as tut20_u250_v192_rf2 with a 2025 hls4ml, 19,646 FF against 2020's 30,198; ours 45.7 k
    # (+133 %); 28.2 % on the 9 designs before it
    ("vivado", "ff", "median"): 0.39,
}


@pytest.mark.parametrize("tool", ["vitis", "vivado"])
def test_validation_errors(calibration, rows, tool):
    """Calibrated domain (UltraScale/UltraScale+), validation set: every target is met, or
    unmet and held to today's value (NOT_MET); docs/cost_model.md's headline table is this one."""
    summary = _summary(calibration, rows)
    for (quantity, stat), target in TARGETS.items():
        value = summary[(tool, "validation", quantity)][f"{stat}_abs_error"]
        limit = NOT_MET.get((tool, quantity, stat), target)
        assert value <= limit + 1e-9, (tool, quantity, stat, value, limit)
        if (tool, quantity, stat) in NOT_MET:
            assert value > target, f"{tool} {quantity} {stat} meets its target now: drop it from NOT_MET"


def test_the_docs_show_the_committed_tables(calibration):
    """docs/cost_model.md holds the script's tables (``--markdown``) of the committed results:
    the calibrated-domain summary as the headline, the 7-series designs in their own table."""
    data = json.loads((ROOT / "benchmarks" / "data" / "hls_calibration.json").read_text())
    docs = (ROOT / "docs" / "cost_model.md").read_text()
    text = calibration.markdown(data["rows"], data["summary"])
    headline, outside = text.split("\n\nOutside the calibrated domain")[0], text.split("\n\n| design |")[0]
    assert headline in docs and "Outside the calibrated domain" in outside and outside in docs


def test_fits_only_on_the_calibrated_domain(calibration):
    """No 7-series design is fitted (nor scored with the validation set).  The Vitis fit set is
    the 3 UltraScale+ designs the profile's constants were fitted to (tut24*) and the 6 enlupi*
    fit designs added after; a refit on all 9 is worse on the validation set and is not adopted
    (docs/cost_model.md, "Per-tool calibration")."""
    designs = calibration.load_designs()
    for tool in ("vitis", "vivado"):
        assert all(calibration.get_part(d["part"]).series in ("UltraScale", "UltraScale+")
                   for d in calibration.fit_set(designs, tool))
    assert sorted(d["id"] for d in calibration.fit_set(designs, "vitis")) == [
        "enlupi25_u250_vitis232_qkeras6_pruned75", "enlupi25_u250_vitis232_rf1",
        "enlupi25_u250_vitis242_qkeras6_pruned75", "enlupi25_u250_vitis242_rf1", "enlupi26_u200_vitis242_rf1",
        "enlupi26_u200_vitis242_rf4", "tut24_u250_vitis241_qkeras6_pruned75", "tut24_u250_vitis241_rf1",
        "tut24b_u250_vitis241_rf1"]
    outside = {d["id"] for d in designs if d["domain"] != "calibrated"}
    assert outside == {"minh25_z020_vitis242_rf1", "minh25_z020_vitis242_rf2", "minh25_z020_vitis242_pruned75",
                       "minh25_z020_vitis242_qkeras6_pruned75"}


def test_the_7_series_designs_are_scored_outside_the_calibrated_domain(calibration, rows):
    """The Zynq-7000 Vitis HLS 2024.2 reports stay visible with their errors, in a table of their
    own: their schedules are several times deeper than the UltraScale+ delays predict, and the
    warning an xc7z020 estimate carries (OUT_OF_DOMAIN_ERRORS) quotes exactly these figures."""
    from fpga_aware.cost.tools import OUT_OF_DOMAIN_ERRORS

    outside = _summary(calibration, rows, domain="7 series")
    for split in ("fit", "validation"):
        for q in ("dsp", "lut", "ff", "latency", "bram_18k"):
            assert outside[("vitis", split, q)]["designs"] == 2, (split, q)
        lo, hi = outside[("vitis", split, "latency")]["published_over_ours"]
        assert lo >= 2.0, (split, lo)  # why an estimate there warns (a 7-series delay rule would change this)
        assert outside[("vitis", split, "latency")]["median_abs_error"] >= 20
    assert {s["profile"] for s in calibration.summary(rows) if s["domain"] != "calibrated"} == {"vitis"}
    assert OUT_OF_DOMAIN_ERRORS[("vitis", "7 series")] == calibration.out_of_domain_text(rows, "vitis", "7 series")


def test_vitis_maps_more_products_to_luts_than_vivado(calibration):
    """The same unpruned jet tagger: Vitis HLS 2024.1 published 1,502 DSPs, Vivado HLS 2019.2
    3,943; the two profiles put the estimate on the right side of each."""
    from fpga_aware.cost.tools import TOOL_PROFILES

    designs = {d["id"]: d for d in calibration.load_designs()}
    vitis = calibration.estimate(designs["tut24_u250_vitis241_rf1"], TOOL_PROFILES["vitis"])
    vivado = calibration.estimate(designs["tut20_u250_v192_rf1"], TOOL_PROFILES["vivado"])
    assert 1200 < vitis.dsp < 1800 and 3500 < vivado.dsp < 4500
    assert vitis.ff < vivado.ff


def test_ahead_of_rule4ml_on_every_quantity(calibration):
    """rule4ml 0.2.0's committed predictions of the same designs (benchmarks/rule4ml_peer.py):
    our median validation error (calibrated domain) is below its median on every quantity, for
    both tools, over the same designs (rule4ml was not run on the Zynq-7000 minh25_* designs,
    which are outside the domain, nor on the enlupi* designs)."""
    data = json.loads((ROOT / "benchmarks" / "data" / "hls_calibration.json").read_text())
    predicted = {r["design"] for r in data["rule4ml_rows"]}
    ours = {(s["profile"], s["quantity"]): s
            for s in calibration.summary([r for r in data["rows"] if r["design"] in predicted])
            if s["split"] == "validation" and s["domain"] == "calibrated"}
    theirs = {(s["profile"].split("(")[1].rstrip(")"), s["quantity"]): s
              for s in data["rule4ml_summary"] if s["split"] == "validation" and s["domain"] == "calibrated"}
    assert set(theirs) == set(ours)
    for key, s in ours.items():
        assert s["median_abs_error"] < theirs[key]["median_abs_error"], key


def test_speed_grade_of_part_names():
    from fpga_aware.cost.tools import speed_grade, speed_grade_delay

    assert speed_grade("xczu3eg-sbva484-1-e") == "1" and speed_grade("xcu250-figd2104-2L-e") == "2"
    assert speed_grade("xc7z020-clg400-1") == "1" and speed_grade("xcku115-flvb2104-2-i") == "2"
    assert speed_grade("xcvu9p") is None and speed_grade_delay("xcvu9p") == 1.0
    assert speed_grade_delay("xczu3eg-sbva484-1-e") > 1.0 > speed_grade_delay("xczu9eg-ffvb1156-3-e")


def test_a_slower_speed_grade_pipelines_deeper(calibration):
    """The same unpruned jet tagger and firmware (hls4ml 0.4.0, Vivado HLS, 5 ns): 9 cycles and
    ~27 k FF on the -2 ZCU106 (xczu7ev-2), 13 cycles and ~49 k FF on the -1 Ultra96
    (xczu3eg-1).  The estimate's registers follow the part's operator delays the same way."""
    from fpga_aware.cost.tools import TOOL_PROFILES

    designs = {d["id"]: d for d in calibration.load_designs()}
    fast = calibration.estimate(designs["tut21_zu7ev_dse_rf1"], TOOL_PROFILES["vivado"])
    slow = calibration.estimate(designs["tut21_zu3eg_v191_rf1"], TOOL_PROFILES["vivado"])
    assert slow.latency_cycles > fast.latency_cycles
    assert slow.ff > 1.4 * fast.ff
    assert slow.dsp == fast.dsp and slow.lut == fast.lut
