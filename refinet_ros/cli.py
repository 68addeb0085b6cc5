"""The ``refinet`` command line: one entry point, one subcommand per capability."""
from __future__ import annotations

import argparse
import sys

from .commands import anthropometry, bag, bench, demo, detect, eval_cmd, generate, train


class DefaultsInHelp(argparse.HelpFormatter):
    """Ends each option's help with its default value, unless the help states the default itself (in
    words, where the value alone would not say it) or there is none: flags, required options, and
    options that do nothing unless given say so in their help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or not action.option_strings or action.required or default is None
                or default is False or default is argparse.SUPPRESS or default == []):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """The ``refinet`` parser; every sub-command parser is one too, so all of their help shows defaults."""

    def __init__(self, *args, formatter_class: type[argparse.HelpFormatter] = DefaultsInHelp, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="refinet", description="RefiNet 3D human-pose refinement from depth.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generate.add_parser(sub)
    eval_cmd.add_parsers(sub)
    train.add_parser(sub)
    detect.add_parser(sub)
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
