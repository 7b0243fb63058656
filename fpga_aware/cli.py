"""The ``fpga-aware`` command line (also ``python -m fpga_aware``).

Commands::

    fpga-aware export   MODEL --out DIR [--verify N]   write the HLS project (and check emulator == csim)
    fpga-aware estimate MODEL [--json] [--tool T]      print the estimated FPGA cost table
    fpga-aware report   DIR [--json] [--compare MODEL] print a synthesis report (beside our estimate)
    fpga-aware build    DIR [--csim --no-synth --cosim --export --tool T]   run Vitis/Vivado HLS
    fpga-aware run      RECIPE [--epochs N --out DIR --overwrite]  run a recipe (--list shows them)
    fpga-aware profile  MODEL [--data ...] [--out fig.png]   weights/activations vs their fixed-point types
    fpga-aware demo     [--out DIR] [--cnn]            the offline three-phase digits demo (+ a CNN step)

MODEL is a ``.h5``/``.keras`` file, a SavedModel folder, or ``model.json --weights weights.h5``;
QKeras layers load without extra flags.  Every command has ``--help``.  Errors (a missing file,
a bad precision, an unknown part, an unsupported layer, a failed HLS run...) are printed as one
line on stderr, ``fpga-aware <command>: error: ...``, with exit status 2 (1 when a check that
ran finds a difference, e.g. emulator vs C simulation).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from fpga_aware.core.parts import DEFAULT_PART, YOSYS_FAMILIES
from fpga_aware.cost.tools import DEFAULT_TOOL, ESTIMATE_TOOLS

__all__ = ["main", "build_parser"]

#: Longest error message printed (the rest is cut with "...").
MAX_ERROR_CHARS = 600


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``prog: error: message (see prog --help)``."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ============================================================================ shared options
def _firmware_options(args) -> dict:
    options = {"precision": args.precision, "reuse_factor": args.reuse_factor, "strategy": args.strategy,
               "clock_period": args.clock_period, "project_name": args.project_name}
    if args.config:
        path = Path(args.config)
        if not path.exists():
            raise FileNotFoundError(f"config file {args.config!r} does not exist")
        text = path.read_text()
        try:
            if path.suffix in (".yml", ".yaml"):
                import yaml

                layer_config = yaml.safe_load(text)
            else:
                layer_config = json.loads(text)
        except Exception as err:  # noqa: BLE001 - yaml/json syntax errors
            raise ValueError(f"config file {args.config!r} cannot be parsed: {' '.join(str(err).split())}") from None
        options["layer_config"] = layer_config.get("layer_config", layer_config) if isinstance(layer_config, dict) else layer_config
    return options


def _add_firmware_arguments(parser: argparse.ArgumentParser, *, part_default: str | None = DEFAULT_PART,
                            clock_default: float | None = 5.0) -> None:
    part_help = f"FPGA part (default: {part_default})" if part_default else "FPGA part (default: the report's part)"
    parser.add_argument("--part", default=part_default, help=part_help)
    parser.add_argument("--precision", default="ap_fixed<16,6>", help="default fixed-point type (default: %(default)s)")
    parser.add_argument("--reuse-factor", type=int, default=1, help="default reuse factor (default: 1)")
    parser.add_argument("--strategy", default="latency", help="latency, resource or distributed_arithmetic (da4ml's multiplier-free adder graph, "
                        "reuse factor 1; pip install 'fpga_aware[da]') (default: latency)")
    clock_help = "clock period in ns (default: %(default)s)" if clock_default else "clock period in ns (default: the report's target clock)"
    parser.add_argument("--clock-period", type=float, default=clock_default, help=clock_help)
    parser.add_argument("--project-name", default="myproject", help="HLS project/top function name")
    parser.add_argument("--config", help="per-layer options as YAML or JSON: {layer: {precision:, reuse_factor:, strategy:}}")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file: .h5, .keras, a SavedModel folder, or model.json (with --weights)")
    parser.add_argument("--weights", help="weights .h5 for a model.json architecture")
    _add_firmware_arguments(parser)


# ============================================================================ commands
def _cmd_export(args) -> int:
    from fpga_aware.firmware import to_firmware
    from fpga_aware.frontend.model_io import load_model

    if args.backend != "verilog" and (args.multiplier or args.pipeline):
        raise ValueError("--multiplier and --pipeline apply to --backend verilog")
    firmware = to_firmware(load_model(args.model, args.weights), args.part, **_firmware_options(args))
    if args.backend == "verilog":
        from fpga_aware.rtl.layers import RTLOptions

        rtl = RTLOptions(multiplier=args.multiplier or "dsp", pipeline=args.pipeline or "clock")
        path = firmware.write_verilog(args.out, overwrite=args.overwrite, options=rtl)
        print(f"wrote the Verilog project {firmware.ir.project_name} for {args.part} to {path}")
        engine, other = "rtl", "RTL simulation (Verilator)"
    else:
        path = firmware.write(args.out, overwrite=args.overwrite)
        print(f"wrote {firmware.ir.project_name} for {args.part} to {path}")
        engine, other = "csim", "C simulation"
    if args.verify:
        import numpy as np

        x = np.random.default_rng(0).standard_normal((args.verify, firmware.ir.n_inputs))
        mismatches = int(np.count_nonzero(np.any(firmware.predict(x) != firmware.predict(x, engine=engine), axis=1)))
        print(f"emulator vs {other}: {mismatches} mismatching samples of {args.verify}")
        return 0 if mismatches == 0 else 1
    return 0


def _cmd_estimate(args) -> int:
    from fpga_aware.firmware import estimate
    from fpga_aware.frontend.model_io import load_model

    report = estimate(load_model(args.model, args.weights), args.part, tool=args.tool, **_firmware_options(args))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0


def _cmd_report(args) -> int:
    from fpga_aware.hls.reports import compare, read_report

    report = read_report(args.dir, vivado_report=args.vivado_report)
    comparison = None
    if args.compare:
        from fpga_aware.firmware import estimate
        from fpga_aware.frontend.model_io import load_model
        from fpga_aware.core.parts import UnknownPartError, get_part

        part = args.part or report.part
        if not part:
            raise ValueError(f"the report {report.source.name} names no part: pass --part")
        if args.part is None:
            try:
                get_part(part)
            except UnknownPartError:
                raise ValueError(f"the report's part {part!r} is not in the parts catalogue: pass --part") from None
        options = _firmware_options(args)
        if options["clock_period"] is None:
            options["clock_period"] = report.target_clock_ns or 5.0
        comparison = compare(estimate(load_model(args.compare, args.weights), part, **options), report)
    elif args.weights:
        raise ValueError("--weights is only used with --compare MODEL")
    if args.json:
        data = report.to_dict()
        print(json.dumps({"report": data, "comparison": comparison.to_dict()} if comparison else data,
                         indent=2, default=str))
    else:
        print(report)
        if comparison is not None:
            print()
            print(comparison)
    return 0


def _cmd_build(args) -> int:
    from fpga_aware.hls.synthesis import run_hls

    result = run_hls(args.dir, csim=args.csim, synth=not args.no_synth, cosim=args.cosim, export=args.export,
                     tool=args.tool, timeout=args.timeout, validation=args.validation)
    steps = [name for name, on in result.steps.items() if on and name != "reset"]
    if args.json:
        print(json.dumps({"project_dir": str(result.project_dir), "tool": str(result.tool), "steps": steps,
                          "returncode": result.returncode, "log": str(result.log_path),
                          "elapsed_s": round(result.elapsed_s, 3), "errors": result.errors,
                          "report": result.report.to_dict() if result.report else None}, indent=2, default=str))
        return 0
    print(f"{result.tool.name} ran {', '.join(steps)} in {result.project_dir} "
          f"({result.elapsed_s:.1f} s; log: {result.log_path})")
    for line in result.errors:
        print(f"warning: the log has {line}")
    if result.report is not None:
        print(result.report)
    return 0


def _cmd_run(args) -> int:
    from fpga_aware.workflows.recipes import list_recipes, load_recipe, run_recipe, summary_markdown

    if args.list:
        for path in list_recipes():
            recipe = load_recipe(path)
            print(f"{path.stem:24s} {' '.join(recipe.description.split())[:100]}")
        return 0
    if not args.recipe:
        raise ValueError("give a recipe (a YAML file or a name from `fpga-aware run --list`)")
    recipe = load_recipe(args.recipe)
    out = args.out or f"{recipe.name}_output"
    result = run_recipe(recipe, out, epochs=args.epochs, overwrite=args.overwrite)
    if args.json:
        print((Path(out) / "summary.json").read_text())
    else:
        print(summary_markdown(result))
    bad = [f.name for f in result.firmware if f.emulator_csim_mismatches]
    return 1 if bad else 0


def _profile_inputs(args, n_inputs: int):
    import numpy as np

    source = args.data
    if source == "random":
        return np.random.default_rng(args.seed).standard_normal((args.samples, n_inputs)), f"{args.samples} N(0,1) samples"
    if source.endswith(".npy"):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"input file {source!r} does not exist")
        x = np.load(path)
        return x[: args.samples], f"{min(len(x), args.samples)} samples of {path.name}"
    from fpga_aware.workflows.recipes import DATA_SOURCES, load_data

    if source not in DATA_SOURCES:
        raise ValueError(f"--data {source!r} is not 'random', a .npy file, or one of {list(DATA_SOURCES)}")
    data = load_data(source)
    return data.x_test[: args.samples], f"{min(len(data.x_test), args.samples)} {source} test samples"


def _cmd_profile(args) -> int:
    from fpga_aware.firmware import to_firmware
    from fpga_aware.frontend.model_io import load_model
    from fpga_aware.workflows.profiling import profile

    if args.out and Path(args.out).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--out {args.out!r}: the figure must be a .png, .pdf or .svg file")
    model = load_model(args.model, args.weights)
    firmware = to_firmware(model, args.part, **_firmware_options(args))
    x, what = _profile_inputs(args, firmware.ir.n_inputs)
    result = profile(model, x, firmware)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(f"profile on {what}")
        print(result)
    if args.out:
        fig = result.figure(args.which)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=100)
        if not args.json:
            print(f"wrote {args.out}")
    return 0


def _cmd_demo(args) -> int:
    from fpga_aware.workflows.demo import run_demo

    result = run_demo(args.out, epochs=args.epochs, prune_epochs=args.prune_epochs, finetune_epochs=args.finetune_epochs,
                      cnn_epochs=args.cnn_epochs if args.cnn else None)
    print((Path(args.out) / "summary.md").read_text())
    cnn_ok = result.cnn is None or result.cnn["emulator_csim_mismatches"] == 0
    return 0 if result.emulator_csim_mismatches == 0 and cnn_ok else 1


def _cmd_synth(args) -> int:
    import json

    from fpga_aware.rtl.yosys import synthesize

    report = synthesize(args.project, timeout=args.timeout, family=args.family)
    print(json.dumps(report.to_dict(), indent=2) if args.json else str(report))
    return 0


def _cmd_conformance(args) -> int:
    from fpga_aware.conformance import missing_entries, stale_entries
    from fpga_aware.core.ir import LAYER_KINDS

    found = missing_entries() + [f"stale entry {s}" for s in stale_entries()]
    print("\n".join(found) if found else f"every stage has every kind: {', '.join(LAYER_KINDS)}")
    return 1 if found else 0


# ============================================================================ parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _add_verbosity(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log progress and show TensorFlow's start-up messages")
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="log only warnings (no progress lines)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fpga-aware", description="FPGA-aware training and firmware export",
                     epilog="Run `fpga-aware COMMAND --help` for the options of a command.")
    _add_verbosity(parser, default=False)
    common = _Parser(add_help=False)  # -v/-q also after the command; SUPPRESS keeps a value given before it
    _add_verbosity(common, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    export = sub.add_parser("export", parents=[common], help="write the HLS project of a model",
                            description="Convert a model and write its HLS project.")
    _add_model_arguments(export)
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--overwrite", action="store_true", help="replace an existing fpga_aware project there")
    export.add_argument("--verify", type=_positive_int, default=0, metavar="N",
                        help="also compile and check emulator = C simulation on N random inputs")
    export.add_argument("--backend", choices=("hls", "verilog"), default="hls",
                        help="hls: the HLS C++ project (default); verilog: the Verilog project")
    export.add_argument("--multiplier", choices=("dsp", "da"), default=None,
                        help="verilog: constant products as '*' (dsp, default) or da4ml's adder graphs (da)")
    export.add_argument("--pipeline", choices=("clock", "layer"), default=None,
                        help="verilog: registers inside layers where the clock needs them (clock, default) "
                             "or one per layer (layer)")
    export.set_defaults(func=_cmd_export)

    synth = sub.add_parser("synth", parents=[common], help="synthesize a written Verilog project with Yosys",
                           description="Run Yosys' synth_xilinx on a Verilog project (fpga-aware export --backend "
                                       "verilog) and print its LUT, FF, DSP, CARRY, MUXF and BRAM counts.")
    synth.add_argument("project", help="the Verilog project folder")
    synth.add_argument("--json", action="store_true", help="print the report as JSON")
    synth.add_argument("--timeout", type=float, default=None, help="seconds before Yosys is stopped")
    synth.add_argument("--family", choices=YOSYS_FAMILIES, default=None,
                       help="synth_xilinx -family (default: the project's part's family)")
    synth.set_defaults(func=_cmd_synth)

    est = sub.add_parser("estimate", parents=[common], help="print the estimated FPGA cost table",
                         description="Estimate DSP, LUT, FF, BRAM, latency and II of a model's firmware.")
    _add_model_arguments(est)
    est.add_argument("--json", action="store_true", help="print the report as JSON")
    est.add_argument("--tool", choices=list(ESTIMATE_TOOLS), default=DEFAULT_TOOL,
                     help="what to estimate: the HLS project in Vitis HLS (default) or Vivado HLS, or the "
                          "Verilog project in Yosys")
    est.set_defaults(func=_cmd_estimate)

    rep = sub.add_parser("report", parents=[common], help="print a synthesis report (and compare it with our estimate)",
                         description="Read the Vivado/Vitis HLS C-synthesis report of a project folder (or a "
                                     "report file) and, if present, vivado_synth.rpt.")
    rep.add_argument("dir", help="HLS project folder, <name>_prj, solution folder, report folder or report file")
    rep.add_argument("--json", action="store_true", help="print as JSON")
    rep.add_argument("--vivado-report", help="Vivado utilization report (default: vivado_synth.rpt if present)")
    rep.add_argument("--compare", metavar="MODEL",
                     help="also estimate MODEL (.h5, .keras, SavedModel, model.json with --weights) and print "
                          "estimate vs synthesis")
    rep.add_argument("--weights", help="weights .h5 for a model.json given to --compare")
    _add_firmware_arguments(rep, part_default=None, clock_default=None)
    rep.set_defaults(func=_cmd_report)

    build = sub.add_parser("build", parents=[common], help="run Vitis HLS / Vivado HLS on a written project",
                           description="Run build_prj.tcl of a project written by `export` with Vitis HLS "
                                       "(or Vivado HLS): synthesis by default; the tool's output goes to "
                                       "DIR/build.log.")
    build.add_argument("dir", help="project folder written by `fpga-aware export`")
    build.add_argument("--csim", action="store_true", help="run the HLS C simulation")
    build.add_argument("--no-synth", action="store_true", help="skip C synthesis")
    build.add_argument("--cosim", action="store_true", help="run C/RTL co-simulation (needs synthesis)")
    build.add_argument("--validation", action="store_true", help="compare the csim and cosim outputs")
    build.add_argument("--export", action="store_true", help="export the IP (needs synthesis)")
    build.add_argument("--tool", help="HLS executable: a path or a name on PATH (default: vitis_hls, else vivado_hls)")
    build.add_argument("--timeout", type=float, help="stop the tool after this many seconds")
    build.add_argument("--json", action="store_true", help="print the result as JSON")
    build.set_defaults(func=_cmd_build)

    run = sub.add_parser("run", parents=[common], help="run a recipe (the tutorial's parts: recipes/*.yaml)",
                         description="Run a recipe: train/prune/quantize, estimate, export and verify, as the "
                                     "YAML file says; writes summary.md, summary.json, model.h5 and the firmware.")
    run.add_argument("recipe", nargs="?", help="a recipe YAML file or the name of a shipped recipe (e.g. part3_pruning)")
    run.add_argument("--epochs", type=_positive_int, help="epochs of every training step (reduced runs)")
    run.add_argument("--out", help="output folder (default: <recipe name>_output)")
    run.add_argument("--overwrite", action="store_true", help="write over an earlier run in the output folder")
    run.add_argument("--json", action="store_true", help="print summary.json instead of summary.md")
    run.add_argument("--list", action="store_true", help="list the shipped recipes")
    run.set_defaults(func=_cmd_run)

    prof = sub.add_parser("profile", parents=[common], help="profile weights and activations against their fixed-point types",
                          description="Numerical profile of a model: the range of every weight, bias and "
                                      "activation, overflows and suggested integer bits; --out draws box plots.")
    _add_model_arguments(prof)
    prof.add_argument("--data", default="random",
                      help="inputs: 'random' (N(0,1), default), an .npy file, or digits/fashion_mnist/jets test data")
    prof.add_argument("--samples", type=_positive_int, default=1000, help="number of inputs (default: 1000)")
    prof.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    prof.add_argument("--out", help="write the figure (.png, .pdf or .svg)")
    prof.add_argument("--which", default="all", choices=("all", "weights", "activations"), help="panels of the figure")
    prof.add_argument("--json", action="store_true", help="print the profile as JSON")
    prof.set_defaults(func=_cmd_profile)

    demo = sub.add_parser("demo", parents=[common], help="train on bundled digits, export and verify (offline)",
                          description="The offline three-phase demo: float training, pruning, 6-bit "
                                      "quantization-aware fine-tuning; export and emulator = C simulation check.")
    demo.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    demo.add_argument("--epochs", type=_positive_int, default=20, help="float training epochs")
    demo.add_argument("--prune-epochs", type=_positive_int, default=15, help="pruning epochs")
    demo.add_argument("--finetune-epochs", type=_positive_int, default=10, help="quantization-aware fine-tuning epochs")
    demo.add_argument("--cnn", action="store_true",
                      help="also run the CNN step (recipe part5_cnn: a pruned QKeras CNN, emulator = C simulation)")
    demo.add_argument("--cnn-epochs", type=_positive_int, default=30, help="epochs of the CNN step (with --cnn)")
    demo.set_defaults(func=_cmd_demo)

    conf = sub.add_parser("conformance", parents=[common], help="list the pipeline stages a layer kind lacks",
                          description="Every layer kind needs an entry in every stage (frontend, emulator, "
                                      "cost, HLS, template): print what is missing (exit 1) or that nothing is.")
    conf.set_defaults(func=_cmd_conformance)
    return parser


#: The library's messages name Python calls and keywords; on the command line the same advice
#: names the CLI's own flags and commands.  Longest phrases first.
CLI_SPELLING = (
    ("fpga_aware.hls.synthesis.run_hls(..., synth=True)", "fpga-aware build DIR"),
    ("pass tool='/path/to/vitis_hls'", "pass --tool /path/to/vitis_hls"),
    ("firmware.write(output_dir)", "fpga-aware export MODEL --out DIR"),
    ("Firmware.write()", "fpga-aware export"),
    ("overwrite=True", "--overwrite"),
)


def _cli_spelling(text: str) -> str:
    for python, cli in CLI_SPELLING:
        text = text.replace(python, cli)
    return text


def _one_line(err: BaseException) -> str:
    from fpga_aware.hls.synthesis import SynthesisError

    text = str(err)
    if isinstance(err, SynthesisError):
        # the message ends with the log's tail; the log path says where to read it
        text = text.split("; last lines of", 1)[0].splitlines()[0]
        if err.log_path is not None and str(err.log_path) not in text:
            text += f" (log: {err.log_path})"
    elif isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    text = _cli_spelling(" ".join(text.split())) or type(err).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _needs_tensorflow(args) -> bool:
    """Whether the command loads a model or trains (``--help`` and usage errors never get here)."""
    if args.command == "run":
        return not args.list
    if args.command == "report":
        return bool(args.compare)
    return args.command in ("export", "estimate", "profile", "demo")


def _log_level(args) -> int:
    if args.verbose:
        return logging.INFO
    if args.quiet:
        return logging.WARNING
    # long-running commands show their progress unless -q
    return logging.INFO if args.command in ("demo", "run") else logging.WARNING


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2, already printed): return, not raise
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    if args.verbose and args.quiet:
        print(f"fpga-aware {args.command}: error: give -v/--verbose or -q/--quiet, not both", file=sys.stderr)
        return 2
    # fpga_aware's own progress at the chosen level; other libraries' INFO lines (QKeras logs to the
    # root logger) stay hidden unless -v
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    logging.getLogger("fpga_aware").setLevel(_log_level(args))
    try:
        import fpga_aware  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow; imports nothing heavy)
        from fpga_aware._stack import import_tensorflow_quietly, tensorflow

        if _needs_tensorflow(args):
            # TensorFlow's start-up lines (oneDNN, CUDA drivers, cuInit) only with -v
            tensorflow() if args.verbose else import_tensorflow_quietly()
        from fpga_aware.hls.reports import ReportError

        errors = (ValueError, OSError, KeyError, RuntimeError, ReportError, ImportError)
    except ImportError as err:  # the Keras stack itself is broken (e.g. Keras 3 already loaded)
        print(f"fpga-aware {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except errors as err:
        print(f"fpga-aware {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fpga-aware {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
