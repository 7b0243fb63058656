"""Synthesis report parsing on real Vivado HLS 2020.1 reports (../shared/fixtures/vivado_report)
and the estimate-vs-synthesis comparison."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from fpga_aware.cost.model import CostReport
from fpga_aware.core.parts import get_part
from fpga_aware.hls.reports import (
    ReportError,
    SynthesisReport,
    compare,
    find_csynth_report,
    read_csynth_rpt,
    read_csynth_xml,
    read_report,
    read_vivado_utilization,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "vivado_report"
XML, RPT, VIVADO = "myproject_csynth.xml", "myproject_csynth.rpt", "vivado_synth.rpt"


@pytest.fixture
def fixtures() -> Path:
    if not all((FIXTURES / name).is_file() for name in (XML, RPT, VIVADO)):
        pytest.skip(f"Vivado report fixtures not found under {FIXTURES}")
    return FIXTURES


def _project(tmp_path: Path, fixtures: Path, *, xml=True, rpt=True, vivado=True, manifest=True) -> Path:
    """A project folder laid out as Firmware.write + vitis_hls leave it."""
    project = tmp_path / "prj"
    report_dir = project / "myproject_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    if manifest:
        (project / "fpga_aware_project.json").write_text(
            json.dumps({"generator": "fpga_aware", "project_name": "myproject"}))
    if xml:
        shutil.copy(fixtures / XML, report_dir / XML)
    if rpt:
        shutil.copy(fixtures / RPT, report_dir / RPT)
    if vivado:
        shutil.copy(fixtures / VIVADO, project / VIVADO)
    return project


def _check_csynth_numbers(r: SynthesisReport) -> None:
    # The numbers printed in myproject_csynth.xml / .rpt (Vivado HLS 2020.1, xc7z020).
    assert r.top == "myproject"
    assert r.part == "xc7z020-clg400-1"
    assert r.tool_version == "2020.1"
    assert r.target_clock_ns == 5.0
    assert r.clock_uncertainty_ns == 0.62
    assert r.estimated_clock_ns == 4.049
    assert (r.latency_min, r.latency_max) == (10, 10)
    assert (r.interval_min, r.interval_max) == (8, 8)
    assert r.pipeline_type == "dataflow"
    assert (r.bram_18k, r.dsp, r.ff, r.lut, r.uram) == (0, 73, 7969, 2532, 0)
    a = r.available
    assert (a.bram_18k, a.dsp, a.ff, a.lut, a.uram) == (280, 220, 106400, 53200, 0)
    assert r.latency_ns == 50.0
    assert r.utilization()["dsp"] == pytest.approx(100 * 73 / 220)


# ------------------------------------------------------------------------------ parsing
def test_xml_report_numbers(fixtures):
    r = read_csynth_xml(fixtures / XML)
    assert r.format == "xml" and r.source == fixtures / XML
    _check_csynth_numbers(r)
    assert r.implementation is None


def test_text_report_gives_the_same_numbers(fixtures):
    r = read_csynth_rpt(fixtures / RPT)
    assert r.format == "rpt"
    _check_csynth_numbers(r)


def test_vivado_utilization_numbers(fixtures):
    impl = read_vivado_utilization(fixtures / VIVADO)
    assert (impl.lut, impl.ff, impl.dsp, impl.bram_18k) == (1526, 2428, 66, 0)
    assert impl.uram is None  # a 7-series part has no URAM row
    a = impl.available
    assert (a.lut, a.ff, a.dsp, a.bram_18k) == (53200, 106400, 220, 280)
    assert impl.device == "7z020clg400-1"
    assert impl.design_state == "Synthesized"
    assert impl.tool_version == "2020.1"


def test_read_report_on_a_project_folder(tmp_path, fixtures):
    project = _project(tmp_path, fixtures)
    r = read_report(project)
    assert r.format == "xml"  # XML preferred over the text report
    assert r.source == project / "myproject_prj" / "solution1" / "syn" / "report" / XML
    _check_csynth_numbers(r)
    assert r.implementation is not None
    assert (r.implementation.lut, r.implementation.ff, r.implementation.dsp, r.implementation.bram_18k) == (
        1526, 2428, 66, 0)
    d = r.to_dict()
    json.dumps(d)
    assert d["resources"]["dsp"] == 73 and d["implementation"]["used"]["lut"] == 1526
    text = str(r)
    assert "2,532" in text and "xc7z020-clg400-1" in text and "Vivado synthesis" in text


def test_read_report_locations(tmp_path, fixtures):
    # the fixture folder itself (report files side by side), a file path, the _prj and solution folders
    r = read_report(fixtures)
    assert r.format == "xml" and r.implementation is not None and r.dsp == 73
    assert read_report(fixtures / RPT).format == "rpt"
    project = _project(tmp_path, fixtures, vivado=False, manifest=False)  # found through *_prj
    assert read_report(project).dsp == 73
    assert read_report(project).implementation is None
    assert read_report(project / "myproject_prj").lut == 2532
    assert read_report(project / "myproject_prj" / "solution1").lut == 2532
    # an explicit Vivado report
    r = read_report(project, vivado_report=fixtures / VIVADO)
    assert r.implementation.dsp == 66
    with pytest.raises(ReportError, match="vivado_synth.rpt does not exist"):
        read_report(project, vivado_report=project / VIVADO)


def test_text_fallback_when_there_is_no_xml(tmp_path, fixtures):
    project = _project(tmp_path, fixtures, xml=False)
    r = read_report(project)
    assert r.format == "rpt"
    _check_csynth_numbers(r)


def test_text_fallback_when_the_xml_is_malformed(tmp_path, fixtures, caplog):
    project = _project(tmp_path, fixtures)
    xml = project / "myproject_prj" / "solution1" / "syn" / "report" / XML
    xml.write_text(xml.read_text()[:500])  # truncated
    with caplog.at_level(logging.WARNING, logger="fpga_aware.hls.reports"):
        r = read_report(project)
    assert r.format == "rpt" and r.dsp == 73
    assert any("not a valid XML" in rec.getMessage() for rec in caplog.records)


def test_vitis_style_dsp_column_and_undefined_latency(tmp_path, fixtures):
    # Vitis HLS names the column DSP; a design with variable loop bounds reports undef / ?.
    xml = (fixtures / XML).read_text().replace("DSP48E>", "DSP>")
    xml = xml.replace("<Worst-caseLatency>10</Worst-caseLatency>", "<Worst-caseLatency>undef</Worst-caseLatency>")
    (tmp_path / XML).write_text(xml)
    r = read_csynth_xml(tmp_path / XML)
    assert r.dsp == 73 and r.available.dsp == 220
    assert r.latency_min == 10 and r.latency_max is None and r.latency_ns is None
    rpt = (fixtures / RPT).read_text().replace("| DSP48E|", "|    DSP|")
    rpt = rpt.replace("|       10|       10| 50.000 ns |", "|       10|        ?| 50.000 ns |", 1)
    (tmp_path / RPT).write_text(rpt)
    r = read_csynth_rpt(tmp_path / RPT)
    assert r.dsp == 73 and r.latency_max is None and r.interval_max == 8


# ------------------------------------------------------------------------------ errors
def test_missing_report_names_where_it_looked(tmp_path):
    with pytest.raises(ReportError, match="no C-synthesis report .* looked in"):
        read_report(tmp_path)
    with pytest.raises(ReportError, match="does not exist"):
        read_report(tmp_path / "nowhere")


def test_xml_missing_field_names_file_and_field(tmp_path, fixtures):
    bad = tmp_path / XML
    text = (fixtures / XML).read_text()
    bad.write_text(text.replace("<DSP48E>73</DSP48E>", ""))
    with pytest.raises(ReportError, match=r"myproject_csynth\.xml.*DSP is missing"):
        read_csynth_xml(bad)
    bad.write_text(text.replace("<Interval-max>8</Interval-max>", ""))
    with pytest.raises(ReportError, match=r"myproject_csynth\.xml.*maximum interval is missing"):
        read_csynth_xml(bad)
    bad.write_text(text.replace("<LUT>2532</LUT>", "<LUT>lots</LUT>"))
    with pytest.raises(ReportError, match="LUT is 'lots', not a number"):
        read_csynth_xml(bad)
    bad.write_text("<profile><oops>")
    with pytest.raises(ReportError, match="not a valid XML"):
        read_csynth_xml(bad)
    bad.write_text("<profile></profile>")
    with pytest.raises(ReportError, match="no <PerformanceEstimates> section"):
        read_csynth_xml(bad)


def test_text_report_missing_parts(tmp_path, fixtures):
    text = (fixtures / RPT).read_text()
    bad = tmp_path / RPT
    bad.write_text(text[: text.index("== Utilization Estimates")])
    with pytest.raises(ReportError, match=r"myproject_csynth\.rpt.*Utilization Estimates' section is missing"):
        read_csynth_rpt(bad)
    bad.write_text(text.replace("|Available        |", "|Avail            |"))
    with pytest.raises(ReportError, match="no 'Available' row"):
        read_csynth_rpt(bad)
    bad.write_text("hello\n")
    with pytest.raises(ReportError, match="not an HLS C-synthesis report"):
        read_csynth_rpt(bad)
    with pytest.raises(ReportError, match="cannot read report"):
        read_csynth_rpt(tmp_path / "absent.rpt")


def test_vivado_report_errors(tmp_path, fixtures):
    bad = tmp_path / VIVADO
    bad.write_text((fixtures / VIVADO).read_text().replace("| DSPs ", "| DSPz "))
    with pytest.raises(ReportError, match=r"vivado_synth\.rpt.*no DSP row"):
        read_vivado_utilization(bad)
    bad.write_text("nothing here\n")
    with pytest.raises(ReportError, match="not a Vivado utilization report"):
        read_vivado_utilization(bad)
    # giving the utilization report where the C-synthesis report is expected
    with pytest.raises(ReportError, match="is a Vivado utilization report"):
        read_report(fixtures / VIVADO)


def test_find_csynth_report_prefers_xml(tmp_path, fixtures):
    project = _project(tmp_path, fixtures)
    found = find_csynth_report(project)
    assert [p.name for p in found] == [XML, RPT]


# ------------------------------------------------------------------------------ comparison
def _estimate(part="xc7z020-clg400-1", clock=5.0, **kw) -> CostReport:
    values = dict(dsp=80, lut=2000, ff=8000, bram_18k=0, latency_cycles=9, ii=1)
    values.update(kw)
    return CostReport(part=get_part(part), clock_period=clock, latency_ns=values["latency_cycles"] * clock,
                      layers=[], **values)


def test_compare_table(fixtures):
    report = read_report(fixtures)
    cmp = compare(_estimate(), report)
    assert cmp.row("DSP").synthesis == 73 and cmp.row("DSP").implementation == 66
    assert cmp.row("DSP").diff_pct == pytest.approx(100 * (80 - 73) / 73)
    assert cmp.row("LUT").diff_pct == pytest.approx(100 * (2000 - 2532) / 2532)
    assert cmp.row("LUT").implementation_diff_pct == pytest.approx(100 * (2000 - 1526) / 1526)
    assert cmp.row("FF").synthesis == 7969
    assert cmp.row("BRAM_18K").diff_pct == 0.0  # both zero
    assert cmp.row("latency (cycles)").synthesis == 10
    assert cmp.row("II (cycles)").synthesis == 8
    assert cmp.row("latency (ns)").synthesis == 50.0
    text = str(cmp)
    assert "HLS synth" in text and "Vivado synth" in text
    assert "+9.6%" in text  # DSP: 80 vs 73
    assert "-21.0%" in text  # LUT: 2000 vs 2532
    assert "2,532" in text and "1,526" in text
    assert "note" not in text  # same part and clock
    json.dumps(cmp.to_dict())


def test_compare_notes_and_undefined_differences(fixtures):
    report = read_csynth_xml(fixtures / XML)  # no Vivado block
    cmp = compare(_estimate(part="xcu250-figd2104-2L-e", clock=4.0, bram_18k=2), report)
    text = str(cmp)
    assert "Vivado synth" not in text
    assert cmp.row("BRAM_18K").diff_pct is None  # 2 vs 0: no percentage
    assert "n/a" in text
    assert "the estimate is for xcu250-figd2104-2L-e, the report for xc7z020-clg400-1" in text
    assert "4 ns clock" in text
