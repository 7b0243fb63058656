"""Writes a :class:`~fpga_aware.core.ir.ModelIR` as an HLS C++ project (Vitis HLS / Vivado HLS).

All C++, Tcl and shell text lives in the jinja2 templates of ``templates/`` (top level of
the repository); this module only computes what they need: type names, sizes, and the
stored numbers.  Layout of a project::

    fpga_aware_project.json      manifest: marks the folder as an fpga_aware project
    build_prj.tcl                vitis_hls / vivado_hls -f build_prj.tcl
    build_lib.sh                 g++ C simulation library (what fpga_aware.sim.csim does)
    {project}_bridge.cpp         extern "C" {project}_predict_batch(in, out, n)
    firmware/{project}.cpp, .h   the top function, one call per layer
    firmware/defines.h           one typedef per layer type (<cname>_input_t, ...)
    firmware/rom_types.h         element types of the weight/table arrays (mantissa storage)
    firmware/parameters.h        one config struct per layer (<cname>_config)
    firmware/fa_layers.h         the layer function templates
    firmware/fa_ap_types.h       ap_types include, FA_PRAGMA(HLS ...)
    firmware/weights/<cname>.h   a layer's nonzero weights, their indices, tables
    firmware/graphs/<cname>.h    strategy='distributed_arithmetic': the layer's adder graph
    tb/{project}_test.cpp        C test bench on tb_data/tb_input_features.dat
    tb_data/                     test vectors

Numbers are written as **mantissas** (``value = m * 2**-frac`` of the array's fixed-point
type, exact for every width) and reinterpreted bit for bit in the C++
(``fa::from_bits``): g++ needs minutes for a few thousand ``ap_fixed`` initialisers, but
compiles a million integers in seconds.  For HLS the same numbers fill ``ap_int<W>`` arrays
of the exact width.  Types wider than 64 bits are stored as ``fa::wide_bits<N>`` (N 64-bit
words of the raw two's complement bits, least significant word first; both forms), which
``fa::from_bits`` reassembles.

Only the nonzero weights of a dense layer are written.  A fully parallel layer (Latency
strategy, reuse factor 1) stores ``<cname>_w`` in :meth:`~fpga_aware.core.ir.DenseLayer.terms`
order with constant input (``<cname>_w_in``) and output (``<cname>_w_out``) indices, folded
away when the loop unrolls.  Every other layer follows its static schedule
(:mod:`fpga_aware.core.schedule`): ``<cname>_w`` holds one word of ``n_lanes`` weights per
cycle, and ``firmware/schedules/<cname>.h`` wires each lane's inputs, registers and adder tree
with constant indices (no index memory).

Output folder rules: a missing or empty folder is written; an earlier fpga_aware project
is replaced only with ``overwrite=True`` (:class:`ProjectExistsError` otherwise); any
other existing folder or file is never touched (:class:`OutputDirectoryError`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.streams import UnsupportedStreamError, stream_plan
from fpga_aware.hls.cpp import index_storage, int_array
from fpga_aware.core.hardware import clock_uncertainty_tcl
from fpga_aware.core.ir import (
    InputLayer,
    IOType,
    Layer,
    ModelIR,
    Strategy,
)
from fpga_aware.core.windows import window_positions
from fpga_aware.hls.errors import OutputDirectoryError, ProjectChangedError, ProjectDefinitionError, ProjectExistsError
from fpga_aware.hls.layers import AP_DEFAULT_MAX_W, AP_LARGEST_MAX_W, layer_context
from fpga_aware.resources import template_root

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_GENERATOR",
    "write_folder",
    "template_environment",
    "package_version",
    "OutputDirectoryError",
    "ProjectExistsError",
    "ProjectDefinitionError",
    "ProjectChangedError",
    "check_project_unchanged",
    "content_digest",
    "write_project",
    "render_project",
    "is_project",
    "read_manifest",
]

#: The file that marks a folder as an fpga_aware project.
MANIFEST_NAME = "fpga_aware_project.json"
MANIFEST_GENERATOR = "fpga_aware"
MANIFEST_FORMAT = 1


#: g++ flags of the C simulation (also written into build_lib.sh).  C++11, the standard the HLS
#: tools are given (:data:`HLS_CFLAGS`), so the C simulation compiles what they compile.
CXXFLAGS = ("-std=c++11", "-O2", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra")

#: Compiler flags of the sources in build_prj.tcl: C++11 under the name Vivado HLS 2019.2/2020.x
#: and Vitis HLS all accept (hls4ml's choice too); g++'s ``-std=c++0x`` is ``-std=c++11``.
HLS_CFLAGS = "-std=c++0x"

#: ``config_array_partition -maximum_size`` for Vivado HLS: at least this (hls4ml's default),
#: more when the design partitions a larger array completely.
ARRAY_PARTITION_MIN_SIZE = 4096

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_NUMBERS_PER_LINE = 16


# ------------------------------------------------------------------------------ public API
def write_project(
    ir: ModelIR,
    config: FirmwareConfig,
    output_dir: str | os.PathLike,
    overwrite: bool = False,
    *,
    tb_inputs: np.ndarray | None = None,
) -> Path:
    """Write the HLS project of ``ir`` to ``output_dir`` and return its (absolute) path.

    ``tb_inputs`` (optional, shape ``(n, n_inputs)``) is written to
    ``tb_data/tb_input_features.dat`` for the C test bench and HLS C simulation.

    Raises :class:`OutputDirectoryError` when ``output_dir`` is a file or a non-empty folder
    that is not an fpga_aware project (nothing is changed, whatever ``overwrite`` says),
    :class:`ProjectExistsError` when it is an earlier project and ``overwrite`` is false, and
    :class:`ProjectDefinitionError` when the IR cannot be written.  With ``overwrite=True`` an
    earlier project folder is replaced as a whole (everything in it, including HLS build outputs).

    Writing is all or nothing: the project is written into a fresh folder beside ``output_dir``
    and renamed into place, so an error (a full disk, ...) leaves ``output_dir`` as it was.
    """
    path = Path(output_dir).expanduser()
    _check_output(path, overwrite)  # fail fast, before any rendering
    files = render_project(ir, config, tb_inputs=tb_inputs)
    return write_folder(path, files, overwrite, folders=("tb_data",), executables=("build_lib.sh",))


def write_folder(output_dir: str | os.PathLike, files: dict[str, str], overwrite: bool,
                 folders: tuple[str, ...] = (), executables: tuple[str, ...] = ()) -> Path:
    """Write ``files`` (``{relative path: text}``, with a manifest ``MANIFEST_NAME``) as the
    folder ``output_dir``, all or nothing, by the rules of :func:`write_project`: a missing or
    empty folder is written, an earlier fpga_aware project replaced only with ``overwrite``,
    anything else never touched.  ``folders`` are created empty; ``executables`` made executable."""
    path = Path(output_dir).expanduser()
    _check_output(path, overwrite)
    if path.is_symlink():  # a link to a folder: write where it points, keep the link
        path = path.resolve()
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_dir(path, "new")
    files = dict(files)
    try:
        manifest = files.pop(MANIFEST_NAME)
        _write_text(staging / MANIFEST_NAME, manifest)
        for rel, text in files.items():
            _write_text(staging / rel, text)
        for folder in folders:
            (staging / folder).mkdir(exist_ok=True)
        for rel in executables:
            target = staging / rel
            target.chmod(target.stat().st_mode | 0o111)
        state = _check_output(path, overwrite)  # again: the folder may have changed meanwhile
        _swap_in(staging, path, state)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path.resolve()


def _staging_dir(path: Path, what: str) -> Path:
    """A fresh folder beside ``path`` (same file system: renaming it into place is atomic)."""
    stem = path.name[:40]
    while True:
        candidate = path.parent / f".{stem}.fa-{what}-{secrets.token_hex(4)}"
        try:
            candidate.mkdir()  # default permissions (umask), unlike tempfile.mkdtemp's 0o700
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue
        return candidate


def _swap_in(staging: Path, path: Path, state: str) -> None:
    """Move the fully written ``staging`` folder to ``path`` (all or nothing)."""
    if state == "missing":
        try:
            os.rename(staging, path)
        except OSError as err:
            raise OutputDirectoryError(f"output folder {path} appeared while the project was written: {err}") from None
        return
    if state == "empty":
        shutil.copymode(path, staging)
        try:
            os.replace(staging, path)  # replaces an empty folder atomically
        except OSError as err:
            raise OutputDirectoryError(f"output folder {path} is no longer empty: {err}") from None
        return
    # an earlier project: move it aside, move the new one in, then delete the old one
    old = _staging_dir(path, "old")
    old.rmdir()
    os.rename(path, old)
    try:
        os.rename(staging, path)
    except BaseException:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def is_project(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder holding a readable fpga_aware manifest."""
    try:
        read_manifest(path)
    except (OSError, ValueError):
        return False
    return True


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the project in folder ``path``; raises ``OSError``/``ValueError`` if absent or not ours."""
    manifest_path = Path(path) / MANIFEST_NAME
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} does not exist (not an fpga_aware project)")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{manifest_path} is not an fpga_aware manifest: {err}") from None
    if not isinstance(data, dict) or data.get("generator") != MANIFEST_GENERATOR:
        raise ValueError(f"{manifest_path} is not an fpga_aware manifest (no generator={MANIFEST_GENERATOR!r})")
    if not isinstance(data.get("project_name"), str) or not _IDENTIFIER.match(data["project_name"]):
        raise ValueError(f"{manifest_path} has no valid project_name")
    return data


def render_project(ir: ModelIR, config: FirmwareConfig, *, tb_inputs: np.ndarray | None = None) -> dict[str, str]:
    """All files of the project as ``{relative path: text}`` (nothing is written)."""
    context = _project_context(ir, config)
    env = template_environment()
    project = context["project"]
    files: dict[str, str] = {}

    def render(template: str, target: str, **extra: Any) -> None:
        files[target] = env.get_template(template).render(**context, **extra)

    render("firmware/fa_ap_types.h.j2", "firmware/fa_ap_types.h")
    render("firmware/fa_layers.h.j2", "firmware/fa_layers.h")
    if context["io_stream"]:
        render("firmware/fa_stream.h.j2", "firmware/fa_stream.h")
    if context["wide_storage"]:
        render("firmware/fa_wide_bits.h.j2", "firmware/fa_wide_bits.h")
    render("firmware/defines.h.j2", "firmware/defines.h")
    render("firmware/rom_types.h.j2", "firmware/rom_types.h")
    render("firmware/parameters.h.j2", "firmware/parameters.h")
    render("firmware/project.h.j2", f"firmware/{project}.h")
    render("firmware/project.cpp.j2", f"firmware/{project}.cpp")
    for layer in context["layers"]:
        if layer["arrays"]:
            render("firmware/weights.h.j2", f"firmware/weights/{layer['cname']}.h", layer=layer)
        if layer.get("schedule"):
            render("firmware/schedule.h.j2", f"firmware/schedules/{layer['cname']}.h", layer=layer, s=layer["schedule"])
        if layer.get("graph"):
            render("firmware/adder_graph.h.j2", f"firmware/graphs/{layer['cname']}.h", layer=layer, g=layer["graph"])
    render("project_bridge.cpp.j2", f"{project}_bridge.cpp")
    render("tb/project_test.cpp.j2", f"tb/{project}_test.cpp")
    render("build_prj.tcl.j2", "build_prj.tcl")
    render("build_lib.sh.j2", "build_lib.sh")
    if tb_inputs is not None:
        files["tb_data/tb_input_features.dat"] = _tb_data(tb_inputs, context["n_inputs"])
    manifest = _manifest(ir, config, context, sorted(files))
    manifest["sha256"] = {rel: _sha256(text) for rel, text in sorted(files.items())}
    manifest["content_sha256"] = content_digest(manifest["sha256"])
    files[MANIFEST_NAME] = json.dumps(manifest, indent=2) + "\n"
    return files


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digest(file_hashes: dict[str, str]) -> str:
    """One digest of a project's files (``{relative path: sha256}``), as the manifest records it."""
    digest = hashlib.sha256()
    for rel in sorted(file_hashes):
        digest.update(f"{rel}\0{file_hashes[rel]}\0".encode("utf-8"))
    return digest.hexdigest()


def check_project_unchanged(path: str | os.PathLike, content_sha256: str) -> None:
    """Raise :class:`ProjectChangedError` unless the project in ``path`` is the one whose manifest
    recorded ``content_sha256`` and its files are still as written."""
    path = Path(path)
    try:
        manifest = read_manifest(path)
    except (OSError, ValueError) as err:
        raise ProjectChangedError(f"the project folder {path} is no longer this firmware's project: {err}") from None
    if manifest.get("content_sha256") != content_sha256:
        raise ProjectChangedError(
            f"the project folder {path} now holds another export (project {manifest.get('project_name')!r}, "
            f"{len(manifest.get('layers', []))} layers), written after this firmware's; compiling it would "
            "simulate that model. Write this firmware again (firmware.write(path, overwrite=True)) or to another folder"
        )
    changed = []
    for rel, expected in manifest.get("sha256", {}).items():
        file = path / rel
        try:
            actual = _sha256(file.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            actual = None
        if actual != expected:
            changed.append(rel)
    if changed:
        raise ProjectChangedError(
            f"files of the project {path} changed after it was written: {changed}; the C simulation would not "
            "be this firmware's. Write it again (firmware.write(path, overwrite=True)), or compile the edited "
            "project on purpose with fpga_aware.sim.csim.compile_project(path)"
        )


# ------------------------------------------------------------------------------ output folder
def _check_output(path: Path, overwrite: bool) -> str:
    """'missing', 'empty' or 'project' (to be replaced); raises for everything else."""
    if path.is_symlink() and not path.exists():
        raise OutputDirectoryError(f"output path {path} is a broken symbolic link; not writing there")
    if not path.exists():
        return "missing"
    if not path.is_dir():
        raise OutputDirectoryError(f"output path {path} is a file, not a folder; not writing there")
    if not any(path.iterdir()):
        return "empty"
    if not is_project(path):
        raise OutputDirectoryError(
            f"output folder {path} already exists, is not empty and is not an fpga_aware project "
            f"(no valid {MANIFEST_NAME}); refusing to write into it, even with overwrite=True. "
            "Choose a new or empty folder."
        )
    if not overwrite:
        raise ProjectExistsError(
            f"output folder {path} already holds an fpga_aware project; pass overwrite=True to replace it"
        )
    return "project"


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _tb_data(x: np.ndarray, n_inputs: int) -> str:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[1] != n_inputs:
        raise ProjectDefinitionError(f"tb_inputs has {arr.shape[1]} values per sample, the model takes {n_inputs}")
    if not np.all(np.isfinite(arr)):
        raise ProjectDefinitionError("tb_inputs contains NaN or infinity")
    return "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in arr)


# ------------------------------------------------------------------------------ templates
def template_environment():
    return jinja2.Environment(
        loader=_ResourceLoader(template_root()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


class _ResourceLoader(jinja2.BaseLoader):
    """Reads the shipped templates through :mod:`importlib.resources` (checkout, editable or wheel)."""

    def __init__(self, root):
        self.root = root

    def get_source(self, environment, template):
        node = self.root
        for part in template.split("/"):
            node = node / part
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), str(node), lambda: True


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("fpga_aware")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


# ------------------------------------------------------------------------------ contexts
@dataclass
class _Names:
    """Every C++ identifier the project defines, to reject collisions between layers."""

    taken: dict[str, str]

    def add(self, name: str, owner: str) -> str:
        if name in self.taken and self.taken[name] != owner:
            raise ProjectDefinitionError(
                f"C++ name {name!r} of {owner} collides with one of {self.taken[name]}; rename a layer"
            )
        self.taken[name] = owner
        return name


def _project_context(ir: ModelIR, config: FirmwareConfig) -> dict[str, Any]:
    project = config.project_name
    if not isinstance(project, str) or not _IDENTIFIER.match(project):
        raise ProjectDefinitionError(f"project_name {project!r} is not a C identifier")
    part = str(config.part).strip()
    if not _PART.match(part):
        raise ProjectDefinitionError(
            f"part {config.part!r} is not a valid FPGA part name (letters, digits, '_', '.', '-')"
        )
    clock = float(config.clock_period)
    if not (math.isfinite(clock) and clock > 0):
        raise ProjectDefinitionError(f"clock_period {config.clock_period!r} must be a positive number of ns")
    if not ir.layers or not isinstance(ir.layers[0], InputLayer):
        raise ProjectDefinitionError("the IR must start with an InputLayer")
    if any(isinstance(layer, InputLayer) for layer in ir.layers[1:]):
        raise ProjectDefinitionError("the IR has more than one InputLayer")

    names = _Names({})
    reserved = ["N_INPUT", "N_OUTPUT", "input_t", "result_t", "x", "y", "fa", project, f"{project}_n_inputs",
                f"{project}_n_outputs", f"{project}_predict_batch"]
    for name in reserved:
        names.add(name, "the project")

    io_stream = IOType(config.io_type) == IOType.STREAM
    plan = None
    if io_stream:
        try:
            plan = stream_plan(ir)
        except UnsupportedStreamError as exc:
            raise ProjectDefinitionError(str(exc)) from None

    first = ir.layers[0]
    _check_cname(first)
    if first.n_out != first.n_in or first.n_out < 1:
        raise ProjectDefinitionError(f"input layer {first.name!r}: n_in {first.n_in} != n_out {first.n_out}")
    layers = []
    previous: Layer = first
    x_var = "x"
    body = ir.layers[1:]
    for index, layer in enumerate(body, start=1):
        _check_cname(layer)
        if layer.n_in != previous.n_out:
            raise ProjectDefinitionError(
                f"layer {layer.name!r} takes {layer.n_in} inputs but {previous.name!r} gives {previous.n_out}"
            )
        if layer.input_type != previous.result_type:
            raise ProjectDefinitionError(
                f"layer {layer.name!r}: input type {layer.input_type.cpp()} differs from the result type "
                f"{previous.result_type.cpp()} of {previous.name!r}"
            )
        is_last = index == len(body)
        ctx = layer_context(layer, index, names)
        ctx["x"] = x_var
        ctx["y"] = "y" if is_last else names.add(f"{layer.cname}_out", f"layer {layer.name!r}")
        ctx["declare_output"] = not is_last
        if plan is not None:
            _stream_context(ctx, plan, index - 1, names, layer, is_last)
        layers.append(ctx)
        previous = layer
        x_var = ctx["y"]

    # A lane kernel's cycle loop must stay a loop (a PIPELINE above it would unroll it):
    # layers with shared multipliers run under DATAFLOW, as hls4ml does for them.
    if any(not layer.fully_parallel and layer.nonzero_weights for layer in ir.dense_products()):
        top_schedule = "DATAFLOW"
    else:
        top_schedule = "PIPELINE II=1"

    max_partition = _largest_partitioned_array(ir)
    return {
        "version": package_version(),
        "project": project,
        "guard": project.upper(),
        "part": part,
        "clock_period": repr(clock),
        "n_inputs": ir.n_inputs,
        "n_outputs": ir.n_outputs,
        "input_type": ir.input_type.cpp(),
        "output_type": ir.output_type.cpp(),
        "layers": layers,
        "top_schedule": top_schedule,
        "io_stream": io_stream,
        "io_type": IOType(config.io_type).value,
        "stream": _stream_summary(plan) if plan is not None else None,
        "cxxflags": " ".join(CXXFLAGS),
        "hls_cflags": HLS_CFLAGS,
        "clock_uncertainty": clock_uncertainty_tcl(),
        "max_partition": max_partition,
        "array_partition_max": max(ARRAY_PARTITION_MIN_SIZE, max_partition),
        "distributed_arithmetic": any(ctx.get("graph") for ctx in layers),
        "wide_storage": any(ctype.startswith("fa::wide_bits") for ctx in layers for _, ctype, _ in ctx["storage"]),
        "ap_int_max_w": AP_LARGEST_MAX_W if max((w for ctx in layers for w in ctx.widths), default=0) > AP_DEFAULT_MAX_W else None,
    }


def _stream_context(ctx, plan, position: int, names: _Names, layer: Layer, is_last: bool) -> None:
    """io_stream: the layer's tokens, process kind, FIFO depth and (window layers) line buffer and
    ``ready`` table (:mod:`fpga_aware.core.streams`)."""
    stage = plan.stages[position]
    owner = f"layer {layer.name!r}"
    c = layer.cname
    ctx.update(
        mode=stage.mode, in_tokens=stage.in_tokens, in_width=stage.in_width, out_tokens=stage.out_tokens,
        out_width=stage.out_width, buffer_depth=stage.buffer_depth, fifo_depth=stage.fifo_depth,
        stream_function=names.add(f"{c}_stream", owner),
        in_token_t="input_token_t" if position == 0 else f"{plan.stages[position - 1].cname}_token_t",
        out_token_t="result_token_t" if is_last else names.add(f"{c}_token_t", owner),
        pixel_config=names.add(f"{c}_pixel_config", owner) if stage.mode == "pixel" else None,
    )
    stage.cname = c
    if stage.mode == "window":
        ctx.update(window=_window_constants(layer))
        # the window's cells are computed from the geometry (fa_stream.h: window_position), so the
        # per-pixel index table of io_parallel (n_pixels x cells entries) is not stored
        table = f"{c}_patch" if layer.kind == "conv" else f"{c}_windows"
        ctx["arrays"] = [a for a in ctx["arrays"] if a["name"] != table]
        ctx.add_storage("ready_index_t", index_storage(stage.in_tokens))
        ctx.add_array(int_array(f"{c}_ready", f"{c}_ready_index_t", stage.ready,
                                f"{len(stage.ready)} output pixels: the input pixels read before each is computed "
                                f"(line buffer of {stage.buffer_depth} pixels)"))
        ctx["summary"] = ctx["summary"] + [
            f"io_stream: line buffer of {stage.buffer_depth} input pixels x {stage.in_width} values; "
            f"FIFO to the next layer {stage.fifo_depth} tokens deep."]
    ctx.manifest["stream"] = stage.summary()


def _window_constants(layer: Layer) -> dict[str, int]:
    """The window geometry as the constants of ``fa::window_position`` (a 1-D window: one row),
    checked against the positions the IR stores."""
    g = layer.geometry
    positions = window_positions(g)
    if layer.kind == "conv":
        channels = int(layer.in_shape[-1])
        stored = np.where(layer.patch[:, ::channels] < layer.n_in, layer.patch[:, ::channels] // channels, -1)
    else:
        stored = np.asarray(layer.windows)
    if not np.array_equal(positions, stored):
        raise ProjectDefinitionError(f"layer {layer.name!r}: its window table does not follow its geometry")

    def rows_cols(values, one_row: int) -> tuple[int, int]:  # a 1-D window: one row
        return (int(values[0]), int(values[1])) if len(values) == 2 else (one_row, int(values[0]))

    (in_h, in_w), (k_h, k_w) = rows_cols(g.in_spatial, 1), rows_cols(g.kernel, 1)
    (s_h, s_w), (d_h, d_w), (p_top, p_left) = rows_cols(g.strides, 1), rows_cols(g.dilation, 1), rows_cols(g.pad_before, 0)
    return {"in_height": in_h, "in_width": in_w, "out_width": int(g.out_spatial[-1]), "kernel_height": k_h,
            "kernel_width": k_w, "stride_height": s_h, "stride_width": s_w, "dilation_height": d_h,
            "dilation_width": d_w, "pad_top": p_top, "pad_left": p_left, "n_cells": g.n_taps}


def _stream_summary(plan) -> dict[str, Any]:
    last = plan.stages[-1] if plan.stages else None
    return {**plan.summary(), "output_tokens": last.out_tokens if last else plan.input_tokens,
            "output_width": last.out_width if last else plan.input_width,
            "input_fifo_depth": getattr(plan, "input_fifo_depth", 1)}


def _largest_partitioned_array(ir: ModelIR) -> int:
    """Elements of the largest array the firmware partitions completely: layer inputs and
    outputs, per-channel parameters, and the terms of a Latency-strategy dense layer (its
    weights and index arrays are registers)."""
    sizes = [max(layer.n_in, layer.n_out) for layer in ir.layers]
    for layer in ir.dense_products():
        sched = layer.schedule
        if layer.distributed_arithmetic:
            continue  # no weight arrays: the adder graph
        if layer.fully_parallel:
            sizes.append(layer.nonzero_weights)  # weights and index arrays
        else:  # registers, lanes, and the weights of the Latency strategy's constants
            sizes += [sched.n_registers, sched.n_lanes]
            if layer.strategy == Strategy.LATENCY:
                sizes.append(sched.n_slots)
    return max(sizes, default=1)


def _check_cname(layer: Layer) -> None:
    if not isinstance(layer.cname, str) or not _IDENTIFIER.match(layer.cname):
        raise ProjectDefinitionError(f"layer {layer.name!r}: cname {layer.cname!r} is not a C++ identifier")
    if layer.n_in < 1 or layer.n_out < 1:
        raise ProjectDefinitionError(f"layer {layer.name!r}: sizes {layer.n_in} -> {layer.n_out} must be positive")


def _manifest(ir: ModelIR, config: FirmwareConfig, context: dict[str, Any], files: list[str]) -> dict[str, Any]:
    layers = []
    arrays = {ctx["cname"]: ctx["arrays"] for ctx in context["layers"]}
    manifests = {ctx["cname"]: ctx.manifest for ctx in context["layers"]}
    for layer in ir.layers:
        entry: dict[str, Any] = {
            "name": layer.name,
            "cname": layer.cname,
            "kind": layer.kind,
            "n_in": layer.n_in,
            "n_out": layer.n_out,
            "input_type": layer.input_type.cpp(),
            "result_type": layer.result_type.cpp(),
        }
        if arrays.get(layer.cname):
            entry["weights_header"] = f"firmware/weights/{layer.cname}.h"
            entry["stored_entries"] = sum(item["size"] for item in arrays[layer.cname])
        entry.update(manifests.get(layer.cname, {}))
        layers.append(entry)
    return {
        "generator": MANIFEST_GENERATOR,
        "format": MANIFEST_FORMAT,
        "fpga_aware_version": context["version"],
        "project_name": context["project"],
        "part": context["part"],
        "clock_period": float(config.clock_period),
        "io_type": context["io_type"],
        **({"stream": context["stream"]} if context["stream"] else {}),
        "n_inputs": context["n_inputs"],
        "n_outputs": context["n_outputs"],
        "input_type": context["input_type"],
        "output_type": context["output_type"],
        "top_function": context["project"],
        "bridge_function": f"{context['project']}_predict_batch",
        "layers": layers,
        "files": files + [MANIFEST_NAME],
    }
