"""The ``fpga-aware`` command line: export, estimate and demo.

Errors are reported as one readable line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

__all__ = ["main"]


def _firmware_options(args) -> dict:
    options = {"precision": args.precision, "reuse_factor": args.reuse_factor, "strategy": args.strategy,
               "clock_period": args.clock_period, "project_name": args.project_name}
    if args.config:
        path = Path(args.config)
        if not path.exists():
            raise FileNotFoundError(f"config file {args.config!r} does not exist")
        text = path.read_text()
        if path.suffix in (".yml", ".yaml"):
            import yaml

            layer_config = yaml.safe_load(text)
        else:
            layer_config = json.loads(text)
        options["layer_config"] = layer_config.get("layer_config", layer_config) if isinstance(layer_config, dict) else layer_config
    return options


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model file: .h5, .keras, a SavedModel folder, or model.json (with --weights)")
    parser.add_argument("--weights", help="weights .h5 for a model.json architecture")
    parser.add_argument("--part", default="xcu250-figd2104-2L-e", help="FPGA part (default: %(default)s)")
    parser.add_argument("--precision", default="ap_fixed<16,6>", help="default fixed-point type (default: %(default)s)")
    parser.add_argument("--reuse-factor", type=int, default=1, help="default reuse factor (default: 1)")
    parser.add_argument("--strategy", default="latency", help="latency or resource (default: latency)")
    parser.add_argument("--clock-period", type=float, default=5.0, help="clock period in ns (default: 5)")
    parser.add_argument("--project-name", default="myproject", help="HLS project/top function name")
    parser.add_argument("--config", help="per-layer options as YAML or JSON: {layer: {precision:, reuse_factor:, strategy:}}")


def _cmd_export(args) -> int:
    from .firmware import to_firmware
    from .model_io import load_model

    firmware = to_firmware(load_model(args.model, args.weights), args.part, **_firmware_options(args))
    path = firmware.write(args.out, overwrite=args.overwrite)
    print(f"wrote {firmware.ir.project_name} for {args.part} to {path}")
    if args.verify:
        import numpy as np

        x = np.random.default_rng(0).standard_normal((args.verify, firmware.ir.n_inputs))
        mismatches = int(np.count_nonzero(np.any(firmware.predict(x) != firmware.predict(x, engine="csim"), axis=1)))
        print(f"emulator vs C simulation: {mismatches} mismatching samples of {args.verify}")
        return 0 if mismatches == 0 else 1
    return 0


def _cmd_estimate(args) -> int:
    from .firmware import estimate
    from .model_io import load_model

    report = estimate(load_model(args.model, args.weights), args.part, **_firmware_options(args))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    result = run_demo(args.out, epochs=args.epochs, prune_epochs=args.prune_epochs, finetune_epochs=args.finetune_epochs)
    print((Path(args.out) / "summary.md").read_text())
    return 0 if result.emulator_csim_mismatches == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fpga-aware", description="FPGA-aware training and firmware export")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)

    export = sub.add_parser("export", help="write the HLS project of a model")
    _add_model_arguments(export)
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--overwrite", action="store_true", help="replace an existing fpga_aware project there")
    export.add_argument("--verify", type=int, default=0, metavar="N",
                        help="also compile and check emulator = C simulation on N random inputs")
    export.set_defaults(func=_cmd_export)

    est = sub.add_parser("estimate", help="print the estimated FPGA cost table")
    _add_model_arguments(est)
    est.add_argument("--json", action="store_true", help="print the report as JSON")
    est.set_defaults(func=_cmd_estimate)

    demo = sub.add_parser("demo", help="train on bundled digits, export and verify (offline)")
    demo.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    demo.add_argument("--epochs", type=int, default=20, help="float training epochs")
    demo.add_argument("--prune-epochs", type=int, default=15, help="pruning epochs")
    demo.add_argument("--finetune-epochs", type=int, default=10, help="quantization-aware fine-tuning epochs")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.command == "demo" else logging.WARNING,
                        format="%(message)s")
    try:
        import fpga_aware  # noqa: F401  (tf-keras before TensorFlow)

        return args.func(args)
    except (ValueError, OSError, KeyError, RuntimeError) as err:
        print(f"fpga-aware {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
