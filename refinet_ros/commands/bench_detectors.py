"""``refinet bench detectors``: the detector leave-out benchmark.

The refinement stages take the 2D keypoints of *some* detector. This scores the ablation rows
(baseline, A, B, C, A+B, A+B+C) on the fixed-seed synthetic test split once per named detector
family (:data:`~refinet_ros.core.synth.detector.EVAL_FAMILIES`) plus the ``labels`` column (the
labels' own keypoints with confidence 1, what ``refinet eval`` does without --pose2d), and checks
per (view, family):

* ``chain``: A+B+C is at least as good as the best single stage (max of A, B, C mAP);
* ``groups``: every L/R-merged joint group's A+B+C mAP is at least its baseline mAP;
* ``held_out``: whether the family was in each stage model's training input (its JSON record,
  :mod:`refinet_ros.core.leave_out`): only a held-out family measures generalisation.

The depth and labels of a split do not depend on the detector, so each family's split differs only
in its ``_pose2d.npz`` (checked here). The rows are chained per batch instead of running six
pipelines: baseline -> A -> A+B -> A+B+C, and B and C alone from the baseline state.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Mapping

import numpy as np
from tqdm import tqdm

from ..core.camera import PinholeCamera
from ..core.itop import DepthFile, ItopLabels
from ..core.score_files import valid_frames
from ..core.leave_out import family_source, leaked, training_families
from ..core.metrics import evaluate
from ..core.pipeline import STAGE_ORDER, Pipeline, Stage
from ..core.synth.detector import DEFAULT_PROFILE, EVAL_FAMILIES, PROFILES, RANDOM_FAMILY
from ..core.views import VIEWS
from .flags import add_weights_flag
from .synthetic import BENCH_SEED, DEFAULT_DATA_DIR, cached_test_set

DEFAULT_JSON = Path("bench/detectors.json")
#: Frames per view: 7 columns x 2 views of generation and refinement; 500 bounds the run time.
DETECTOR_BENCH_FRAMES = 500
#: The column scored from the labels' own image_coordinates (confidence 1): no detector file.
LABELS = "labels"
ROWS = ("baseline", "A", "B", "C", "A+B", "A+B+C")
SINGLE_STAGES = ("A", "B", "C")
METRIC_KEYS = ("mAP", "mAP_5cm", "mDE_cm", "upper_mAP", "lower_mAP", "missing_rate", "n_frames")
BATCH_SIZE = 256


def add_detectors_parser(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("detectors", help="leave-out benchmark: the ablation rows for each simulated 2D "
                                           "detector family (held out of training) and the labels' keypoints")
    p.add_argument("--view", choices=VIEWS, help="only this view (default: both)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON,
                   help="JSON output; the Markdown tables go next to it (.md)")
    p.add_argument("--frames", type=int, default=DETECTOR_BENCH_FRAMES, help="test frames per view")
    p.add_argument("--seed", type=int, default=BENCH_SEED, help="seed of the fixed-seed test sets")
    add_weights_flag(p)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="where the synthetic test sets are cached")
    p.add_argument("--families", type=parse_families, default=(*EVAL_FAMILIES, LABELS),
                   help=f"comma-separated detector families (default: {','.join(EVAL_FAMILIES)}); "
                        f"the '{LABELS}' column is always added")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_detectors)


def parse_families(text: str) -> tuple[str, ...]:
    """'gauss,coco' -> ('gauss', 'coco', 'labels'): known names, in the given order, no repeats,
    the labels column last."""
    known = (*PROFILES, RANDOM_FAMILY, LABELS)
    names = [s.strip().lower() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown detector famil{'y' if len(unknown) == 1 else 'ies'} "
                                         f"{', '.join(unknown)}; choose from {', '.join(known)}")
    return (*dict.fromkeys(n for n in names if n != LABELS), LABELS)


# --------------------------------------------------------------------------- scoring
def chained_rows(stages: Mapping[str, Stage], depth_m: np.ndarray, uv: np.ndarray, confidence: np.ndarray,
                 camera) -> dict[str, np.ndarray]:
    """(B, 15, 3) joints of every row of :data:`ROWS` for one batch, from five stage calls:
    baseline -> A -> A+B -> A+B+C, and B and C alone from the baseline state. The same numbers as
    ``Pipeline(stages).run`` per row: a stage is a pure function of the state and the depth."""
    base = Pipeline().run(depth_m, uv, confidence, camera)      # Pipeline.initial_state, after run's input checks
    a = stages["A"](base, depth_m, camera)
    ab = stages["B"](a, depth_m, camera)
    abc = stages["C"](ab, depth_m, camera)
    return {"baseline": base.joints, "A": a.joints, "B": stages["B"](base, depth_m, camera).joints,
            "C": stages["C"](base, depth_m, camera).joints, "A+B": ab.joints, "A+B+C": abc.joints}


def score_family(stages: Mapping[str, Stage], depth_path: Path, labels_path: Path, pose2d_path: Path | None,
                 batch_size: int = BATCH_SIZE, desc: str = "", progress: bool = True) -> tuple[dict, ItopLabels]:
    """({row: metrics}, the valid frames' labels) of one (view, family) split; each file is read once.
    Without `pose2d_path` the labels' image_coordinates are the 2D input (confidence 1)."""
    with DepthFile(depth_path) as depth:
        valid_idx, valid, pose2d = valid_frames(depth, labels_path, pose2d_path)
        camera = PinholeCamera.for_image(depth.shape)
        pred = {row: np.full(valid.joints.shape, np.nan) for row in ROWS}
        with tqdm(total=len(valid_idx), desc=desc, unit="frame", disable=not progress) as bar:
            for pos, frames in depth.batches(valid_idx, batch_size):
                for row, joints in chained_rows(stages, frames, pose2d.uv[pos], pose2d.confidence[pos], camera).items():
                    pred[row][pos] = joints
                bar.update(len(pos))
    rows = {}
    for row in ROWS:
        result = evaluate(pred[row], valid.joints)
        rows[row] = {**{k: result[k] for k in METRIC_KEYS}, "per_joint": result["per_joint"]}
    return rows, valid


def _same_frames(a: ItopLabels, b: ItopLabels) -> bool:
    return (np.array_equal(a.ids, b.ids) and np.array_equal(a.joints, b.joints, equal_nan=True)
            and np.array_equal(a.uv, b.uv, equal_nan=True))


# --------------------------------------------------------------------------- checks (pure)
def chain_check(rows: Mapping[str, Mapping]) -> dict:
    """A+B+C mAP against the best single stage's (max of A, B, C)."""
    best = max(SINGLE_STAGES, key=lambda s: rows[s]["mAP"])
    abc, top = rows["A+B+C"]["mAP"], rows[best]["mAP"]
    return {"passed": bool(abc >= top), "A+B+C_mAP": abc, "best_single": best, "best_single_mAP": top,
            "margin": abc - top}


def groups_check(rows: Mapping[str, Mapping]) -> dict:
    """Joint groups whose A+B+C mAP is below their baseline mAP (groups without GT are skipped)."""
    below = []
    for group, base in rows["baseline"]["per_joint"].items():
        final = rows["A+B+C"]["per_joint"][group]
        if np.isfinite(base["mAP"]) and np.isfinite(final["mAP"]) and final["mAP"] < base["mAP"]:
            below.append({"group": group, "baseline_mAP": base["mAP"], "A+B+C_mAP": final["mAP"],
                          "margin": final["mAP"] - base["mAP"]})
    return {"passed": not below, "below": below}


def held_out_check(family: str, records: Mapping[str, Mapping | None]) -> dict:
    """Per stage model: was `family` in its training input? Held out = in none of them."""
    in_training = leaked([family], records)[family]
    return {"held_out": not any(in_training.values()), "in_training": in_training,
            "seen_by": [m for m, seen in in_training.items() if seen]}


def read_records(weights_dir: Path | None, view: str) -> tuple[dict[str, dict | None], dict[str, dict]]:
    """({model: its JSON record or None}, {model: training families, their source and the record path})
    for the view's A, B and C weights."""
    from ..core.weights import DEFAULT_WEIGHTS_DIR, read_record, weights_path
    records, info = {}, {}
    for name in STAGE_ORDER:
        path = weights_path(weights_dir or DEFAULT_WEIGHTS_DIR, view, name).with_suffix(".json")
        record = read_record(path)
        records[name] = record
        info[name] = {"families": list(training_families(record)), "source": family_source(record),
                      "record": str(path)}
    return records, info


# --------------------------------------------------------------------------- output
def format_view(view: str, cells: Mapping[str, Mapping], n_frames: int) -> str:
    """Rows = stages, columns = families, cells = mAP@10cm; an A+B+C mDE line; * = seen in training."""
    families = list(cells)
    heads = [f + ("*" if not cells[f]["checks"]["held_out"]["held_out"] else "") for f in families]
    width = max(8, *(len(h) for h in heads))
    lines = [f"{view} view ({n_frames} valid frames), mAP@10cm",
             f"{'stages':<11}" + "".join(f"{h:>{width + 1}}" for h in heads)]
    for row in ROWS:
        lines.append(f"{row:<11}" + "".join(f"{cells[f]['rows'][row]['mAP']:>{width + 1}.3f}" for f in families))
    lines.append(f"{'A+B+C mDE':<11}" + "".join(f"{cells[f]['rows']['A+B+C']['mDE_cm']:>{width + 1}.1f}"
                                                for f in families))
    seen = [f"{f} ({','.join(cells[f]['checks']['held_out']['seen_by'])})" for f in families
            if cells[f]["checks"]["held_out"]["seen_by"]]
    if seen:
        lines.append("* in the training input of: " + "; ".join(seen))
    return "\n".join(lines)


def format_checks(view: str, cells: Mapping[str, Mapping]) -> str:
    lines = [f"checks, {view} view"]
    for family, cell in cells.items():
        chain, groups, held = (cell["checks"][k] for k in ("chain", "groups", "held_out"))
        below = ", ".join(f"{g['group']} {g['A+B+C_mAP']:.3f}<{g['baseline_mAP']:.3f}" for g in groups["below"])
        lines.append(
            f"  {family:<12} chain {'ok  ' if chain['passed'] else 'FAIL'} (A+B+C {chain['A+B+C_mAP']:.3f} vs "
            f"{chain['best_single']} {chain['best_single_mAP']:.3f}, {chain['margin']:+.3f})   "
            f"groups {'ok' if groups['passed'] else 'FAIL: ' + below}   "
            f"{'held out' if held['held_out'] else 'seen in training by ' + ','.join(held['seen_by'])}")
    return "\n".join(lines)


def markdown(payload: Mapping) -> str:
    """The tables and the checks as Markdown, to paste into the README."""
    out = [f"    {payload['command']}", ""]
    for view, entry in payload["views"].items():
        cells = entry["families"]
        families = list(cells)
        heads = [f"`{f}`" + (" *" if not cells[f]["checks"]["held_out"]["held_out"] else "") for f in families]
        out += [f"**{view} view** ({entry['n_frames']} valid frames; mAP@10cm, last line the A+B+C mDE in cm)", "",
                "| stages | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(families)]
        for row in ROWS:
            out.append(f"| {row} | " + " | ".join(f"{cells[f]['rows'][row]['mAP']:.3f}" for f in families) + " |")
        out.append("| A+B+C mDE (cm) | " + " | ".join(f"{cells[f]['rows']['A+B+C']['mDE_cm']:.1f}" for f in families)
                   + " |")
        out.append("")
        seen = [f"`{f}` ({', '.join(cells[f]['checks']['held_out']['seen_by'])})" for f in families
                if cells[f]["checks"]["held_out"]["seen_by"]]
        if seen:
            out += ["\\* in the training input of the stage models: " + "; ".join(seen) + ".", ""]
        chain_fail = [f for f in families if not cells[f]["checks"]["chain"]["passed"]]
        worst = min(families, key=lambda f: cells[f]["checks"]["chain"]["margin"])
        out.append(f"- A+B+C ≥ best single stage: {len(families) - len(chain_fail)}/{len(families)} columns "
                   f"(smallest margin {cells[worst]['checks']['chain']['margin']:+.3f}, `{worst}`)"
                   + (f"; fails: {', '.join(f'`{f}`' for f in chain_fail)}" if chain_fail else ""))
        below = [f"`{f}` " + ", ".join(f"{g['group']} {g['A+B+C_mAP']:.3f} < {g['baseline_mAP']:.3f}"
                                         for g in cells[f]["checks"]["groups"]["below"])
                 for f in families if not cells[f]["checks"]["groups"]["passed"]]
        out.append("- every joint group at A+B+C ≥ baseline: "
                   + ("all columns" if not below else "fails: " + "; ".join(below)))
        kept = [f"`{f}`" for f in families if cells[f]["checks"]["held_out"]["held_out"]]
        out.append("- held out of the training of A, B and C: " + (", ".join(kept) if kept else "none"))
        out.append("")
    return "\n".join(out)


def _command(args: argparse.Namespace) -> str:
    flags = f" --view {args.view}" if args.view else ""
    if tuple(args.families) != (*EVAL_FAMILIES, LABELS):
        flags += f" --families {','.join(f for f in args.families if f != LABELS)}"
    if args.weights is not None:
        flags += f" --weights {args.weights}"
    return f"refinet bench detectors --frames {args.frames} --seed {args.seed}{flags}"


# --------------------------------------------------------------------------- command
def run_detectors(args: argparse.Namespace) -> int:
    from ..core.weights import load_stage
    from .bench import write_json
    views = (args.view,) if args.view else VIEWS
    detectors = [f for f in args.families if f != LABELS]
    payload = {"command": _command(args), "seed": args.seed, "frames_per_view": args.frames,
               "families": list(args.families), "rows": list(ROWS),
               "weights": str(args.weights) if args.weights else "shipped",
               "training_families": {}, "views": {}}
    for view in views:
        stages = {name: load_stage(name, view, args.weights) for name in STAGE_ORDER}   # once per view
        records, payload["training_families"][view] = read_records(args.weights, view)
        cells, reference = {}, None
        for family in args.families:
            # the labels column needs no detector file: any family's split has the same depth and labels
            source = family if family != LABELS else (detectors[0] if detectors else DEFAULT_PROFILE)
            paths = cached_test_set(view, args.frames, args.seed, args.data, detector=source)
            rows, valid = score_family(stages, paths["depth_map"], paths["labels"],
                                       None if family == LABELS else paths["pose2d"], args.batch_size,
                                       desc=f"{view} {family}")
            if reference is None:
                reference = valid
            elif not _same_frames(reference, valid):
                raise ValueError(f"{paths['labels']}: labels differ from the {args.families[0]} split of the same "
                                 "seed; the depth and labels must not depend on the detector "
                                 f"(stale cache in {args.data}?)")
            cells[family] = {"rows": rows, "data": str(paths["depth_map"].parent),
                             "checks": {"chain": chain_check(rows), "groups": groups_check(rows),
                                        "held_out": held_out_check(family, records)}}
        payload["views"][view] = {"n_frames": int(len(reference.ids)), "families": cells}
        print(format_view(view, cells, len(reference.ids)))
        print(format_checks(view, cells))
        print()
    write_json(args.json, payload)
    md = args.json.with_suffix(".md")
    md.write_text(markdown(payload))
    print(f"wrote {md}")
    return 0
