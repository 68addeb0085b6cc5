"""The ``refinet`` command line itself: what every option's help says, and the defaults others rely on."""
from __future__ import annotations

import argparse

import pytest

from refinet_ros.cli import DefaultsInHelp, build_parser
from refinet_ros.commands.flags import DEFAULT_STAGES
from refinet_ros.config_file import read_node_parameters
from refinet_ros.core.pipeline import parse_stages


def parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("refinet",)):
    """(command words, parser) of the root and of every sub-command, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def options(parser: argparse.ArgumentParser):
    """The options whose help has a default to state: not flags, not required, not hidden."""
    for a in parser._actions:
        if (a.option_strings and not a.required and a.help is not argparse.SUPPRESS
                and not isinstance(a, (argparse._HelpAction, argparse._StoreTrueAction))):
            yield a


def test_every_option_has_help_that_states_its_default():
    formatter = DefaultsInHelp("refinet")
    missing = [f"{' '.join(path)} {a.option_strings[-1]}: {a.help!r}"
               for path, parser in parsers(build_parser()) for a in options(parser)
               if not a.help or "default" not in formatter._get_help_string(a)]
    assert missing == []


def test_help_shows_default_values_and_renders_for_every_command():
    for path, parser in parsers(build_parser()):
        assert parser.format_help(), path
    models = " ".join(dict(parsers(build_parser()))[("refinet", "bench", "models")].format_help().split())
    assert "(default: 200)" in models and "(default: the shipped weights)" in models
    assert "/data/weights" not in models                     # a path of this machine is not a default to print


def test_eval_defaults_to_the_nodes_stages_and_baseline_has_none():
    parser = build_parser()
    files = ["--depth", "d.h5", "--labels", "l.h5"]
    assert parser.parse_args(["eval", *files]).stages == DEFAULT_STAGES
    assert parser.parse_args(["bag", "refine", "in", "out"]).stages == DEFAULT_STAGES
    assert not hasattr(parser.parse_args(["baseline", *files]), "stages")
    assert parse_stages(DEFAULT_STAGES) == parse_stages(read_node_parameters()["stages"]) == ("A", "B", "C")


@pytest.mark.parametrize("argv", [["generate", "--help"], ["bench", "soak", "--help"]])
def test_help_exits_cleanly(argv, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(argv)
    assert done.value.code == 0 and "default" in capsys.readouterr().out


def test_bench_models_int8_writes_its_own_file_not_the_float_one(tmp_path, monkeypatch):
    """The README's `bench models --int8 -> bench/models_int8.json`: it overwrote bench/models.json."""
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["bench", "models", "--int8", "--iterations", "2"])
    assert args.handler(args) == 0
    assert (tmp_path / "bench/models_int8.json").is_file() and not (tmp_path / "bench/models.json").exists()
