"""``refinet bench soak``: a short soak of refine_node in its own process (real DDS), plus its pure helpers.

The soak itself is a benchmark, not a test; this only checks that a ~15 s run records what the long
one is for: RSS samples and a slope, the node's own counters with the injected bad frames skipped,
per-minute latency and the shutdown record.
"""
from __future__ import annotations

import json
import math

import pytest

from refinet_ros.commands.bench_soak import latency_rows, rss_summary, skipped_by_reason, stderr_report

DOMAIN_ID = 88
SOAK_SECONDS = 15


def test_rss_slope_is_fitted_after_the_warm_up():
    samples = [(t, 100.0 + (50.0 if t < 10 else 0.0) + 0.5 * t / 60.0) for t in range(0, 120, 5)]
    s = rss_summary(samples, warmup_s=10)
    assert s["slope_mib_per_min"] == pytest.approx(0.5)
    assert (s["start_mib"], s["fit_points"], s["n_samples"]) == (150.0, 22, 24)
    assert s["max_mib"] == pytest.approx(150.0 + 0.5 * 5 / 60)
    assert math.isnan(rss_summary(samples[:1], warmup_s=0)["slope_mib_per_min"])


def test_latency_rows_per_minute_with_the_drain_in_the_last_one():
    rows = latency_rows([1.0, 59.0, 61.0, 121.0], [10.0, 20.0, 30.0, 40.0], seconds=120.0)
    assert [r["n"] for r in rows] == [2, 2]
    assert rows[1]["max_ms"] == 40.0 and rows[0]["p50_ms"] == pytest.approx(15.0)
    assert latency_rows([], [], seconds=10.0)[0]["n"] == 0


def test_skip_reasons_are_read_generically_and_shutdown_is_judged_from_stderr():
    assert skipped_by_reason({"frames_in": 3, "skipped_new_reason": 2}) == {"new_reason": 2}
    assert stderr_report("[INFO] bye\n", 0)["clean_shutdown"]
    assert not stderr_report("Traceback (most recent call last):\n", 0)["clean_shutdown"]
    assert not stderr_report("Failed to publish diagnostics\n", 0)["clean_shutdown"]
    assert not stderr_report("", -2)["clean_shutdown"]


def test_short_soak_records_memory_counters_latency_and_shutdown(tmp_path, monkeypatch):
    pytest.importorskip("rclpy")
    from refinet_ros.cli import main

    monkeypatch.setenv("ROS_DOMAIN_ID", str(DOMAIN_ID))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    out = tmp_path / "soak.json"
    rc = main(["bench", "soak", "--seconds", str(SOAK_SECONDS), "--stages", "none", "--bad-every", "15",
               "--unique-frames", "30", "--domain-id", str(DOMAIN_ID), "--json", str(out)])
    assert rc == 0
    p = json.loads(out.read_text())
    assert (tmp_path / "soak.png").stat().st_size > 0
    assert "bench soak --seconds 15" in p["command"] and p["settings"]["rate_hz"] == 30.0
    assert p["node_command"] and p["platform"]["python"]

    rss = p["rss"]
    assert rss["n_samples"] >= 5 and len(rss["samples"]) == rss["n_samples"]
    assert all(r[1] > 0 for r in rss["samples"])
    assert isinstance(rss["slope_mib_per_min"], float) and math.isfinite(rss["slope_mib_per_min"])
    assert rss["start_mib"] > 0 and rss["max_mib"] >= rss["end_mib"]

    assert p["frames_in"] > 0 and p["frames_published"] > 0
    assert p["frames"]["bad_sent"].get("encoding", 0) > 0
    # Reason names are the node's (diagnostics.SKIP_REASONS); match loosely, as the set is still growing.
    assert any(v > 0 for v in p["skipped"].values()), p["skipped"]
    assert all(f"skipped_{k}" in p["diagnostics"]["last"] for k in p["skipped"])
    if "encoding" in p["skipped"]:
        assert p["skipped"]["encoding"] > 0

    rows = p["latency"]["per_minute"]
    assert len(rows) == 1 and rows[0]["n"] > 0
    assert 0 < rows[0]["p50_ms"] <= rows[0]["p95_ms"] <= rows[0]["p99_ms"] <= rows[0]["max_ms"]
    assert p["frames"]["received"] == rows[0]["n"] <= p["frames"]["sent_good"]

    assert isinstance(p["clean_shutdown"], bool) and "stderr_tail" in p
    assert p["shutdown"]["signal"] == "SIGINT" and "exit_code" in p["shutdown"]
