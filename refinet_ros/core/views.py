"""The two camera views of ITOP: side (frontal, chest height) and top (ceiling, looking down).

They see bodies so differently (the legs hidden from above) that weights, synthetic data and
benchmarks are all per view; this is the one list of them.
"""
from __future__ import annotations

VIEWS = ("side", "top")


def check_view(view: str) -> str:
    """`view` itself when it is one of :data:`VIEWS`, else a ValueError naming the choices."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected {' or '.join(VIEWS)}")
    return view
