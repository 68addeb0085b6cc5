"""Flags that several subcommands take, defined once so that their meaning and help never drift apart."""
from __future__ import annotations

import argparse
from pathlib import Path

#: The node's stages (``stages`` in config/refinet.yaml): what every tool refines with unless told otherwise.
DEFAULT_STAGES = "A,B,C"


def add_int8_flag(p: argparse.ArgumentParser) -> None:
    """``--int8`` (eval, bag refine, bench ablation, bench models, bench soak)."""
    p.add_argument("--int8", action="store_true",
                   help="run the networks' Linear layers in int8 on the CPU (B 2-4x faster; A+B+C loses up to 3 "
                        "points of mAP)")


def add_stages_flag(p: argparse.ArgumentParser, what: str = "refinement stages") -> None:
    """``--stages`` (eval, bag refine, demo, bench node, bench soak, anthropometry), defaulting to the node's."""
    p.add_argument("--stages", default=DEFAULT_STAGES,
                   help=f"{what}: a subset of A,B,C, or 'none' for the baseline lifting (default: %(default)s, "
                        "the node's)")


def add_weights_flag(p: argparse.ArgumentParser) -> None:
    """``--weights DIR`` (eval, bag refine, bench ablation, bench detectors): a folder of
    ``{view}_{A,B,C}.pt`` such as `refinet train --out` writes; the node's ``weights_dir``."""
    p.add_argument("--weights", type=Path, help="folder of {view}_{A,B,C}.pt, e.g. what `refinet train --out` "
                                                "wrote (default: the shipped weights)")
