"""Every fenced code block of README.md runs verbatim, and the figures the README quotes are what the code prints.

How the blocks run (the README's text is executed as written: no substitution of any kind):

* Blocks run in README order in **one temporary working directory**, so a block may use the files
  an earlier one wrote (the command-line block exports ``model.keras``, which the Example block
  saves).  Selecting one block (``-k``) first runs the blocks before it.
* ``python`` blocks run in-process, each in a **fresh namespace**: every Python block is
  self-contained (imports, data, model) and blocks share only files.  The Keras seed is set to 0
  before each one, so a run is reproducible.
* ``bash`` blocks: each command line (``\\`` continuations joined) runs with ``bash -c`` in a
  subprocess and must exit with status 0.  Only ``fpga-aware`` commands are allowed; the
  ``fpga-aware`` on ``PATH`` is a wrapper running ``sys.executable -m fpga_aware`` with this
  checkout first on ``PYTHONPATH``, so the checkout's code is what runs.
* A block right after ``<!-- readme-test: skip (reason) -->`` is reported as a skipped test with
  that reason (``pytest -rs`` lists them; the summary line counts them).  A fence in any other
  language must be marked too, so nothing is ignored silently.

The environment the README assumes:

* Fashion-MNIST absent (``$FPGA_AWARE_FASHION_MNIST`` points at an empty folder), so the part-2
  recipe takes the cost-only path whose figures the README quotes (and does not train on 60,000
  images when the Debian package happens to be installed);
* hls4ml's ``KERAS_3layer.json`` / ``KERAS_3layer_weights.h5``, named by the command-line block,
  copied from ``../shared/models`` into the working directory (the block is skipped, with that
  reason, when they are absent).

Figures: after certain blocks a check compares what the README says with what the code printed
(part 2's DSP/II/latency against the recipe's published numbers, the demo's files and its run
time, the sparsity ``Prune(0.75)`` reaches, the emulator = C simulation verdict).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import MODELS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP_MARKER = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
ANY_MARKER = re.compile(r"<!--\s*readme-test\b")
RUN_LANGUAGES = ("python", "bash")
#: Files the README names that it does not create: hls4ml's example jet tagger.
INPUT_FILES = {name: MODELS / name for name in ("KERAS_3layer.json", "KERAS_3layer_weights.h5")}
COMMAND_TIMEOUT_S = 300


# ============================================================================ parsing
@dataclass
class Block:
    index: int
    section: str  #: the nearest heading above the block
    language: str
    code: str
    line: int  #: README line of the first code line (1-based)
    skip: str | None  #: the reason of a skip marker right before the fence

    @property
    def id(self) -> str:
        return f"{self.index:02d}-L{self.line}-{self.language or 'plain'}-{re.sub(r'[^a-z0-9]+', '_', self.section.lower()).strip('_')}"


def parse_readme(text: str) -> list[Block]:
    """The fenced blocks of ``text`` in order, each with its section and skip marker."""
    blocks: list[Block] = []
    lines = text.splitlines()
    section, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", line)
        if not fence:
            i += 1
            continue
        indent, ticks, language = fence.groups()
        previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = SKIP_MARKER.fullmatch(previous)
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(ticks):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"README.md:{i + 1}: the {ticks} fence is never closed")
        blocks.append(Block(len(blocks) + 1, section, language.lower(), "\n".join(body) + "\n", i + 2,
                            marker.group("reason").strip() if marker else None))
        i = j + 1
    return blocks


def bash_commands(block: Block) -> list[tuple[int, str]]:
    """``(README line, command)`` of each command of a bash block: comments dropped, ``\\`` joined."""
    commands, pending, start = [], "", 0
    for offset, raw in enumerate(block.code.splitlines()):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = block.line + offset
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        commands.append((start, pending + stripped))
        pending = ""
    if pending:
        commands.append((start, pending))
    return commands


README_TEXT = README.read_text()
BLOCKS = parse_readme(README_TEXT)


def quoted(pattern: str, what: str) -> re.Match:
    """The README's text matching ``pattern`` (the figure a check compares), or a failure naming it."""
    match = re.search(pattern, " ".join(README_TEXT.split()))
    assert match, f"README.md no longer quotes {what} (pattern {pattern!r}); update tests/test_readme.py"
    return match


def number(text: str) -> int:
    return int(text.replace(",", ""))


# ============================================================================ checks of figures
def check_example(ns: dict, workdir: Path) -> None:
    assert (workdir / "model.keras").exists()  # the command-line block exports it
    assert (workdir / "fpga_prj" / "build_prj.tcl").is_file()
    report = ns["fw"].estimate()
    # "Any reuse factor ... the firmware schedules ceil(nonzero/R) multiplications per cycle with II = R"
    assert report.ii == 4  # fc1 at reuse factor 4, the rest at 1


def check_training(ns: dict, workdir: Path) -> None:
    history = ns["history"].history
    epochs = len(history["loss"])
    assert len(history["fpga_dsp"]) == len(history["sparsity"]) == epochs
    # the comment says the sparsity rises "up to 0.75": Prune(0.75) reaches it, with exact zeros
    assert history["sparsity"][0] < 0.75 and abs(history["sparsity"][-1] - 0.75) < 0.01
    assert ns["fa"].estimate(ns["model"]).dsp == history["fpga_dsp"][-1]


def check_export(output: str, workdir: Path, seconds: float) -> None:
    assert "emulator vs C simulation: 0 mismatching samples of 2000" in output
    assert (workdir / "prj" / "build_prj.tcl").is_file()


def check_part2(output: str, workdir: Path, seconds: float) -> None:
    """The README's part-2 figures are the recipe's estimate (cost-only run) and its published numbers."""
    from fpga_aware.workflows.recipes import load_recipe

    section = output[output.index("## Firmware `mnist_resource`"):]
    estimate = re.search(r"- estimate: DSP ([\d,]+), .*latency (\d+) cycles .*, II (\d+)", section)
    assert estimate, section
    dsp, latency, ii = (number(g) for g in estimate.groups())
    reference = load_recipe("part2_advanced_config").firmware[0].reference
    text = quoted(r"(\d[\d,]*) DSP against the published (\d[\d,]*), II (\d+) as published, "
                  r"latency (\d+) cycles against the published (\d+)–(\d+)", "part 2's figures")
    readme_dsp, readme_ref_dsp, readme_ii, readme_latency, low, high = (number(g) for g in text.groups())
    assert (readme_dsp, readme_ii, readme_latency) == (dsp, ii, latency), \
        f"README quotes DSP {readme_dsp}, II {readme_ii}, latency {readme_latency}; the recipe prints {dsp}, {ii}, {latency}"
    assert (readme_ref_dsp, readme_ii, [low, high]) == (reference["dsp"], reference["ii"], reference["latency_cycles"])
    assert "DATA SET MISSING" in output and "apt-get install dataset-fashion-mnist" in output  # as the README says


DEMO_SECONDS = {"about half a minute": 60}  #: README wording -> the most seconds it may take


def check_demo(output: str, workdir: Path, seconds: float) -> None:
    """The set-up section's claims about ``make demo`` (which runs ``fpga-aware demo``)."""
    text = quoted(r"writes `demo_output/summary\.md` \(accuracies, per-digit ROC AUCs, the cost table against the "
                  r"part\), `cost_per_epoch\.png` \([^)]*\) and `roc\.png` \([^)]*\), in (about [a-z ]+) on two cores",
                  "the demo's outputs and time")
    out = workdir / "demo_output"
    for name in ("summary.md", "cost_per_epoch.png", "roc.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["emulator_csim_mismatches"] == 0 and abs(summary["sparsity"] - 0.75) < 0.01
    summary_md = (out / "summary.md").read_text()
    assert "accuracy" in summary_md and "utilization" in summary_md and "AUC" in summary_md
    limit = DEMO_SECONDS.get(text.group(1))
    assert limit is not None, f"the README's demo time {text.group(1)!r} has no bound in DEMO_SECONDS"
    # the demo's own run time (summary.json: training to verification), not the interpreter's start-up, so a
    # loaded machine does not fail this; `fpga-aware demo` on two cores measured 17 s of it (26 s wall)
    assert summary["seconds"] <= limit, (f"the README says the demo takes {text.group(1)}; it took "
                                         f"{summary['seconds']:.0f} s ({seconds:.0f} s with start-up)")


PYTHON_CHECKS = {"Example": check_example, "Training with the cost in view": check_training}  # by section
COMMAND_CHECKS = {  # by the start of the command line
    "fpga-aware export model.keras": check_export,
    "fpga-aware run part2_advanced_config": check_part2,
    "fpga-aware demo": check_demo,
}


# ============================================================================ running
@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """The shared working directory, the environment of the bash blocks, and which blocks ran."""
    root = tmp_path_factory.mktemp("readme")
    workdir, bindir, no_data = root / "work", root / "bin", root / "no_fashion_mnist"
    for folder in (workdir, bindir, no_data):
        folder.mkdir()
    wrapper = bindir / "fpga-aware"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m fpga_aware "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["FPGA_AWARE_FASHION_MNIST"] = str(no_data)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    missing = [str(path) for path in INPUT_FILES.values() if not path.exists()]
    for name, path in INPUT_FILES.items():
        if path.exists():
            shutil.copy(path, workdir / name)
    return {"workdir": workdir, "env": env, "missing_inputs": missing, "done": set(), "failed": set()}


def run_python(block: Block, workdir: Path) -> None:
    from fpga_aware._stack import keras

    keras().utils.set_random_seed(0)
    code = compile("\n" * (block.line - 1) + block.code, str(README), "exec")  # tracebacks show README lines
    namespace = {"__name__": "__readme__"}
    with contextlib.chdir(workdir):
        exec(code, namespace)  # noqa: S102 - the README's own example
    check = PYTHON_CHECKS.get(block.section)
    if check:
        check(namespace, workdir)


def run_bash(block: Block, session: dict) -> None:
    commands = bash_commands(block)
    assert commands, f"README.md:{block.line}: an empty bash block"
    for line, command in commands:
        assert shlex.split(command, comments=True)[0] == "fpga-aware", (
            f"README.md:{line}: {command!r} is not an fpga-aware command; mark the block "
            "<!-- readme-test: skip (reason) --> if it cannot run in the tests")
    if session["missing_inputs"]:
        names = [name for name in INPUT_FILES if name in block.code]
        if names:
            pytest.skip(f"the block uses {names}, not found: {session['missing_inputs']} (../shared is absent)")
    for line, command in commands:
        start = time.perf_counter()
        result = subprocess.run(["bash", "-c", command], cwd=session["workdir"], env=session["env"],
                                capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        seconds = time.perf_counter() - start
        assert result.returncode == 0, (f"README.md:{line}: `{command}` exited with {result.returncode}\n"
                                        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
        for prefix, check in COMMAND_CHECKS.items():
            if command.startswith(prefix):
                check(result.stdout, session["workdir"], seconds)


def run_block(block: Block, session: dict) -> None:
    if block.skip:
        pytest.skip(f"README.md:{block.line} ({block.section}): {block.skip}")
    try:
        if block.language == "python":
            run_python(block, session["workdir"])
        else:
            run_bash(block, session)
    except BaseException:
        session["failed"].add(block.index)  # its own test reports why; later blocks do not rerun it
        raise
    session["done"].add(block.index)


@pytest.mark.slow
@pytest.mark.serial  # the demo's wall-clock bound: run alone, after the parallel part (Makefile)
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_runs_verbatim(block, session):
    for earlier in BLOCKS[: block.index - 1]:  # a block may need the files of the ones before it
        if earlier.index in session["failed"]:
            pytest.skip(f"README block {earlier.id} failed (its own test says why); this one needs its files")
        if earlier.index not in session["done"] and not earlier.skip:
            run_block(earlier, session)
    run_block(block, session)


# ============================================================================ the inventory
def test_every_block_runs_or_says_why_not():
    """Every fence is python or bash, or marked with a reason; every marker precedes a fence."""
    assert BLOCKS, "README.md has no code blocks"
    for block in BLOCKS:
        if block.skip is None:
            assert block.language in RUN_LANGUAGES, (
                f"README.md:{block.line}: a ```{block.language} block cannot run; mark it "
                "<!-- readme-test: skip (reason) -->")
    lines = README_TEXT.splitlines()
    fence_lines = {block.line - 1 for block in BLOCKS}  # 1-based line of each opening fence
    for number_, line in enumerate(lines, start=1):
        if ANY_MARKER.search(line):
            assert SKIP_MARKER.fullmatch(line.strip()), f"README.md:{number_}: malformed marker {line!r}"
            following = next(n for n in range(number_ + 1, len(lines) + 1) if lines[n - 1].strip())
            assert following in fence_lines, f"README.md:{number_}: the marker is not right before a fence"
    skipped = [(b.line, b.section, b.skip) for b in BLOCKS if b.skip]
    ran = [b for b in BLOCKS if not b.skip]
    print(f"README.md: {len(BLOCKS)} blocks, {len(ran)} run, {len(skipped)} skipped:")
    for line, section, reason in skipped:
        print(f"  skipped README.md:{line} ({section}): {reason}")
    assert len(ran) >= len(skipped), "most of the README's blocks should run"


def test_checks_name_what_the_readme_has():
    """A check keyed by a section or command that the README no longer has would silently not run."""
    sections = {block.section for block in BLOCKS if block.language == "python" and not block.skip}
    assert set(PYTHON_CHECKS) <= sections, set(PYTHON_CHECKS) - sections
    commands = [command for block in BLOCKS if block.language == "bash" and not block.skip
                for _, command in bash_commands(block)]
    for prefix in COMMAND_CHECKS:
        assert any(command.startswith(prefix) for command in commands), f"no README command starts with {prefix!r}"


def test_parser_on_a_small_document():
    text = ("# T\n\n## A\n\n```python\nx = 1\n```\n\n<!-- readme-test: skip (needs a tool) -->\n"
            "```bash\nfpga-aware build prj  # comment\n```\n\n## B\n```bash\n# only a comment\n"
            "fpga-aware estimate m.h5 \\\n  --json\n```\n")
    blocks = parse_readme(text)
    assert [(b.section, b.language, b.line, b.skip) for b in blocks] == [
        ("A", "python", 6, None), ("A", "bash", 11, "needs a tool"), ("B", "bash", 16, None)]
    assert blocks[0].code == "x = 1\n"
    assert bash_commands(blocks[2]) == [(17, "fpga-aware estimate m.h5 --json")]
    with pytest.raises(ValueError, match="never closed"):
        parse_readme("```python\nx = 1\n")
