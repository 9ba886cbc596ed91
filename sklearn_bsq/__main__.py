"""Command line: ``sklearn-bsq`` (or ``python -m sklearn_bsq``).

``demo`` evaluates bits per feature on a dataset; ``fit``, ``transform``,
``predict``, ``export``, ``distill`` and ``info`` work on CSV/Parquet files and
model files.
"""

from __future__ import annotations

import argparse
import sys

from ._version import __version__
from ._widths import MAX_BITS

EXAMPLES = """examples:
  sklearn-bsq fit sensors.csv --target label --bits 4 -o model.bsq.npz
  sklearn-bsq transform model.bsq.npz readings.csv -o packets.bin
  sklearn-bsq predict model.bsq.npz --packed packets.bin -o predictions.csv
  sklearn-bsq transform model.bsq.npz readings.csv --coding entropy -o messages.bin
  sklearn-bsq predict model.bsq.npz --packed messages.bin --coding entropy -o p.csv
  sklearn-bsq export model.bsq.npz --lang c -o bsq.h
  sklearn-bsq export model.bsq.npz --lang onnx -o model.onnx
  sklearn-bsq distill model.bsq.npz train.csv -o server.bsq.npz
  sklearn-bsq info model.bsq.npz
"""


def _width(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_BITS:
        raise argparse.ArgumentTypeError(f"bits must be 1..{MAX_BITS}, got {value}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed is in 0..2**32 - 1, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {value}")
    return value


def _folds(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"cross-validation needs at least 2 folds, got {value}"
        )
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"holdout must be in [0, 1), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sklearn-bsq",
        description="Trainable bitwise soft quantization.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="score versus bits per feature, next to full precision"
    )
    demo.add_argument(
        "--dataset",
        default="breast_cancer",
        help="breast_cancer (default), digits, wine, iris, diabetes, or a CSV path "
        "whose last column is the target",
    )
    demo.add_argument(
        "--bits",
        type=_width,
        nargs="+",
        default=[1, 2, 4, 8],
        help=f"bits per feature, each 1..{MAX_BITS} (default: 1 2 4 8)",
    )
    demo.add_argument(
        "--folds", type=_folds, default=5, help="cross-validation folds (default 5)"
    )
    demo.add_argument("--seed", type=_seed, default=0)
    demo.add_argument(
        "--task", choices=["auto", "classification", "regression"], default="auto"
    )

    fit = commands.add_parser("fit", help="fit a model on a table and save it")
    fit.add_argument("data", help="a .csv, .csv.gz or .parquet table")
    fit.add_argument("--target", required=True, help="the column to predict")
    width = fit.add_mutually_exclusive_group()
    width.add_argument(
        "--bits",
        type=_width,
        default=4,
        help="bits per feature; up to 4 on 500 rows or more, on average over "
        "learned widths (--param allocation=uniform: every feature)",
    )
    width.add_argument(
        "--bit-budget", type=int, help="learn the widths under this many bits per row"
    )
    fit.add_argument(
        "--task", choices=["auto", "classification", "regression"], default="auto"
    )
    fit.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any estimator parameter, e.g. --param max_epochs=60 "
        "--param hidden_layer_sizes=[128,128]",
    )
    fit.add_argument(
        "--holdout",
        type=_fraction,
        default=0.2,
        help="share of rows held out for the reported score, not trained on "
        "(default 0.2; 0 trains on all rows)",
    )
    fit.add_argument(
        "--sample-weight",
        metavar="COLUMN",
        help="a column of non-negative row weights (not a feature)",
    )
    fit.add_argument(
        "--seed", type=_seed, default=0, help="seed of the split and the training"
    )
    fit.add_argument("-o", "--output", required=True, help="model file to write")

    transform = commands.add_parser("transform", help="the bytes nodes would send")
    transform.add_argument("model")
    transform.add_argument("data")
    transform.add_argument("--format", choices=["raw", "hex", "npy"], default="raw")
    transform.add_argument(
        "--coding",
        choices=["fixed", "entropy"],
        default="fixed",
        help="fixed: wire format v1 rows; entropy: format v2 messages (range-coded, "
        "variable length: raw puts each behind its length in 2 bytes, big-endian, "
        "hex writes one a line; no npy)",
    )
    transform.add_argument("-o", "--output", required=True)

    predict = commands.add_parser("predict", help="predict from a table or bytes")
    predict.add_argument("model")
    predict.add_argument("data", nargs="?", help="a table of readings")
    predict.add_argument(
        "--packed", help="bytes from transform (raw, .hex or .npy) instead of a table"
    )
    predict.add_argument(
        "--packed-format",
        choices=["auto", "raw", "hex", "npy"],
        default="auto",
        help="the format of --packed (auto: by its name, .npy, .hex or .txt, else "
        "raw; a file whose content is of another format is refused)",
    )
    predict.add_argument(
        "--coding",
        choices=["fixed", "entropy"],
        default="fixed",
        help="what --packed holds: v1 rows (fixed) or format v2 messages (entropy), "
        "as transform --coding wrote them",
    )
    predict.add_argument("-o", "--output", required=True, help="CSV to write")

    export = commands.add_parser(
        "export", help="write the node's encoder, or the model for an ONNX server"
    )
    export.add_argument("model")
    export.add_argument(
        "--lang",
        choices=["c", "python", "onnx"],
        required=True,
        help="c or python: the node's encoder; onnx: the whole model for a server",
    )
    export.add_argument("--name", default="bsq", help="C prefix (default bsq)")
    export.add_argument(
        "--input",
        choices=["packed", "codes", "readings"],
        default="packed",
        help="what the ONNX model takes (default packed: the node's bytes)",
    )
    export.add_argument("-o", "--output", required=True)

    distill = commands.add_parser(
        "distill",
        help="retrain a model's network with fewer heads on its own predictions, "
        "for a faster server (the same codec: nodes send the same bytes)",
    )
    distill.add_argument("model")
    distill.add_argument("data", help="a table of readings, the training rows")
    distill.add_argument(
        "--heads", type=_positive, default=1, help="heads of the new network"
    )
    distill.add_argument(
        "--max-epochs",
        type=_positive,
        default="auto",
        help="passes over the rows (default auto: three times a fit's)",
    )
    distill.add_argument("--seed", type=_seed, default=0, help="seed of the training")
    distill.add_argument("-o", "--output", required=True, help="model file to write")

    info = commands.add_parser("info", help="widths, sizes, thresholds, model id")
    info.add_argument("model")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # imported here: `--help` stays fast (no torch import)
    if args.command != "demo":
        from ._cli import run

        return run(args)
    from ._demo import main_demo

    try:
        return main_demo(args)
    except (FileNotFoundError, ValueError) as exc:  # a usage error: one line
        print(f"sklearn-bsq: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
