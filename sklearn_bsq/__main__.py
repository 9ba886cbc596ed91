"""Command line: ``python -m sklearn_bsq demo`` (also ``sklearn-bsq demo``)."""

from __future__ import annotations

import argparse
import sys


def _width(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"bits must be 1..16, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sklearn-bsq", description="Trainable bitwise soft quantization."
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
        help="bits per feature, each 1..16 (default: 1 2 4 8)",
    )
    demo.add_argument("--folds", type=int, default=5)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--task", choices=["auto", "classification", "regression"], default="auto"
    )
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .demo import main_demo  # keeps `--help` fast: no torch import

    try:
        return main_demo(args)
    except (FileNotFoundError, ValueError) as exc:  # a usage error: one line
        print(f"sklearn-bsq: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
