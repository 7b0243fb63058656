"""run_hls with stand-in HLS tools on PATH: invocation, success, failure, timeout and no-tool paths.

The stand-in ``vitis_hls`` is a shell script that records its arguments and working folder and
copies the real C-synthesis report fixture where Vitis HLS writes it.  One more test runs the
real ``build_prj.tcl`` written by ``Firmware.write`` in ``tclsh`` with the HLS commands stubbed,
to check that the switches run_hls passes are the ones the script reads.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from fpga_aware.hls.synthesis import SynthesisError, ToolNotFoundError, find_hls_tool, run_hls

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "vivado_report"
REPORT = FIXTURES / "myproject_csynth.xml"

FAKE_TOOL = r"""#!/bin/sh
# Stand-in for vitis_hls: records how it was called, "synthesizes" by copying a report.
printf '%s\n' "$@" > "$FAKE_HLS_ARGS"
pwd > "$FAKE_HLS_CWD"
echo "INFO: [HLS 200-10] Running fake HLS tool"
if [ -n "$FAKE_HLS_SLEEP" ]; then sleep "$FAKE_HLS_SLEEP"; fi
if [ -n "$FAKE_HLS_FAIL" ]; then
    i=1
    while [ $i -le 60 ]; do echo "INFO: filler line $i"; i=$((i+1)); done
    echo "ERROR: [HLS 207-812] 'nonexistent.h' file not found" 1>&2
    echo "INFO: last line of the fake log"
    exit 3
fi
case "$*" in
    *synth=1*)
        if [ -n "$FAKE_HLS_REPORT" ]; then
            mkdir -p myproject_prj/solution1/syn/report
            cp "$FAKE_HLS_REPORT" myproject_prj/solution1/syn/report/myproject_csynth.xml
        fi
        ;;
esac
echo "INFO: [HLS 200-111] Finished"
exit 0
"""

# Stand-ins for the HLS commands build_prj.tcl uses: each call is logged, and each validates
# what it receives the way the tool named by argv[0] (vitis_hls or vivado_hls) would: the
# C++ standard of -cflags, open_solution -flow_target (Vitis HLS only), the clock and its
# uncertainty, config_array_partition's options (-maximum_size is Vivado HLS's; Vitis HLS
# removed it).  A command the tool would reject raises a Tcl error: tclsh exits with status 1.
TCL_STUBS = r"""
set tool [lindex $argv 0]
set script [lindex $argv 1]
set argv [lrange $argv 2 end]
set argc [llength $argv]
if {$tool ni {vitis_hls vivado_hls}} { error "stand-in called as $tool" }
# -std values each front end takes (Vivado HLS 2019.2/2020.x: clang 3.1, no C++14).
set accepted_std(vivado_hls) {c++98 c++0x c++11 gnu++98 gnu++0x gnu++11}
set accepted_std(vitis_hls) {c++98 c++0x c++11 c++14 gnu++98 gnu++0x gnu++11 gnu++14}
set config_options(vivado_hls) {-auto_partition_threshold -auto_promotion_threshold -include_extern_globals
    -include_ports -maximum_size -scalarize_all -throughput_driven}
set config_options(vitis_hls) {-auto_partition_threshold -auto_promotion_threshold -complete_threshold
    -throughput_driven}
array set state {project 0 solution 0 part 0 clock 0 uncertainty 0}
proc _log {args} {
    set f [open $::env(FAKE_HLS_CALLS) a]
    puts $f [join $args " "]
    close $f
}
proc _reject {message} { error "ERROR: \[$::tool stand-in\] $message" }
proc _need {what command} {
    if {!$::state($what)} { _reject "$command before $what" }
}
proc open_project {args} { _log open_project {*}$args; set ::prj [lindex $args end]; set ::state(project) 1 }
proc set_top {args} { _need project set_top; _log set_top {*}$args }
proc add_files {args} {
    _need project add_files
    set i [lsearch $args -cflags]
    if {$i >= 0} {
        foreach flag [lindex $args [expr {$i + 1}]] {
            if {[string match -std=* $flag] && [string range $flag 5 end] ni $::accepted_std($::tool)} {
                _reject "unsupported $flag"
            }
        }
    }
    _log add_files {*}$args
}
proc open_solution {args} {
    _need project open_solution
    set i [lsearch $args -flow_target]
    if {$i >= 0} {
        if {$::tool eq "vivado_hls"} { _reject "open_solution: unknown option -flow_target" }
        if {[lindex $args [expr {$i + 1}]] ni {vivado vitis}} { _reject "bad -flow_target" }
    }
    _log open_solution {*}$args
    set ::state(solution) 1
}
proc set_part {args} { _need solution set_part; _log set_part {*}$args; set ::state(part) 1 }
proc create_clock {args} {
    _need solution create_clock
    set i [lsearch $args -period]
    if {$i < 0 || ![string is double -strict [lindex $args [expr {$i + 1}]]]} { _reject "create_clock needs -period" }
    _log create_clock {*}$args
    set ::state(clock) 1
}
proc set_clock_uncertainty {args} {
    _need clock set_clock_uncertainty
    if {[llength $args] < 1 || [llength $args] > 2 || ![regexp {^[0-9]+(\.[0-9]+)?%?$} [lindex $args 0]]} {
        _reject "set_clock_uncertainty <ns or percent> ?clock?, got $args"
    }
    if {[llength $args] == 2 && [lindex $args 1] ne "default"} { _reject "no clock [lindex $args 1]" }
    _log set_clock_uncertainty {*}$args
    set ::state(uncertainty) 1
}
proc config_array_partition {args} {
    _need solution config_array_partition
    foreach {option value} $args {
        if {$option ni $::config_options($::tool)} { _reject "config_array_partition: unknown option $option" }
        if {$option eq "-maximum_size" && ![string is integer -strict $value]} { _reject "-maximum_size $value" }
    }
    _log config_array_partition {*}$args
}
proc _ready {command} {
    foreach what {solution part clock uncertainty} { _need $what $command }
}
proc csim_design {args} { _ready csim_design; _log csim_design }
proc csynth_design {args} {
    _ready csynth_design
    _log csynth_design
    set d [file join $::prj solution1 syn report]
    file mkdir $d
    file copy -force $::env(FAKE_HLS_REPORT) [file join $d "[string range $::prj 0 end-4]_csynth.xml"]
}
proc cosim_design {args} { _ready cosim_design; _log cosim_design }
proc export_design {args} { _ready export_design; _log export_design {*}$args }
source $script
"""

TCL_TOOL = r"""#!/bin/sh
# Stand-in for vitis_hls / vivado_hls (its own name tells which) that runs the Tcl script in
# tclsh with the validating HLS commands.
[ "$1" = "-f" ] || { echo "usage: $(basename "$0") -f script.tcl -tclargs ..."; exit 2; }
script="$2"; shift 2
[ "$1" = "-tclargs" ] && shift
exec tclsh "$FAKE_HLS_STUBS" "$(basename "$0")" "$script" "$@"
"""


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    """A bin folder first on PATH (empty until a test puts a tool there) and the recording files."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}")
    monkeypatch.setenv("FAKE_HLS_ARGS", str(tmp_path / "args.txt"))
    monkeypatch.setenv("FAKE_HLS_CWD", str(tmp_path / "cwd.txt"))
    for name in ("FAKE_HLS_FAIL", "FAKE_HLS_SLEEP", "FAKE_HLS_REPORT"):
        monkeypatch.delenv(name, raising=False)
    if shutil.which("vitis_hls") or shutil.which("vivado_hls"):
        pytest.skip("a real HLS tool is on PATH; these tests need the stand-in")
    return bin_dir


@pytest.fixture
def project(tmp_path) -> Path:
    """A minimal project folder (the stand-in tool does not read build_prj.tcl)."""
    prj = tmp_path / "prj"
    prj.mkdir()
    (prj / "build_prj.tcl").write_text("# stand-in\nexit\n")
    (prj / "fpga_aware_project.json").write_text(json.dumps({"generator": "fpga_aware", "project_name": "myproject"}))
    return prj


@pytest.fixture
def report_fixture(monkeypatch) -> Path:
    if not REPORT.is_file():
        pytest.skip(f"C-synthesis report fixture {REPORT} not found")
    monkeypatch.setenv("FAKE_HLS_REPORT", str(REPORT))
    return REPORT


def _args(tmp_path: Path) -> list[str]:
    return (tmp_path / "args.txt").read_text().splitlines()


# ------------------------------------------------------------------------------ success
def test_synthesis_invocation_and_report(tmp_path, fake_env, project, report_fixture):
    tool = _executable(fake_env / "vitis_hls", FAKE_TOOL)
    result = run_hls(project)
    assert _args(tmp_path) == ["-f", "build_prj.tcl", "-tclargs",
                               "reset=1 csim=0 synth=1 cosim=0 validation=0 export=0"]
    assert Path((tmp_path / "cwd.txt").read_text().strip()).resolve() == project.resolve()
    assert result.ok and result.returncode == 0
    assert result.tool == tool
    assert result.command == [str(tool), "-f", "build_prj.tcl", "-tclargs",
                              "reset=1 csim=0 synth=1 cosim=0 validation=0 export=0"]
    assert result.steps == {"reset": True, "csim": False, "synth": True, "cosim": False,
                            "validation": False, "export": False}
    assert result.log_path == project.resolve() / "build.log"
    assert "Running fake HLS tool" in result.log() and "Finished" in result.log()
    assert result.errors == []
    # the parsed report is the fixture's
    assert result.report is not None
    assert (result.report.dsp, result.report.lut, result.report.ff, result.report.bram_18k) == (73, 2532, 7969, 0)
    assert (result.report.latency_max, result.report.interval_max) == (10, 8)


def test_all_step_switches(tmp_path, fake_env, project, report_fixture):
    _executable(fake_env / "vitis_hls", FAKE_TOOL)
    run_hls(project, csim=True, synth=True, cosim=True, export=True, validation=True)
    assert _args(tmp_path)[-1] == "reset=1 csim=1 synth=1 cosim=1 validation=1 export=1"


def test_csim_only_keeps_the_project_and_returns_no_report(tmp_path, fake_env, project):
    _executable(fake_env / "vitis_hls", FAKE_TOOL)
    result = run_hls(project, csim=True, synth=False)
    assert _args(tmp_path)[-1] == "reset=0 csim=1 synth=0 cosim=0 validation=0 export=0"
    assert result.report is None


def test_cosim_after_an_earlier_synthesis_does_not_reset(tmp_path, fake_env, project, report_fixture):
    _executable(fake_env / "vitis_hls", FAKE_TOOL)
    run_hls(project)  # leaves myproject_prj/solution1/syn
    result = run_hls(project, synth=False, cosim=True, export=True)
    assert _args(tmp_path)[-1] == "reset=0 csim=0 synth=0 cosim=1 validation=0 export=1"
    assert result.report is None


def test_vivado_hls_is_the_fallback_and_tool_can_be_given(tmp_path, fake_env, project, report_fixture):
    vivado = _executable(fake_env / "vivado_hls", FAKE_TOOL)
    assert find_hls_tool() == vivado
    assert run_hls(project).tool == vivado
    other_dir = tmp_path / "xilinx" / "bin"
    other_dir.mkdir(parents=True)
    custom = _executable(other_dir / "my_hls", FAKE_TOOL)
    result = run_hls(project, tool=custom)
    assert result.tool == custom.resolve() and result.command[0] == str(custom.resolve())
    assert run_hls(project, tool="vivado_hls").tool == vivado  # a name on PATH


# ------------------------------------------------------------------------------ failures
def test_failure_raises_with_the_log_tail(tmp_path, fake_env, project, monkeypatch):
    _executable(fake_env / "vitis_hls", FAKE_TOOL)
    monkeypatch.setenv("FAKE_HLS_FAIL", "1")
    with pytest.raises(SynthesisError) as info:
        run_hls(project, csim=True)
    err = info.value
    message = str(err)
    assert "exit status 3" in message
    assert "'nonexistent.h' file not found" in message  # the first ERROR line
    assert "last line of the fake log" in message  # the tail of build.log
    assert "filler line 60" in message and "filler line 5\n" not in message  # only the tail
    assert err.returncode == 3
    assert err.log_path == project.resolve() / "build.log"
    assert "last line of the fake log" in err.log_tail
    assert "filler line 1\n" in err.log_path.read_text()  # the whole log is kept


def test_timeout_stops_the_tool(tmp_path, fake_env, project, monkeypatch):
    _executable(fake_env / "vitis_hls", FAKE_TOOL)
    monkeypatch.setenv("FAKE_HLS_SLEEP", "30")
    start = time.monotonic()
    with pytest.raises(SynthesisError, match="timed out") as info:
        run_hls(project, timeout=0.5)
    assert time.monotonic() - start < 15
    assert info.value.returncode is None
    assert "Running fake HLS tool" in str(info.value)


def test_synthesis_without_a_report_is_an_error(tmp_path, fake_env, project):
    _executable(fake_env / "vitis_hls", FAKE_TOOL)  # FAKE_HLS_REPORT unset: no report written
    with pytest.raises(SynthesisError, match="synthesis report cannot be read.*no C-synthesis report"):
        run_hls(project)


def test_no_tool(tmp_path, fake_env, project, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_env))  # nothing there
    with pytest.raises(ToolNotFoundError, match="neither vitis_hls nor vivado_hls is on PATH"):
        run_hls(project)
    with pytest.raises(ToolNotFoundError, match="'my_hls' is not on PATH"):
        run_hls(project, tool="my_hls")
    with pytest.raises(ToolNotFoundError, match="does not exist"):
        run_hls(project, tool=tmp_path / "nowhere" / "vitis_hls")
    assert issubclass(ToolNotFoundError, SynthesisError)
    assert not (project / "build.log").exists()


def test_bad_arguments(tmp_path, fake_env, project):
    _executable(fake_env / "vitis_hls", FAKE_TOOL)
    with pytest.raises(FileNotFoundError, match="build_prj.tcl does not exist"):
        run_hls(tmp_path)
    with pytest.raises(ValueError, match="no step selected"):
        run_hls(project, synth=False)
    with pytest.raises(ValueError, match="need a synthesized design"):
        run_hls(project, synth=False, cosim=True)
    with pytest.raises(ValueError, match="timeout must be positive"):
        run_hls(project, timeout=0)
    assert not (tmp_path / "args.txt").exists()  # the tool never ran


# ------------------------------------------------------------------------------ the real build_prj.tcl
def test_switches_drive_the_written_build_script(tmp_path, fake_env, report_fixture, monkeypatch):
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    import tensorflow as tf

    import fpga_aware as fa

    model = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,), name="fc1")])
    firmware = fa.to_firmware(model, "xc7z020-clg400-1", project_name="myproject")
    project = firmware.write(tmp_path / "written")
    stubs = tmp_path / "stubs.tcl"
    stubs.write_text(TCL_STUBS)
    monkeypatch.setenv("FAKE_HLS_STUBS", str(stubs))
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_HLS_CALLS", str(calls))
    _executable(fake_env / "vitis_hls", TCL_TOOL)

    result = run_hls(project)
    steps = [line.split()[0] for line in calls.read_text().splitlines()]
    assert "csynth_design" in steps
    assert "csim_design" not in steps and "cosim_design" not in steps and "export_design" not in steps
    assert "open_project -reset myproject_prj" in calls.read_text()
    assert "set_part xc7z020-clg400-1" in calls.read_text()
    assert result.report.dsp == 73

    calls.unlink()
    run_hls(project, csim=True, synth=False, cosim=True, export=True)
    text = calls.read_text()
    steps = [line.split()[0] for line in text.splitlines()]
    assert [s for s in steps if s.endswith("_design")] == ["csim_design", "cosim_design", "export_design"]
    assert "open_project myproject_prj" in text  # no -reset: the synthesized design is kept
    assert "export_design -format ip_catalog" in text


@pytest.fixture
def written_project(tmp_path, report_fixture, monkeypatch):
    """A project written by Firmware.write, and the validating Tcl stand-ins on PATH."""
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    import tensorflow as tf

    import fpga_aware as fa

    model = tf.keras.Sequential([tf.keras.layers.Dense(3, input_shape=(4,), name="fc1")])
    firmware = fa.to_firmware(model, "xc7z020-clg400-1", project_name="myproject", clock_period=4.0)
    project = firmware.write(tmp_path / "written")
    stubs = tmp_path / "stubs.tcl"
    stubs.write_text(TCL_STUBS)
    monkeypatch.setenv("FAKE_HLS_STUBS", str(stubs))
    monkeypatch.setenv("FAKE_HLS_CALLS", str(tmp_path / "calls.txt"))
    return project


@pytest.mark.parametrize("tool", ["vitis_hls", "vivado_hls"])
def test_build_script_passes_the_validating_stand_in(tmp_path, fake_env, written_project, tool):
    exe = _executable(fake_env / tool, TCL_TOOL)
    result = run_hls(written_project, csim=True, synth=True, cosim=True, export=True, tool=exe)
    assert result.ok and result.report is not None
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert "add_files firmware/myproject.cpp -cflags -std=c++0x" in calls
    assert "add_files -tb tb/myproject_test.cpp -cflags -std=c++0x" in calls
    assert "add_files -tb tb/myproject_test.cpp -cflags -std=c++0x -DRTL_SIM" in calls
    assert "create_clock -period 4.0 -name default" in calls
    assert "set_clock_uncertainty 12.5% default" in calls  # the cost model's figure
    partition = [c for c in calls if c.startswith("config_array_partition")]
    solution = [c for c in calls if c.startswith("open_solution")]
    if tool == "vivado_hls":
        assert partition == ["config_array_partition -maximum_size 4096"]
        assert solution == ["open_solution -reset solution1"]
    else:
        assert partition == []  # Vitis HLS has no -maximum_size
        assert solution == ["open_solution -reset -flow_target vivado solution1"]
    assert f"INFO: build_prj.tcl: running in {tool}" in result.log()
    steps = [c.split()[0] for c in calls if c.split()[0].endswith("_design")]
    assert steps == ["csim_design", "csynth_design", "cosim_design", "export_design"]


@pytest.mark.parametrize("tool", ["vitis_hls", "vivado_hls"])
@pytest.mark.parametrize("edit", ["c++14", "no_uncertainty", "maximum_size_everywhere"])
def test_the_stand_in_rejects_what_the_tool_would(tmp_path, fake_env, written_project, tool, edit):
    """The stand-ins are strict: the script of earlier versions (-std=c++14, no uncertainty)
    fails where the real tools would fail or silently differ from the cost model."""
    exe = _executable(fake_env / tool, TCL_TOOL)
    script = written_project / "build_prj.tcl"
    text = script.read_text()
    if edit == "c++14":
        edited = text.replace("-std=c++0x", "-std=c++14")
        rejected = tool == "vivado_hls"
    elif edit == "no_uncertainty":
        edited = text.replace("set_clock_uncertainty", "# set_clock_uncertainty")
        rejected = True
    else:
        edited = text.replace('if {$hls_tool eq "vivado_hls"} {\n    # Vivado HLS refuses', "if {1} {\n    #")
        rejected = tool == "vitis_hls"
    assert edited != text
    script.write_text(edited)
    if rejected:
        with pytest.raises(SynthesisError, match="stand-in"):
            run_hls(written_project, tool=exe)
    else:
        assert run_hls(written_project, tool=exe).ok
