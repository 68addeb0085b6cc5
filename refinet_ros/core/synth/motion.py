"""Motion sequences: continuous 30 Hz pose trajectories for one subject and one action.

ITOP was recorded as video of people performing everyday actions in front of (and under)
the camera, so frames come as *clips*: a smooth trajectory of pose parameters
(:data:`body.POSE_PARAMS`) over 1-4 s. Every clip is one action from :data:`ACTIONS`
(standing, walking, reaching, bending, squatting, turning, arm raises, crouches, waving,
free random motion) on top of a per-clip personal "style" (arm carriage, stance width,
posture) and smooth random limb perturbations, so no two clips share a pose prior.
"""
from __future__ import annotations

import numpy as np

from .body import LIMITS, POSE_PARAMS

FPS = 30.0

#: Action name -> sampling weight: everyday actions, as ITOP's people performed them.
ACTIONS: dict[str, float] = {
    "stand": 0.12, "walk": 0.16, "reach": 0.12, "bend": 0.09, "squat": 0.07, "turn": 0.09,
    "arm_raise": 0.11, "crouch": 0.06, "wave": 0.07, "random": 0.11,
}
#: Extra training-only poses, so that a skeleton model learns no narrow pose prior: joint angles
#: drawn anywhere within the anatomical limits, arms up to vertical, kicks, lunges, sitting, reaching
#: across the body. The test split keeps the everyday actions (and its byte-identical frames).
TRAIN_ACTIONS: dict[str, float] = {"limits": 0.12, "kick": 0.04, "lunge": 0.04, "sit": 0.05, "cross_reach": 0.05}


def _ramp(rng: np.random.Generator, t: np.ndarray, back: bool | None = None) -> np.ndarray:
    """Smooth 0 -> 1 (-> 0) profile with random timing: an action being performed."""
    dur = t[-1] + 1e-6
    t0 = rng.uniform(-0.3, 0.35) * dur
    rise = rng.uniform(0.2, 0.5) * dur
    x = np.clip((t - t0) / rise, 0, 1)
    prof = 0.5 - 0.5 * np.cos(np.pi * x)
    if back is None:
        back = rng.random() < 0.5
    if back:
        t1 = rng.uniform(0.55, 1.0) * dur
        y = np.clip((t - t1) / rise, 0, 1)
        prof = prof * (0.5 + 0.5 * np.cos(np.pi * y))
    return prof


def _wiggle(rng: np.random.Generator, t: np.ndarray, amp: float, fmax: float = 0.8) -> np.ndarray:
    """Smooth random perturbation: a sum of two random sinusoids (std ~ amp)."""
    out = np.zeros_like(t)
    for _ in range(2):
        f = rng.uniform(0.08, fmax)
        out += amp * rng.normal() * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(2)


def base_style(rng: np.random.Generator, t_len: int) -> dict[str, np.ndarray]:
    """A relaxed upright posture with personal variation (constant over the clip)."""
    p = {k: np.zeros(t_len) for k in POSE_PARAMS}
    c = lambda v: np.full(t_len, float(v))  # noqa: E731
    p["pelvis_pitch"] = c(rng.normal(0.03, 0.05))
    p["spine_pitch"] = c(rng.normal(0.05, 0.06))
    p["neck_pitch"] = c(rng.normal(0.05, 0.1))
    p["neck_yaw"] = c(rng.normal(0, 0.15))
    for s in "rl":
        p[f"{s}_sh_abd"] = c(abs(rng.normal(0.16, 0.08)) + 0.06)
        p[f"{s}_sh_flex"] = c(rng.normal(0.05, 0.12))
        p[f"{s}_sh_rot"] = c(rng.normal(0.1, 0.2))
        p[f"{s}_elbow"] = c(abs(rng.normal(0.25, 0.25)))
        p[f"{s}_hip_abd"] = c(rng.normal(0.06, 0.04))
        p[f"{s}_hip_rot"] = c(rng.normal(0.05, 0.12))
        p[f"{s}_knee"] = c(abs(rng.normal(0.04, 0.05)))
    return p


def _arm_target(rng: np.random.Generator) -> dict[str, float]:
    """A random arm configuration for reaching / raising (flexion, abduction, rotation, elbow)."""
    return {"sh_flex": rng.uniform(-0.3, 2.9), "sh_abd": rng.uniform(0.0, 2.2),
            "sh_rot": rng.normal(0, 0.5), "elbow": rng.uniform(0.0, 2.0)}


def _train_pose(action: str, rng: np.random.Generator, t: np.ndarray, p: dict[str, np.ndarray]) -> None:
    """The :data:`TRAIN_ACTIONS` poses, added to `p` in place."""
    prof = _ramp(rng, t)
    s, o = ("r", "l") if rng.random() < 0.5 else ("l", "r")
    if action == "limits":       # from one random pose within the limits to another
        for k, (lo, hi) in LIMITS.items():
            if k != "lift":
                a, b = rng.uniform(lo, hi, 2)
                p[k] = a + (b - a) * prof
        return
    moves = {
        "kick": {f"{s}_hip_flex": rng.uniform(0.8, 1.9), f"{s}_knee": rng.uniform(0.0, 0.6),
                 "pelvis_pitch": rng.uniform(-0.3, 0.1)},
        "lunge": {f"{s}_hip_flex": rng.uniform(0.8, 1.4), f"{s}_knee": rng.uniform(0.9, 1.6),
                  f"{o}_hip_flex": rng.uniform(-0.5, -0.1), f"{o}_knee": rng.uniform(0.3, 1.2),
                  "pelvis_pitch": rng.uniform(0.0, 0.4)},
        "sit": {"r_hip_flex": rng.uniform(1.2, 1.7), "l_hip_flex": rng.uniform(1.2, 1.7),
                "r_knee": rng.uniform(1.2, 1.8), "l_knee": rng.uniform(1.2, 1.8),
                "pelvis_pitch": rng.uniform(-0.2, 0.3), "lift": rng.uniform(0.2, 0.3)},
        "cross_reach": {f"{s}_sh_flex": rng.uniform(0.8, 2.0), f"{s}_sh_abd": rng.uniform(-0.2, 0.1),
                        f"{s}_sh_rot": rng.uniform(-1.2, -0.4), f"{s}_elbow": rng.uniform(0.0, 1.2),
                        "spine_yaw": rng.uniform(-0.8, 0.8)},
    }[action]
    for k, v in moves.items():
        p[k] = p[k] + prof * (v - p[k][0])


def sample_motion(rng: np.random.Generator, t_len: int, action: str | None = None,
                  train: bool = False) -> tuple[str, dict[str, np.ndarray]]:
    """One clip of ``t_len`` frames at :data:`FPS`: (action, {param: (T,) array}).

    `train` adds :data:`TRAIN_ACTIONS` to the actions drawn from. Root translation starts at the
    origin and the heading at 0 (facing world +y); the scene places and orients the clip relative
    to the camera.
    """
    if action is None:
        weights = {**ACTIONS, **(TRAIN_ACTIONS if train else {})}
        names = list(weights)
        w = np.array([weights[n] for n in names])
        action = names[rng.choice(len(names), p=w / w.sum())]
    t = np.arange(t_len) / FPS
    p = base_style(rng, t_len)
    sides = "rl"

    if action in TRAIN_ACTIONS:
        _train_pose(action, rng, t, p)
    elif action == "stand":
        shift = _wiggle(rng, t, 0.05, 0.4)
        p["pelvis_roll"] += shift
        p["r_hip_abd"] += shift * 0.5
        p["l_hip_abd"] -= shift * 0.5
        if rng.random() < 0.5:  # hands on hips / crossed arms / phone-like pose
            for s in sides:
                p[f"{s}_elbow"] += rng.uniform(0.8, 2.0)
                p[f"{s}_sh_abd"] += rng.uniform(0.0, 0.5)
    elif action == "walk":
        f = rng.uniform(0.7, 1.05)           # strides per second
        ph = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
        a_hip, a_knee, a_arm = rng.uniform(0.25, 0.5), rng.uniform(0.5, 1.0), rng.uniform(0.15, 0.5)
        p["r_hip_flex"] += a_hip * np.sin(ph)
        p["l_hip_flex"] += a_hip * np.sin(ph + np.pi)
        p["r_knee"] += a_knee * np.clip(np.sin(ph + 1.2), 0, None) ** 1.5
        p["l_knee"] += a_knee * np.clip(np.sin(ph + np.pi + 1.2), 0, None) ** 1.5
        p["r_sh_flex"] += a_arm * np.sin(ph + np.pi)
        p["l_sh_flex"] += a_arm * np.sin(ph)
        p["pelvis_yaw"] += 0.08 * np.sin(ph)
        p["lift"] += 0.02 * np.abs(np.sin(ph))
        speed = rng.uniform(0.0, 0.45) if rng.random() < 0.7 else 0.0   # ITOP rooms are small
        heading = rng.uniform(-np.pi, np.pi)
        p["yaw"] += heading
        fwd = np.array([-np.sin(heading), np.cos(heading)])
        p["root_x"] += speed * t * fwd[0]
        p["root_y"] += speed * t * fwd[1]
    elif action == "reach":
        prof = _ramp(rng, t)
        for s in (sides if rng.random() < 0.35 else rng.choice(list(sides))):
            tgt = _arm_target(rng)
            for k, v in tgt.items():
                p[f"{s}_{k}"] += prof * (v - p[f"{s}_{k}"][0])
        p["pelvis_pitch"] += prof * rng.uniform(-0.1, 0.5)
        p["spine_yaw"] += prof * rng.normal(0, 0.3)
        p["spine_roll"] += prof * rng.normal(0, 0.15)
    elif action == "bend":
        prof = _ramp(rng, t)
        p["pelvis_pitch"] += prof * rng.uniform(0.4, 1.5)
        p["spine_pitch"] += prof * rng.uniform(0.0, 0.5)
        p["neck_pitch"] -= prof * rng.uniform(0.0, 0.5)
        for s in sides:
            p[f"{s}_sh_flex"] += prof * rng.uniform(0.2, 1.6)
            p[f"{s}_knee"] += prof * rng.uniform(0.0, 0.4)
    elif action in ("squat", "crouch"):
        prof = _ramp(rng, t)
        deep = rng.uniform(0.7, 1.0) if action == "squat" else rng.uniform(0.4, 0.8)
        knee = deep * rng.uniform(1.6, 2.3)
        for s in sides:
            p[f"{s}_knee"] += prof * knee
            p[f"{s}_hip_flex"] += prof * knee * rng.uniform(0.6, 0.85)
            p[f"{s}_hip_abd"] += prof * rng.uniform(0.0, 0.35)
            p[f"{s}_sh_flex"] += prof * rng.uniform(0.0, 1.6)
            p[f"{s}_elbow"] += prof * rng.uniform(0.0, 1.2)
        p["pelvis_pitch"] += prof * knee * rng.uniform(0.15, 0.45)
    elif action == "turn":
        total = rng.choice([-1, 1]) * rng.uniform(0.8, 3.2)
        prof = _ramp(rng, t, back=False)
        p["yaw"] += total * prof
        f = rng.uniform(0.8, 1.3)
        ph = 2 * np.pi * f * t
        step = np.gradient(prof) * len(t) / 4
        p["r_hip_flex"] += 0.25 * step * np.clip(np.sin(ph), 0, None)
        p["l_hip_flex"] += 0.25 * step * np.clip(-np.sin(ph), 0, None)
        p["r_knee"] += 0.5 * step * np.clip(np.sin(ph), 0, None)
        p["l_knee"] += 0.5 * step * np.clip(-np.sin(ph), 0, None)
        p["neck_yaw"] += 0.3 * np.sign(total) * step
    elif action == "arm_raise":
        prof = _ramp(rng, t, back=rng.random() < 0.7)
        kind = rng.integers(3)       # 0 lateral, 1 frontal, 2 overhead
        for s in (sides if rng.random() < 0.6 else rng.choice(list(sides))):
            if kind == 0:
                p[f"{s}_sh_abd"] += prof * rng.uniform(1.0, 2.8)
            elif kind == 1:
                p[f"{s}_sh_flex"] += prof * rng.uniform(1.0, 2.8)
            else:
                p[f"{s}_sh_flex"] += prof * rng.uniform(2.4, 3.0)
                p[f"{s}_sh_abd"] += prof * rng.uniform(0.0, 0.5)
            p[f"{s}_elbow"] *= 1 - 0.8 * prof
    elif action == "wave":
        s = rng.choice(list(sides))
        prof = _ramp(rng, t, back=False)
        p[f"{s}_sh_abd"] += prof * rng.uniform(1.0, 2.0)
        p[f"{s}_sh_flex"] += prof * rng.uniform(0.0, 1.0)
        p[f"{s}_elbow"] += prof * (rng.uniform(0.8, 1.6) + 0.45 * np.sin(2 * np.pi * rng.uniform(1.0, 2.5) * t))
        p[f"{s}_sh_rot"] += prof * rng.uniform(-1.0, 0.2)
    elif action == "random":
        for k in POSE_PARAMS:
            if k in ("root_x", "root_y", "lift"):
                continue
            amp = 0.9 if ("sh_" in k or "elbow" in k) else 0.35 if ("hip" in k or "knee" in k) else 0.2
            p[k] += rng.normal(0, amp) * 0.6 + _wiggle(rng, t, amp * 0.6, 1.0)
        for s in sides:
            p[f"{s}_elbow"] = np.abs(p[f"{s}_elbow"])
            p[f"{s}_knee"] = np.abs(p[f"{s}_knee"])
    else:
        raise ValueError(f"unknown action {action!r}; expected one of {(*ACTIONS, *TRAIN_ACTIONS)}")

    # Smooth random limb perturbations on every clip: breaks the action templates.
    for k in POSE_PARAMS:
        if k in ("root_x", "root_y", "lift", "yaw"):
            continue
        amp = 0.15 if ("sh_" in k or "elbow" in k) else 0.06
        p[k] = p[k] + _wiggle(rng, t, amp)
    p["yaw"] = p["yaw"] + _wiggle(rng, t, 0.08, 0.3)
    return action, p
