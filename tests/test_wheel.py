"""The package works when installed from its wheel, not only from the checkout.

The wheel is built offline (``--no-build-isolation``: setuptools and wheel come from the test
environment), installed without network and without its dependencies into a fresh virtual
environment whose dependencies are the test environment's (a ``.pth`` line adds its
site-packages *after* the new environment's own), and used from an unrelated working folder:
export a shared model, compile and run the C simulation, list the shipped recipes and run one
in reduced mode through the installed console script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from conftest import MODELS as SHARED_MODELS

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


#: The environment of the installed package's processes: no PYTHONPATH, which could put a checkout's
#: fpga_aware in front of the wheel's.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _run(cmd, cwd, env=None, timeout=600):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or CLEAN_ENV, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # build from a copy of the tracked files, as a user's clone has them (no build/ or .egg-info leftovers)
    src = out / "src"
    archive = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, archive):
        source = REPO / name
        if source.is_file():
            target = src / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          src, "-w", out / "dist"], cwd=out)
    (found,) = (out / "dist").glob("fpga_aware-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root.parent)
    python = root / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
         cwd=root.parent)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root.parent).stdout.strip())
    # the dependencies: the test environment's site-packages, searched after the venv's own
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_test_environment.pth").write_text("".join(f"{p}\n" for p in sorted(deps)))
    return root


def test_the_wheel_carries_templates_and_recipes(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped_templates = {p.relative_to(REPO / "templates").as_posix() for p in (REPO / "templates").rglob("*.j2")}
    shipped_recipes = {p.name for p in (REPO / "recipes").glob("*.yaml")}
    assert shipped_templates and shipped_recipes
    assert {f"fpga_aware/templates/{t}" for t in shipped_templates} <= set(names)
    assert {f"fpga_aware/shipped_recipes/{r}" for r in shipped_recipes} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "templates/", "recipes/"))]  # nothing at top level


@pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason="../shared/models is not beside the checkout")
def test_installed_package_exports_and_simulates(venv, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    script = textwrap.dedent(f"""
        import json, numpy as np
        import fpga_aware as fa
        from fpga_aware.frontend.model_io import load_model
        model = load_model({str(SHARED_MODELS / 'KERAS_3layer.json')!r}, {str(SHARED_MODELS / 'KERAS_3layer_weights.h5')!r})
        fw = fa.export(model, part="xcu250-figd2104-2L-e", output_dir="prj", reuse_factor=2, strategy="resource")
        x = np.random.default_rng(0).standard_normal((300, 16))
        mismatches = int(np.count_nonzero(np.any(fw.predict(x) != fw.predict(x, engine="csim"), axis=1)))
        import fpga_aware.resources as r
        print(json.dumps({{"package": fa.__file__, "templates": str(r.template_root()),
                          "mismatches": mismatches, "files": sorted(p.name for p in fw.project_dir.iterdir())}}))
    """)
    result = _run([venv / "bin" / "python", "-c", script], cwd=work)
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["package"].startswith(str(venv)), info["package"]  # the wheel's copy, not the checkout
    assert info["templates"].startswith(str(venv))
    assert info["mismatches"] == 0
    assert "build_prj.tcl" in info["files"] and "firmware" in info["files"]


def test_installed_console_script_lists_and_runs_a_recipe(venv, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    cli = venv / "bin" / "fpga-aware"
    listed = _run([cli, "run", "--list"], cwd=work).stdout.split()
    for recipe in (REPO / "recipes").glob("*.yaml"):
        assert recipe.stem in listed
    env = dict(CLEAN_ENV, CUDA_VISIBLE_DEVICES="")
    result = _run([cli, "run", "part1_conversion", "--epochs", "1", "--out", "part1", "--json"], cwd=work, env=env)
    summary = json.loads(result.stdout)
    (firmware,) = summary["firmware"]
    assert firmware["emulator_csim_mismatches"] == 0
    assert (work / "part1" / "summary.md").is_file()
    assert (work / "part1" / "firmware" / "build_prj.tcl").is_file()
