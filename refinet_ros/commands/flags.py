"""Flags that several subcommands take, defined once so that their meaning and help never drift apart."""
from __future__ import annotations

import argparse


def add_int8_flag(p: argparse.ArgumentParser) -> None:
    """``--int8`` (eval, bag refine, bench ablation, bench models, bench soak)."""
    p.add_argument("--int8", action="store_true",
                   help="run the networks' Linear layers in int8 on the CPU (B 2-4x faster; A+B+C loses up to 1.5 "
                        "points of mAP)")
