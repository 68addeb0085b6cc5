"""``refinet bench soak``: run refine_node for minutes at 30 Hz and watch its memory, counters and latency.

refine_node runs in its own process (``python -m refinet_ros.ros.refine_node``), so the RSS sampled
from ``/proc/<pid>/status`` is the node's alone. This process plays a synthetic sequence
(:class:`~refinet_ros.commands.soak_nodes.SoakPlayer`, every ``--bad-every``-th frame a bad one),
times each output from its input stamp to its receipt here, and reads the node's own counters from
/diagnostics (every key, generically: the skip reasons are whatever the node reports). At the end
the node gets SIGINT and must exit with code 0 and no traceback.

JSON (``--json``): RSS samples, start/end/max and the slope (MiB/min, least squares after a warm-up),
the last diagnostics snapshot, frames sent / received, latency percentiles overall and per minute,
the shutdown record, the command line and the platform; a PNG next to it shows RSS and per-minute
latency. Exit status: 0, 1 if refine_node died during the soak (the JSON is still written) or never
started, 130 if interrupted (Ctrl-C: the node is still stopped and the JSON written).

Bounded in time: rendering the sequence (overlapping the node's start) + at most ``--startup-timeout``
+ the duration + DRAIN_TIMEOUT_S + SHUTDOWN_TIMEOUT_S (then SIGKILL). Only the parser and pure helpers
live at module level: ``refinet bench baseline`` must not need rclpy.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core.views import VIEWS
from .flags import add_int8_flag, add_stages_flag

DEFAULT_JSON = Path("bench/soak.json")
#: Longest wait for refine_node to start and subscribe (importing torch and loading A,B,C is slow on 2 cores).
STARTUP_TIMEOUT_S = 120.0
#: After the last frame: wait at least this long for outputs and a final diagnostics message ...
DRAIN_S = 2.0
#: ... but never longer than this.
DRAIN_TIMEOUT_S = 10.0
#: SIGINT, then this long for a clean exit, then SIGKILL.
SHUTDOWN_TIMEOUT_S = 15.0
LATENCY_BUCKET_S = 60.0
STDERR_TAIL_LINES = 40
#: Rendered once and looped (rendering costs ~25 ms a frame).
DEFAULT_UNIQUE_FRAMES = 300


def add_soak_bench_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``soak`` on the ``refinet bench`` sub-command parsers."""
    p = kinds.add_parser("soak", help="refine_node in its own process for minutes: RSS slope, counters, "
                                      "latency per minute, clean shutdown (needs rclpy)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, default=10.0, help="soak duration in minutes (default 10)")
    length.add_argument("--seconds", type=float,
                        help="soak duration in seconds, instead of --minutes (default: --minutes)")
    p.add_argument("--rate", type=float, default=30.0, help="input frame rate (Hz)")
    add_stages_flag(p)
    p.add_argument("--view", choices=VIEWS, default="side", help="view of the synthetic sequence and the weights")
    p.add_argument("--device", help="torch device (default: the config's)")
    p.add_argument("--weights-dir", help="folder of {view}_{A,B,C}.pt (default: the config's)")
    add_int8_flag(p)
    p.add_argument("--param", action="append", default=[], metavar="NAME:=VALUE",
                   help="any other refine_node parameter (repeatable), e.g. publish_measurements:=true "
                        "(default: the shipped config's values)")
    p.add_argument("--bad-every", type=int, default=100, metavar="K",
                   help="every K-th frame is a bad one (wrong encoding, size mismatch, NaN confidence, "
                        "time jump, in turn); 0 = none")
    p.add_argument("--sample-period", type=float,
                   help="seconds between RSS samples (default: duration/60, within 0.5-5 s)")
    p.add_argument("--warmup", type=float,
                   help="seconds left out of the RSS slope fit (default: 20%% of the duration, at most 60 s)")
    p.add_argument("--unique-frames", type=int, default=DEFAULT_UNIQUE_FRAMES,
                   help="distinct synthetic frames rendered and looped")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic sequence")
    p.add_argument("--domain-id", type=int, help="ROS domain of both processes (default: $ROS_DOMAIN_ID or 0)")
    p.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_S,
                   help="seconds allowed for refine_node to start and subscribe")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results")
    p.add_argument("--png", type=Path, help="plot (default: the JSON path with .png)")
    p.set_defaults(handler=run_soak_bench)
    return p


# --- pure helpers (no ROS) -------------------------------------------------------------------------------
def duration_s(args: argparse.Namespace) -> float:
    return float(args.seconds) if args.seconds is not None else 60.0 * float(args.minutes)


def default_sample_period(seconds: float) -> float:
    return float(np.clip(seconds / 60.0, 0.5, 5.0))


def default_warmup(seconds: float) -> float:
    """Skip the first minute, or the first 20 % of a run shorter than five minutes."""
    return min(60.0, 0.2 * seconds)


def read_rss_mib(pid: int) -> tuple[float | None, float | None]:
    """VmRSS and VmHWM (peak) of `pid` from /proc/<pid>/status, in MiB; None where unreadable."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024.0      # kB
    except (OSError, ValueError, IndexError):
        pass
    return out.get("VmRSS"), out.get("VmHWM")


def read_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of `pid` from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def rss_summary(samples: Sequence[Sequence[float]], warmup_s: float) -> dict[str, Any]:
    """Start/end/max RSS and the least-squares slope (MiB/min) of the samples at t >= warmup_s.
    `samples` are (t_s, rss_mib) rows; the slope is NaN with fewer than two points after the warm-up."""
    t = np.array([s[0] for s in samples], dtype=float)
    rss = np.array([s[1] for s in samples], dtype=float)
    fit = t >= warmup_s
    slope = intercept = math.nan
    if fit.sum() >= 2 and np.ptp(t[fit]) > 0:
        slope, intercept = (float(v) for v in np.polyfit(t[fit] / 60.0, rss[fit], 1))
    return {"start_mib": float(rss[0]) if len(rss) else math.nan,
            "end_mib": float(rss[-1]) if len(rss) else math.nan,
            "max_mib": float(rss.max()) if len(rss) else math.nan,
            "slope_mib_per_min": slope, "fit_intercept_mib": intercept,
            "fit_from_s": warmup_s, "fit_points": int(fit.sum()), "n_samples": len(rss)}


def latency_stats(latency_ms: Sequence[float]) -> dict[str, Any]:
    lat = np.asarray(latency_ms, dtype=float)
    if not len(lat):
        return {"n": 0, "p50_ms": math.nan, "p95_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan,
                "mean_ms": math.nan}
    p50, p95, p99 = (float(v) for v in np.percentile(lat, [50, 95, 99]))
    return {"n": int(len(lat)), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": float(lat.max()),
            "mean_ms": float(lat.mean())}


def latency_rows(receipt_s: Sequence[float], latency_ms: Sequence[float], seconds: float,
                 bucket_s: float = LATENCY_BUCKET_S) -> list[dict[str, Any]]:
    """Percentiles per `bucket_s` window of receipt time (seconds since the soak began); outputs that
    arrive during the drain after the last window count in the last one."""
    n_buckets = max(1, math.ceil(seconds / bucket_s - 1e-9))
    t = np.asarray(receipt_s, dtype=float)
    lat = np.asarray(latency_ms, dtype=float)
    index = np.clip(np.floor(t / bucket_s), 0, n_buckets - 1).astype(int) if len(t) else np.zeros(0, int)
    rows = []
    for b in range(n_buckets):
        rows.append({"minute": b, "start_s": b * bucket_s, "end_s": min((b + 1) * bucket_s, seconds),
                     **latency_stats(lat[index == b])})
    return rows


def by_prefix(snapshot: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``<prefix><name>`` keys of a diagnostics snapshot by name, whatever names the node has."""
    return {k[len(prefix):]: v for k, v in snapshot.items() if k.startswith(prefix)}


def skipped_by_reason(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``skipped_<reason>`` keys of a diagnostics snapshot, whatever reasons the node has."""
    return by_prefix(snapshot, "skipped_")


def stderr_report(text: str, exit_code: int | None) -> dict[str, Any]:
    traceback, failed = "Traceback" in text, "Failed to publish" in text
    return {"exit_code": exit_code, "stderr_has_traceback": traceback, "stderr_has_failed_to_publish": failed,
            "clean_shutdown": exit_code == 0 and not traceback and not failed,
            "stderr_tail": "\n".join(text.splitlines()[-STDERR_TAIL_LINES:])}


def json_ready(obj: Any) -> Any:
    """NaN/inf -> None (strict JSON), numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``NAME:=VALUE`` pairs (VALUE in YAML, as ``--ros-args -p`` reads it)."""
    import yaml
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise ValueError(f"--param {item!r}: expected NAME:=VALUE")
        out[name] = yaml.safe_load(value)
    return out


def node_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {"view": args.view, "stages": args.stages}
    if args.device is not None:
        overrides["device"] = args.device
    if args.weights_dir is not None:
        overrides["weights_dir"] = args.weights_dir
    if args.int8:
        overrides["int8"] = True
    overrides.update(parse_params(args.param))
    return overrides


def _ros_value(value: Any) -> str:
    """A parameter value for ``-p name:=value``; strings are quoted so "A,B,C" or "none" stay strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value)


def node_command(config_path: Path, overrides: dict[str, Any]) -> list[str]:
    cmd = [sys.executable, "-m", "refinet_ros.ros.refine_node", "--ros-args", "--params-file", str(config_path)]
    for name, value in overrides.items():
        cmd += ["-p", f"{name}:={_ros_value(value)}"]
    return cmd


def canonical_command(args: argparse.Namespace) -> str:
    length = f"--seconds {args.seconds:g}" if args.seconds is not None else f"--minutes {args.minutes:g}"
    flags = [f"refinet bench soak {length} --rate {args.rate:g} --stages {args.stages} --view {args.view}",
             f"--bad-every {args.bad_every}", f"--unique-frames {args.unique_frames}", f"--seed {args.seed}"]
    for name in ("device", "weights_dir", "sample_period", "warmup"):
        value = getattr(args, name)
        if value is not None:
            flags.append(f"--{name.replace('_', '-')} {value}")
    flags += (["--int8"] if args.int8 else []) + [f"--param {shlex.quote(p)}" for p in args.param]
    return " ".join(flags + [f"--json {args.json}"])


def platform_info() -> dict[str, Any]:
    from importlib import metadata
    versions = {}
    for pkg in ("numpy", "torch", "rclpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    info = {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor(), "cpu_count": os.cpu_count(), "mem_total_mib": mem,
            "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "ros_distro": os.environ.get("ROS_DISTRO"), "versions": versions, "git": _git_state()}
    try:
        from rclpy.utilities import get_rmw_implementation_identifier
        info["rmw"] = get_rmw_implementation_identifier()
    except Exception:  # noqa: BLE001 - informative only
        info["rmw"] = None
    return info


def _git_state() -> dict[str, Any] | None:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode:
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


# --- the run ---------------------------------------------------------------------------------------------
class SoakError(RuntimeError):
    """The soak could not begin (refine_node exited or did not subscribe in time)."""


def run_soak_bench(args: argparse.Namespace) -> int:
    seconds = duration_s(args)
    if seconds <= 0 or args.rate <= 0:
        raise ValueError("the duration and --rate must be positive")
    if args.bad_every < 0:
        raise ValueError("--bad-every must be >= 0")
    from ..ros.config import DEFAULT_CONFIG, PARAMETER_NAMES, load_defaults, validate

    overrides = node_overrides(args)
    unknown = sorted(set(overrides) - set(PARAMETER_NAMES))
    if unknown:
        raise ValueError(f"unknown refine_node parameter(s) {unknown}")
    config = validate({**load_defaults(DEFAULT_CONFIG), **overrides})    # bad values fail here, before any start
    domain_id = args.domain_id if args.domain_id is not None else int(os.environ.get("ROS_DOMAIN_ID", "0"))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    settings = {"duration_s": seconds, "rate_hz": args.rate, "view": args.view, "stages": ",".join(config.stages)
                or "none", "device": config.device, "int8": config.int8, "bad_every": args.bad_every,
                "sample_period_s": args.sample_period or default_sample_period(seconds),
                "warmup_s": default_warmup(seconds) if args.warmup is None else args.warmup,
                "unique_frames": args.unique_frames, "seed": args.seed, "domain_id": domain_id,
                "node_params": overrides}
    cmd = node_command(DEFAULT_CONFIG, overrides)
    repo = str(Path(__file__).resolve().parents[2])     # the node runs the same refinet_ros as this process
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([repo, *filter(None, [os.environ.get("PYTHONPATH")])])}
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    info = platform_info()
    with tempfile.TemporaryDirectory(prefix="refinet_soak_") as tmp:
        out_path, err_path = Path(tmp) / "node.stdout", Path(tmp) / "node.stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    start_new_session=True)    # the terminal's Ctrl-C reaches only this process
        try:
            try:
                measured = _soak(proc, config, settings, args.startup_timeout)
            finally:
                shutdown = _stop(proc)
        except SoakError as exc:
            text = err_path.read_text(errors="replace")
            print(f"refinet bench soak: {exc}\n--- refine_node stderr (tail) ---\n"
                  + "\n".join(text.splitlines()[-STDERR_TAIL_LINES:]), file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("refinet bench soak: interrupted before the soak began", file=sys.stderr)
            return 130
        report = stderr_report(err_path.read_text(errors="replace"), shutdown["exit_code"])
    payload = {"command": canonical_command(args), "argv": list(sys.argv), "node_command": cmd,
               "started_at": started, "settings": settings, "platform": info, **measured,
               "clean_shutdown": report["clean_shutdown"] and not measured["node_died"],
               "stderr_tail": report["stderr_tail"],
               "shutdown": {**shutdown, **{k: v for k, v in report.items() if k != "stderr_tail"}}}
    payload["platform"]["loadavg_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(json_ready(payload), indent=2))
    png = args.png or args.json.with_suffix(".png")
    write_png(payload, png)
    print(format_report(payload))
    print(f"wrote {args.json} and {png}")
    return 1 if measured["node_died"] else 130 if measured["interrupted"] else 0


def _soak(proc: subprocess.Popen, config: Any, settings: dict[str, Any], startup_timeout: float) -> dict[str, Any]:
    """Play frames for the duration, sampling the node's RSS; return everything measured. A node that
    dies during the soak ends it early (``node_died``); one that never subscribes is a SoakError."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions
    from tqdm import tqdm

    from ..core.synth.generate import generate_split
    from .soak_nodes import DiagnosticsMonitor, LatencyProbe, SoakPlayer

    seconds, rate = settings["duration_s"], settings["rate_hz"]
    n_frames = max(1, round(seconds * rate))
    seq = generate_split(settings["view"], "test", max(1, min(n_frames, settings["unique_frames"])),
                         seed=settings["seed"], stride=1)      # rendered while the node starts
    context = rclpy.Context()
    # No rclpy signal handler: Ctrl-C ends the soak early (KeyboardInterrupt below) with the node still stopped cleanly.
    rclpy.init(context=context, domain_id=settings["domain_id"], signal_handler_options=SignalHandlerOptions.NO)
    nodes: list[Any] = []
    try:
        player = SoakPlayer(seq, config, n_frames, rate, settings["bad_every"], context=context)
        probe = LatencyProbe(player, config.output_topic, context=context)
        diag = DiagnosticsMonitor(context=context)
        nodes = [player, probe, diag]
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        startup_s = _wait_for_node(executor, proc, player, probe, diag, config.output_topic, startup_timeout)
        rss_ready, _ = read_rss_mib(proc.pid)
        t0 = time.monotonic()
        player.begin(t0 + seconds)
        samples, history, interrupted = [], [], False
        cpu_start = cpu_prev = read_cpu_s(proc.pid)
        t_prev = t0
        next_sample, finished_at, died = t0, None, False
        period = settings["sample_period_s"]
        bar = tqdm(total=round(seconds), unit="s", desc="soak", mininterval=1.0, file=sys.stderr,
                   bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}]{postfix}")
        try:
            while True:
                executor.spin_once(timeout_sec=0.005)
                now = time.monotonic()
                if now >= next_sample:
                    rss, _ = read_rss_mib(proc.pid)
                    cpu = read_cpu_s(proc.pid)
                    if rss is not None:
                        cpu_pct = (100.0 * (cpu - cpu_prev) / (now - t_prev)
                                   if cpu is not None and cpu_prev is not None and now > t_prev else math.nan)
                        samples.append([now - t0, rss, cpu_pct])
                        cpu_prev, t_prev = cpu, now
                        if diag.last and (not history or int((now - t0) // LATENCY_BUCKET_S) > history[-1][0]):
                            history.append([int((now - t0) // LATENCY_BUCKET_S), dict(diag.last)])
                        elif diag.last:
                            history[-1][1] = dict(diag.last)
                    next_sample = max(next_sample + period, now)
                    bar.set_postfix_str(f"RSS {rss or 0:.0f} MiB  sent {player.ticks}  recv {probe.received}  "
                                        f"skipped {diag.last.get('frames_skipped', '?')}", refresh=False)
                bar.update(min(round(seconds), int(now - t0)) - bar.n)
                if proc.poll() is not None:
                    died = True
                    break
                if finished_at is None and player.done:
                    finished_at = now
                if finished_at is not None:
                    since = now - finished_at
                    final_diag = diag.received_at is not None and diag.received_at >= finished_at + DRAIN_S / 2
                    if (since >= DRAIN_S and final_diag) or since >= DRAIN_TIMEOUT_S:
                        break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        rss_end, hwm = read_rss_mib(proc.pid)
        cpu_end = read_cpu_s(proc.pid)
        t_end = time.monotonic() - t0
        node_cpu = (100.0 * (cpu_end - cpu_start) / t_end if cpu_start is not None and cpu_end is not None
                    and t_end > 0 else math.nan)
        if rss_end is not None:
            samples.append([t_end, rss_end, math.nan])
        summary = rss_summary([s[:2] for s in samples], settings["warmup_s"])
        last = dict(diag.last)
        lat = probe.latency_ms
        receipt_s = [t - t0 for t in probe.receipt_times]
        sent_good = len(player.sent)
        accuracy = {k: v for k, v in probe.results().items() if k in ("mAP", "mAP_5cm", "mDE_cm", "n_frames")}
        return {
            "interrupted": interrupted, "node_died": died, "wall_s": t_end, "startup_s": startup_s,
            "node_cpu_percent": node_cpu,      # of one core, first frame to the end of the drain
            "rss": {**summary, "ready_mib": rss_ready, "peak_hwm_mib": hwm,
                    "samples_columns": ["t_s", "rss_mib", "node_cpu_percent"], "samples": samples},
            "frames_in": last.get("frames_in"), "frames_published": last.get("frames_published"),
            "frames_skipped": last.get("frames_skipped"), "skipped": skipped_by_reason(last),
            "repaired": by_prefix(last, "repaired_"),
            "frames": {"sent": player.ticks, "sent_good": sent_good, "bad_sent": dict(player.bad_sent),
                       "received": probe.received, "lost": sent_good - probe.received,
                       "send_rate_hz": player.ticks / max(min(t_end, seconds), 1e-9)},
            "diagnostics": {"last": last, "level": diag.level, "message": diag.message,
                            "hardware_id": diag.hardware_id, "messages": diag.count, "levels": dict(diag.levels),
                            "per_minute": [{"minute": m, "values": v} for m, v in history]},
            "latency": {"overall": latency_stats(lat),
                        "per_minute": latency_rows(receipt_s, lat, max(seconds, 1e-9))},
            "accuracy": accuracy,
        }
    finally:
        for node in reversed(nodes):
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def _wait_for_node(executor: Any, proc: subprocess.Popen, player: Any, probe: Any, diag: Any, output_topic: str,
                   timeout: float) -> float:
    """Spin until refine_node subscribes to the inputs and publishes the outputs we read; seconds taken."""
    t0 = time.monotonic()
    while not (player.node_ready() and probe.count_publishers(output_topic) > 0
               and diag.count_publishers("/diagnostics") > 0):
        if proc.poll() is not None:
            raise SoakError(f"refine_node exited with code {proc.returncode} before subscribing")
        if time.monotonic() - t0 > timeout:
            raise SoakError(f"refine_node did not subscribe within {timeout:g} s")
        executor.spin_once(timeout_sec=0.05)
    return time.monotonic() - t0


def _stop(proc: subprocess.Popen) -> dict[str, Any]:
    """SIGINT, wait; SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return {"signal": None, "exit_code": proc.returncode, "killed": False, "shutdown_s": 0.0}
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        return {"signal": "SIGINT", "exit_code": proc.returncode, "killed": False,
                "shutdown_s": time.monotonic() - t0}
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return {"signal": "SIGINT", "exit_code": None, "killed": True, "shutdown_s": time.monotonic() - t0}


# --- output ----------------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def format_report(p: dict[str, Any]) -> str:
    s, rss, fr, sh = p["settings"], p["rss"], p["frames"], p["shutdown"]
    skipped = ", ".join(f"{k} {v}" for k, v in p["skipped"].items() if v) or "none"
    repaired = ", ".join(f"{k} {v}" for k, v in p["repaired"].items() if v)
    levels = ", ".join(f"{k} {v}" for k, v in p["diagnostics"]["levels"].items())
    ended = (f" (refine_node DIED after {p['wall_s']:.0f} s)" if p["node_died"]
             else " (interrupted)" if p["interrupted"] else "")
    bad = ", ".join(f"{k} {v}" for k, v in fr["bad_sent"].items()) or "none"
    lines = [
        f"refine_node soak: {s['view']} view, stages {s['stages']} on {s['device']}, {s['rate_hz']:g} Hz, "
        f"{s['duration_s']:g} s{ended}; node started in {p['startup_s']:.1f} s",
        f"RSS (MiB): start {_fmt(rss['start_mib'])}  end {_fmt(rss['end_mib'])}  max {_fmt(rss['max_mib'])}  "
        f"slope {_fmt(rss['slope_mib_per_min'], '+.3f')} MiB/min (fit after {rss['fit_from_s']:g} s, "
        f"{rss['fit_points']} of {rss['n_samples']} samples); node CPU {_fmt(p['node_cpu_percent'], '.0f')} % "
        "of a core",
        f"node counters: in {p['frames_in']}  published {p['frames_published']}  skipped {p['frames_skipped']} "
        f"({skipped}){f'  repaired ({repaired})' if repaired else ''}; diagnostics levels: {levels or 'none'}",
        f"this process: sent {fr['sent']} (bad: {bad})  good outputs received {fr['received']} of "
        f"{fr['sent_good']}",
        f"{'minute':>6} {'frames':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}",
    ]
    for r in [*p["latency"]["per_minute"], {"minute": "all", **p["latency"]["overall"]}]:
        lines.append(f"{r['minute']:>6} {r['n']:>7} {_fmt(r['p50_ms']):>8} {_fmt(r['p95_ms']):>8} "
                     f"{_fmt(r['p99_ms']):>8} {_fmt(r['max_ms']):>8}")
    lines.append(f"shutdown: {sh['signal'] or 'had already exited'} -> exit code {sh['exit_code']}"
                 f"{' (killed)' if sh['killed'] else ''}, "
                 f"traceback {'yes' if sh['stderr_has_traceback'] else 'no'}, 'Failed to publish' "
                 f"{'yes' if sh['stderr_has_failed_to_publish'] else 'no'}: "
                 f"{'clean' if p['clean_shutdown'] else 'NOT clean'}")
    return "\n".join(lines)


def write_png(p: dict[str, Any], path: Path) -> None:
    """RSS over time with the fitted slope, and per-minute latency (no pyplot: no global backend)."""
    from matplotlib.figure import Figure

    rss, rows = p["rss"], p["latency"]["per_minute"]
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    ax_rss, ax_lat = fig.subplots(2, 1)
    t = np.array([r[0] for r in rss["samples"]], dtype=float) / 60.0
    m = np.array([r[1] for r in rss["samples"]], dtype=float)
    ax_rss.plot(t, m, ".-", color="tab:blue", label="VmRSS")
    if math.isfinite(rss["slope_mib_per_min"]):
        tf = t[t >= rss["fit_from_s"] / 60.0]
        ax_rss.plot(tf, rss["fit_intercept_mib"] + rss["slope_mib_per_min"] * tf, "--", color="tab:red",
                    label=f"fit {rss['slope_mib_per_min']:+.3f} MiB/min")
    ax_rss.axvspan(0, rss["fit_from_s"] / 60.0, color="0.9", label="warm-up (not fitted)")
    ax_rss.set(xlabel="minutes", ylabel="MiB", title=f"refine_node RSS ({p['settings']['stages']}, "
                                                         f"{p['settings']['rate_hz']:g} Hz)")
    ax_rss.legend(loc="lower right")
    ax_rss.grid(alpha=0.3)
    x = [r["minute"] + 1 for r in rows]
    nan = math.nan
    ax_lat.bar(x, [r["p95_ms"] if r["p95_ms"] is not None else nan for r in rows], color="tab:orange",
               label="p95")
    ax_lat.plot(x, [r["p50_ms"] if r["p50_ms"] is not None else nan for r in rows], "o-", color="tab:green",
                label="p50")
    ax_lat.set(xlabel="minute of the soak", ylabel="ms", xticks=x,
               title="end-to-end latency (input stamp -> receipt), per minute")
    ax_lat.legend(loc="lower right")
    ax_lat.grid(alpha=0.3, axis="y")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
