"""The ``refinet`` command line: one entry point, one subcommand per capability."""
from __future__ import annotations

import argparse
import sys

from .commands import anthropometry, bag, bench, demo, eval_cmd, generate, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refinet", description="RefiNet 3D human-pose refinement from depth.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generate.add_parser(sub)
    eval_cmd.add_parsers(sub)
    train.add_parser(sub)
    bench.add_parser(sub)
    bag.add_parser(sub)
    anthropometry.add_parser(sub)
    demo.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, OSError) as exc:  # format errors, missing files: one clear line, no traceback
        print(f"refinet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
