"""Synthetic human bodies: anthropometrics, forward kinematics and volumetric primitives.

A body is a 15-joint ITOP skeleton *with volume*: the depth camera sees surfaces, while
ITOP ground truth is the joint *centre* inside the body (hip centre inside the pelvis,
shoulder centre inside the deltoid, "torso" at mid-trunk). Rendering volumes instead of
sticks makes the gap between "depth at the 2D joint" and "3D joint" -- the very thing
RefiNet learns to close -- appear as it does on real data (5-15 cm, larger for the trunk).

Frames used here:

* body frame: x = the person's LEFT, y = forward (facing direction), z = up;
* world frame: z up, the floor is z = 0. ``forward_kinematics`` works in the world frame
  directly (a heading yaw about z and a root translation place the body).

Everything is vectorised over T frames of a clip: angles are (T,) arrays.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from refinet_ros.core.joints import (
    HEAD, L_ELBOW, L_FOOT, L_HAND, L_HIP, L_KNEE, L_SHOULDER, NECK, NUM_JOINTS, R_ELBOW,
    R_FOOT, R_HAND, R_HIP, R_KNEE, R_SHOULDER, TORSO,
)


# --------------------------------------------------------------------------- rotations
def rot_x(a: np.ndarray) -> np.ndarray:
    """Batched rotations about x: (T,) radians -> (T, 3, 3)."""
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _apply(r: np.ndarray, v) -> np.ndarray:
    """(T,3,3) @ (3,) or (T,3) -> (T,3)."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        return r @ v
    return np.einsum("tij,tj->ti", r, v)


# --------------------------------------------------------------------------- anthropometrics
@dataclass(frozen=True)
class BodyDims:
    """One subject's true body dimensions (metres) and shape factors.

    The *recorded measurements* (see :meth:`measurements`) are distances between the ITOP
    ground-truth joint centres, so a later anthropometry estimate made from joints can be
    scored against them directly.
    """

    stature: float          #: floor to top of head, standing upright
    shoulder_width: float   #: between the two shoulder joint centres
    hip_width: float        #: between the two hip joint centres
    upper_arm: float        #: shoulder -> elbow joint
    forearm: float          #: elbow -> ITOP "hand" joint (wrist / base of the palm)
    thigh: float            #: hip -> knee
    shin: float             #: knee -> ITOP "foot" joint (ankle)
    #: mid-hip -> neck joint standing upright (the "torso length"; a bent spine shortens the straight distance)
    trunk: float
    torso_frac: float       #: the ITOP torso joint sits this far up the mid-hip -> neck line
    neck_head: float        #: neck joint -> head centre
    ankle_height: float     #: ankle joint above the sole
    foot_length: float
    girth: float            #: BMI-like factor scaling limb and trunk radii (1 = average)
    belly: float            #: extra abdominal depth factor
    chest_depth: float      #: half-depth of the chest ellipsoid
    head_scale: float

    def measurements(self) -> dict[str, float]:
        """The true dimensions recorded for the anthropometry task (metres)."""
        return {
            "stature": self.stature, "shoulder_width": self.shoulder_width, "hip_width": self.hip_width,
            "upper_arm": self.upper_arm, "forearm": self.forearm, "thigh": self.thigh, "shin": self.shin,
            "torso": self.trunk, "girth": self.girth,
        }

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def sample_body(rng: np.random.Generator, stature_m: tuple[float, float] = (1.50, 2.00),
                limb_scale: float = 1.0) -> BodyDims:
    """Draw one subject: stature in `stature_m` (default 1.5-2.0 m), proportions after Winter's
    segment ratios (limbs times `limb_scale`) with +-5 % independent per-segment variation,
    shoulder width and girth (BMI) varied widely so a model cannot learn one fixed bone-length prior."""
    s = float(rng.uniform(*stature_m))
    masc = float(rng.uniform(0.0, 1.0))          # broad-shouldered <-> broad-hipped continuum
    v = lambda: float(rng.normal(1.0, 0.035))    # noqa: E731  per-segment variation
    thigh = 0.245 * s * v() * limb_scale
    shin = 0.246 * s * v() * limb_scale
    ankle = 0.039 * s * v()
    neck_head = 0.075 * s * v()
    head_top = neck_head + 0.062 * s                       # head centre -> crown
    trunk = max(s - ankle - shin - thigh - neck_head - 0.062 * s, 0.22 * s)  # so the crown sits at the stature
    girth = float(np.clip(rng.lognormal(0.0, 0.16), 0.75, 1.55))
    return BodyDims(
        stature=float(ankle + shin + thigh + trunk + head_top),
        shoulder_width=0.198 * s * (0.92 + 0.14 * masc) * v(),
        hip_width=0.100 * s * (1.06 - 0.10 * masc) * v(),
        upper_arm=0.186 * s * v() * limb_scale,
        forearm=0.160 * s * v() * limb_scale,
        thigh=thigh, shin=shin, trunk=trunk,
        torso_frac=float(rng.uniform(0.36, 0.48)),
        neck_head=neck_head, ankle_height=ankle,
        foot_length=0.152 * s * v(),
        girth=girth,
        belly=float(np.clip(rng.normal(1.0, 0.12) * girth ** 1.5, 0.8, 2.0)),
        chest_depth=float(0.058 * s * (0.9 + 0.2 * masc) * girth ** 0.7),
        head_scale=float(rng.normal(1.0, 0.04)),
    )


# --------------------------------------------------------------------------- kinematics
#: Pose parameters (radians unless noted), each a (T,) array. Positive = flexion / raise.
POSE_PARAMS: tuple[str, ...] = (
    "root_x", "root_y", "yaw",                       # metres, metres, heading about world z
    "pelvis_pitch", "pelvis_roll", "pelvis_yaw",     # trunk bend at the hips (forward +)
    "spine_pitch", "spine_roll", "spine_yaw",        # chest relative to pelvis
    "neck_pitch", "neck_yaw", "neck_roll",
    "r_sh_flex", "r_sh_abd", "r_sh_rot", "r_elbow",
    "l_sh_flex", "l_sh_abd", "l_sh_rot", "l_elbow",
    "r_hip_flex", "r_hip_abd", "r_hip_rot", "r_knee",
    "l_hip_flex", "l_hip_abd", "l_hip_rot", "l_knee",
    "lift",                                          # metres the lowest sole sits above the floor
)

#: Joint limits applied before kinematics (radians).
LIMITS: dict[str, tuple[float, float]] = {
    "pelvis_pitch": (-0.35, 1.6), "pelvis_roll": (-0.35, 0.35), "pelvis_yaw": (-0.6, 0.6),
    "spine_pitch": (-0.4, 0.9), "spine_roll": (-0.45, 0.45), "spine_yaw": (-0.8, 0.8),
    "neck_pitch": (-0.6, 0.8), "neck_yaw": (-1.1, 1.1), "neck_roll": (-0.4, 0.4),
    "r_sh_flex": (-0.9, 3.1), "l_sh_flex": (-0.9, 3.1), "r_sh_abd": (-0.2, 3.0), "l_sh_abd": (-0.2, 3.0),
    "r_sh_rot": (-1.2, 1.2), "l_sh_rot": (-1.2, 1.2), "r_elbow": (0.0, 2.6), "l_elbow": (0.0, 2.6),
    "r_hip_flex": (-0.5, 2.1), "l_hip_flex": (-0.5, 2.1), "r_hip_abd": (-0.3, 0.9), "l_hip_abd": (-0.3, 0.9),
    "r_hip_rot": (-0.7, 0.7), "l_hip_rot": (-0.7, 0.7), "r_knee": (0.0, 2.5), "l_knee": (0.0, 2.5),
    "lift": (0.0, 0.3),
}


def neutral_pose(t: int) -> dict[str, np.ndarray]:
    return {k: np.zeros(t) for k in POSE_PARAMS}


@dataclass
class Kinematics:
    """Result of forward kinematics for T frames, world frame (z up)."""

    joints: np.ndarray        #: (T, 15, 3) ITOP joint centres
    r_pelvis: np.ndarray      #: (T, 3, 3) pelvis frame (columns: left, forward, up)
    r_chest: np.ndarray
    r_head: np.ndarray
    r_forearm: np.ndarray     #: (T, 2, 3, 3) right, left
    foot_dir: np.ndarray      #: (T, 2, 3) unit horizontal toe directions, right, left


def forward_kinematics(dims: BodyDims, pose: dict[str, np.ndarray]) -> Kinematics:
    """ITOP joint centres for T frames. Legs hang from the heading frame (so a trunk bend does
    not swing them), arms from the chest frame. The body is lowered until its lowest sole
    touches the floor (plus ``lift``), so crouches and squats ground themselves."""
    p = {k: np.clip(np.asarray(pose[k], dtype=np.float64), *LIMITS[k]) if k in LIMITS
         else np.asarray(pose[k], dtype=np.float64) for k in POSE_PARAMS}
    t = p["yaw"].shape[0]
    r_yaw = rot_z(p["yaw"])
    r_pel = r_yaw @ rot_z(p["pelvis_yaw"]) @ rot_x(-p["pelvis_pitch"]) @ rot_y(p["pelvis_roll"])
    root = np.stack([p["root_x"], p["root_y"], np.zeros(t)], -1)
    j = np.zeros((t, NUM_JOINTS, 3))
    hw = dims.hip_width / 2
    j[:, L_HIP] = root + _apply(r_pel, [hw, 0, 0])
    j[:, R_HIP] = root + _apply(r_pel, [-hw, 0, 0])
    j[:, TORSO] = root + _apply(r_pel, [0, -0.01, dims.torso_frac * dims.trunk])
    r_chest = r_pel @ rot_x(-p["spine_pitch"]) @ rot_y(p["spine_roll"]) @ rot_z(p["spine_yaw"])
    j[:, NECK] = j[:, TORSO] + _apply(r_chest, [0, 0, (1 - dims.torso_frac) * dims.trunk])
    sw = dims.shoulder_width / 2
    drop = 0.018 * dims.stature
    j[:, L_SHOULDER] = j[:, NECK] + _apply(r_chest, [sw, -0.01, -drop])
    j[:, R_SHOULDER] = j[:, NECK] + _apply(r_chest, [-sw, -0.01, -drop])
    r_head = r_chest @ rot_x(-p["neck_pitch"]) @ rot_z(p["neck_yaw"]) @ rot_y(p["neck_roll"])
    j[:, HEAD] = j[:, NECK] + _apply(r_head, [0, 0.02, dims.neck_head])
    r_fore = np.zeros((t, 2, 3, 3))
    for k, (side, sgn, s_i, e_i, h_i) in enumerate((("r", -1, R_SHOULDER, R_ELBOW, R_HAND),
                                                     ("l", 1, L_SHOULDER, L_ELBOW, L_HAND))):
        r_ua = (r_chest @ rot_y(-sgn * p[f"{side}_sh_abd"]) @ rot_x(p[f"{side}_sh_flex"])
                @ rot_z(sgn * p[f"{side}_sh_rot"]))
        j[:, e_i] = j[:, s_i] + _apply(r_ua, [0, 0, -dims.upper_arm])
        r_fa = r_ua @ rot_x(p[f"{side}_elbow"])
        j[:, h_i] = j[:, e_i] + _apply(r_fa, [0, 0, -dims.forearm])
        r_fore[:, k] = r_fa
    foot_dir = np.zeros((t, 2, 3))
    for k, (side, sgn, hip_i, knee_i, foot_i) in enumerate((("r", -1, R_HIP, R_KNEE, R_FOOT),
                                                            ("l", 1, L_HIP, L_KNEE, L_FOOT))):
        r_th = (r_yaw @ rot_y(-sgn * p[f"{side}_hip_abd"]) @ rot_x(p[f"{side}_hip_flex"])
                @ rot_z(sgn * p[f"{side}_hip_rot"]))
        j[:, knee_i] = j[:, hip_i] + _apply(r_th, [0, 0, -dims.thigh])
        r_sh = r_th @ rot_x(-p[f"{side}_knee"])
        j[:, foot_i] = j[:, knee_i] + _apply(r_sh, [0, 0, -dims.shin])
        fwd = _apply(r_yaw @ rot_z(sgn * p[f"{side}_hip_rot"] + sgn * 0.15), [0, 1, 0])
        foot_dir[:, k] = fwd
    sole = np.minimum(j[:, R_FOOT, 2], j[:, L_FOOT, 2]) - dims.ankle_height
    j[..., 2] -= (sole - p["lift"])[:, None]
    return Kinematics(j, r_pel, r_chest, r_head, r_fore, foot_dir)


# --------------------------------------------------------------------------- volumes
@dataclass
class Primitives:
    """Volumetric primitives of one or more frames, in a common frame.

    capsules: segment a-b with radius r (limbs, neck, shoulder girdle);
    ellipsoids: centre c, orientation R (columns = semi-axis directions) and semi-axes radii
    (head, chest, abdomen, pelvis, hands, feet).
    Leading axes are (T,) for a clip or absent for one frame.
    """

    cap_a: np.ndarray
    cap_b: np.ndarray
    cap_r: np.ndarray
    ell_c: np.ndarray
    ell_r: np.ndarray
    ell_radii: np.ndarray

    def frame(self, i: int) -> "Primitives":
        return Primitives(self.cap_a[i], self.cap_b[i], self.cap_r[i], self.ell_c[i], self.ell_r[i], self.ell_radii[i])

    def transformed(self, rot: np.ndarray, trans: np.ndarray) -> "Primitives":
        """x -> rot @ x + trans (for one frame)."""
        return Primitives(self.cap_a @ rot.T + trans, self.cap_b @ rot.T + trans, self.cap_r,
                          self.ell_c @ rot.T + trans, rot @ self.ell_r, self.ell_radii)


#: Half-thickness of the body around each joint (m, for girth 1): how far the visible
#: surface may lie in front of the joint centre and the joint still count as visible.
JOINT_RADIUS = np.array([0.10, 0.06, 0.075, 0.05, 0.05, 0.05, 0.05, 0.05,
                         0.12, 0.11, 0.11, 0.06, 0.06, 0.06, 0.06], dtype=np.float64)
JOINT_RADIUS[[L_SHOULDER, R_SHOULDER]] = 0.075
JOINT_RADIUS[[R_ELBOW, L_ELBOW]] = 0.05


def joint_radius(dims: BodyDims) -> np.ndarray:
    return JOINT_RADIUS * np.where(np.arange(NUM_JOINTS) == HEAD, dims.head_scale, dims.girth)


def _frame_from_axis(axis: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(T,3) length axis + reference -> (T,3,3) columns (side, ref-ish, axis)."""
    z = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    x = np.cross(ref, z)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    x = np.where(n > 1e-6, x / np.maximum(n, 1e-9), np.array([1.0, 0, 0]))
    y = np.cross(z, x)
    return np.stack([x, y, z], -1)


def build_primitives(dims: BodyDims, kin: Kinematics) -> Primitives:
    """Capsules and ellipsoids around the skeleton. Radii scale with stature and girth; the
    trunk is three ellipsoids (chest, abdomen, pelvis) flattened front-to-back, so the torso
    and hip joints sit 8-15 cm behind the visible surface, as on a real person."""
    j = kin.joints
    t = j.shape[0]
    g, sf = dims.girth, dims.stature / 1.75
    hs = dims.head_scale * sf
    r_ua, r_fa, r_th, r_sh = 0.048 * g * sf, 0.043 * g * sf, 0.072 * g * sf, 0.054 * g * sf
    r_neck, r_girdle = 0.052 * g * sf, 0.056 * g * sf
    head_top = j[:, NECK] + _apply(kin.r_head, [0, 0.01, 0.55 * dims.neck_head])
    caps = [  # (a, b, r)
        (j[:, NECK] + _apply(kin.r_chest, [0, -0.01, -0.03]), head_top, r_neck),
        (j[:, R_SHOULDER], j[:, L_SHOULDER], r_girdle),
        (j[:, R_SHOULDER], j[:, R_ELBOW], r_ua), (j[:, L_SHOULDER], j[:, L_ELBOW], r_ua),
        (j[:, R_ELBOW], j[:, R_HAND], r_fa), (j[:, L_ELBOW], j[:, L_HAND], r_fa),
        (j[:, R_HIP], j[:, R_KNEE], r_th), (j[:, L_HIP], j[:, L_KNEE], r_th),
        (j[:, R_KNEE], j[:, R_FOOT], r_sh), (j[:, L_KNEE], j[:, L_FOOT], r_sh),
    ]
    cap_a = np.stack([c[0] for c in caps], 1)
    cap_b = np.stack([c[1] for c in caps], 1)
    cap_r = np.broadcast_to(np.array([c[2] for c in caps]), (t, len(caps))).copy()

    mid_hip = 0.5 * (j[:, R_HIP] + j[:, L_HIP])
    chest_c = j[:, NECK] + _apply(kin.r_chest, [0, -0.005, -0.155 * sf])
    abd_c = j[:, TORSO] + _apply(kin.r_pelvis, [0, 0.01 * dims.belly, 0])
    pel_c = mid_hip + _apply(kin.r_pelvis, [0, -0.012, 0.035 * sf])
    ells = [  # (centre, rotation, radii)
        (j[:, HEAD], kin.r_head, np.array([0.074, 0.094, 0.112]) * hs),
        (chest_c, kin.r_chest, np.array([0.45 * dims.shoulder_width * g ** 0.5 + 0.02, dims.chest_depth, 0.19 * sf])),
        (abd_c, 0.5 * (kin.r_chest + kin.r_pelvis), np.array([0.135 * g * sf, 0.085 * dims.belly * sf, 0.16 * sf])),
        (pel_c, kin.r_pelvis, np.array([0.5 * dims.hip_width + 0.075 * g * sf, 0.088 * g * sf, 0.12 * sf])),
    ]
    for k, h_i in enumerate((R_HAND, L_HAND)):
        r = kin.r_forearm[:, k]
        ells.append((j[:, h_i] + _apply(r, [0, 0, -0.035 * sf]), r, np.array([0.046, 0.028, 0.075]) * sf * g ** 0.3))
    for k, f_i in enumerate((R_FOOT, L_FOOT)):
        d = kin.foot_dir[:, k]
        rf = _frame_from_axis(d, np.broadcast_to([0.0, 0.0, 1.0], d.shape))
        c = j[:, f_i] + d * (0.28 * dims.foot_length) - np.array([0, 0, 0.5 * dims.ankle_height])
        ells.append((c, rf, np.array([0.045 * sf * g ** 0.3, 0.042 * sf, 0.5 * dims.foot_length])))
    ell_c = np.stack([e[0] for e in ells], 1)
    ell_r = np.stack([np.broadcast_to(e[1], (t, 3, 3)) for e in ells], 1)
    ell_radii = np.stack([np.broadcast_to(e[2], (t, 3)) for e in ells], 1)
    return Primitives(cap_a, cap_b, cap_r, ell_c, ell_r, ell_radii.copy())
