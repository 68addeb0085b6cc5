"""Simulated 2D pose detector: ground-truth pixels -> noisy keypoints with confidences.

RefiNet starts from an off-the-shelf 2D detector (the paper used OpenPose). Its errors are
not white noise, and each mode below reproduces one that real detectors show on ITOP-like
depth/IR images:

* **Per-joint jitter** (pixels, heavy-tailed, temporally correlated within a clip):
  larger for elbows, hands and feet (small, fast, ambiguous parts) than for head/neck;
  it scales with the person's apparent size.
* **Gross misses**: a joint snaps to a wrong nearby location -- another body part
  (a hand on the hip, a knee on the other knee) or a spurious blob a few tens of pixels
  away. When the miss lands off the silhouette, depth lookup hits the background: the
  metre-scale outliers of baseline lifting.
* **Left/right swaps**: of one limb pair, or of the whole body -- much more often for
  back-facing people (detectors assume a frontal view).
* **Occlusion**: occluded joints are *guessed*: larger jitter, more misses, lower
  confidence. In the top view the lower body is hidden and the guesses are poor.
* **Confidence** correlates with the error (but imperfectly: some misses are confident),
  so a downstream model can learn how much to trust each keypoint -- or, as with many real
  detectors, means something else entirely: constant, or unrelated to the error.
* **Keypoint convention**: a detector trained on another skeleton (COCO's nose, hips and
  ankles are not ITOP's head, hips and feet) is offset from ITOP's joints systematically,
  in the body's own image axes.

Named :data:`PROFILES` are the evaluation families; :func:`random_profile` draws the training
family, one profile per clip from wide ranges of every mode above. A model trained on the random
family has never seen a named one, which is what `refinet bench detectors` holds out.

Keypoints are always finite and clipped to the image (like OpenPose output after
filling); an undetected or off-image joint gets a low confidence.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..joints import (
    FLIP_PERMUTATION, HEAD, L_ELBOW, L_FOOT, L_HAND, L_HIP, L_KNEE, L_SHOULDER, NECK, R_ELBOW,
    R_FOOT, R_HAND, R_HIP, R_KNEE, R_SHOULDER, TORSO,
)

#: Plausible wrong targets for a miss (other parts a detector confuses a joint with).
CONFUSERS: dict[int, tuple[int, ...]] = {
    HEAD: (NECK, R_SHOULDER, L_SHOULDER, R_HAND, L_HAND), NECK: (HEAD, TORSO, R_SHOULDER, L_SHOULDER),
    R_SHOULDER: (NECK, R_ELBOW, L_SHOULDER), L_SHOULDER: (NECK, L_ELBOW, R_SHOULDER),
    R_ELBOW: (R_SHOULDER, R_HAND, R_HIP, TORSO, L_ELBOW), L_ELBOW: (L_SHOULDER, L_HAND, L_HIP, TORSO, R_ELBOW),
    R_HAND: (R_HIP, TORSO, L_HAND, R_ELBOW, HEAD), L_HAND: (L_HIP, TORSO, R_HAND, L_ELBOW, HEAD),
    TORSO: (NECK, R_HIP, L_HIP, R_HAND, L_HAND),
    R_HIP: (L_HIP, TORSO, R_HAND, R_KNEE), L_HIP: (R_HIP, TORSO, L_HAND, L_KNEE),
    R_KNEE: (L_KNEE, R_HIP, R_FOOT), L_KNEE: (R_KNEE, L_HIP, L_FOOT),
    R_FOOT: (L_FOOT, R_KNEE), L_FOOT: (R_FOOT, L_KNEE),
}

#: Parent of each joint in the image (for along-the-bone jitter) and which joints are limb ends.
_PARENT = np.array([NECK, TORSO, NECK, NECK, R_SHOULDER, L_SHOULDER, R_ELBOW, L_ELBOW, NECK, TORSO, TORSO,
                    R_HIP, L_HIP, R_KNEE, L_KNEE])
_IS_LIMB = np.isin(np.arange(15), [R_ELBOW, L_ELBOW, R_HAND, L_HAND, R_KNEE, L_KNEE, R_FOOT, L_FOOT])

LIMB_PAIRS = ((R_SHOULDER, L_SHOULDER), (R_ELBOW, L_ELBOW), (R_HAND, L_HAND),
              (R_HIP, L_HIP), (R_KNEE, L_KNEE), (R_FOOT, L_FOOT))
ARM, LEG = (1, 2), (4, 5)   # indices into LIMB_PAIRS swapped together (elbow+hand, knee+foot)


@dataclass(frozen=True)
class DetectorProfile:
    """Noise profile of a simulated 2D detector. Pixel values are for a person seen at
    2.9 m by the ITOP camera (f = 285.7 px) and scale with the person's apparent size."""

    name: str
    sigma_px: tuple[float, ...]     #: per-joint jitter std (visible joints)
    tail_df: float = 4.0            #: Student-t degrees of freedom of the jitter (heavy tails)
    temporal_rho: float = 0.6       #: AR(1) correlation of jitter between consecutive frames
    occluded_factor: float = 2.0    #: jitter multiplier for occluded joints
    p_miss: float = 0.03            #: gross miss probability, visible joint
    p_miss_occluded: float = 0.15   #: gross miss probability, occluded joint
    miss_px: tuple[float, float] = (10.0, 35.0)  #: displacement of a blob-type miss
    p_swap_limb: float = 0.02       #: per frame, per arm/leg pair: L/R swap
    p_swap_body: float = 0.01       #: per frame: whole-body L/R flip, frontal person
    p_swap_body_back: float = 0.2   #: per frame: whole-body L/R flip, back-facing person
    along_ratio: float = 1.6        #: limb joints: jitter along the bone / across it (stays on the limb)
    p_snap: float = 0.85            #: off-silhouette keypoints pulled back onto the nearest body pixel
    snap_px: int = 8                #: search radius for that pull (px)
    part_miss: float = 0.8          #: share of misses landing on another body part (rest: a blob nearby)
    conf_px: float = 8.0            #: error (px) at which confidence has dropped to ~0.6
    top_factor: float = 1.8         #: jitter and miss multiplier in the top view
    #: what the confidence says: "informative" (falls with the error), "constant" (conf_value), "random"
    confidence: str = "informative"
    conf_value: float = 1.0         #: the constant of confidence="constant"
    #: per joint (lateral, down) offset in px of the body's own image axes (lateral: right hip ->
    #: left hip, down: neck -> torso): another keypoint convention; None = ITOP's joints
    offset_px: tuple[tuple[float, float], ...] | None = None

    def scaled(self, factor: float) -> "DetectorProfile":
        """Same profile with jitter and miss rates scaled (for calibration sweeps)."""
        return replace(self, sigma_px=tuple(s * factor for s in self.sigma_px),
                       p_miss=min(self.p_miss * factor, 0.9), p_miss_occluded=min(self.p_miss_occluded * factor, 0.9))


#              head neck rsh  lsh  relb lelb rhnd lhnd tors rhip lhip rkne lkne rft  lft
_HRNET = (1.2, 1.3, 1.5, 1.5, 2.0, 2.0, 2.5, 2.5, 1.9, 2.1, 2.1, 1.9, 1.9, 2.2, 2.2)
_OPENPOSE = (1.55, 1.65, 1.95, 1.95, 2.6, 2.6, 3.1, 3.1, 2.4, 2.65, 2.65, 2.4, 2.4, 2.85, 2.85)
#: COCO-17 mapped onto ITOP by name: the nose sits below the head centre, COCO hips are higher and
#: wider than the hip joint centres, ankles above ITOP's feet (px at 2.9 m; lateral, down).
_COCO_OFFSETS = ((0.0, 6.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0),
                 (0.0, 0.0), (0.0, 0.0), (-3.0, -5.0), (3.0, -5.0), (0.0, 0.0), (0.0, 0.0), (0.0, -6.0),
                 (0.0, -6.0))

PROFILES: dict[str, DetectorProfile] = {
    # Perfect detector up to sub-pixel rounding: isolates depth/lifting errors.
    "clean": DetectorProfile("clean", (0.5,) * 15, tail_df=50.0, temporal_rho=0.0, occluded_factor=1.0,
                             p_miss=0.0, p_miss_occluded=0.0, p_swap_limb=0.0, p_swap_body=0.0,
                             p_swap_body_back=0.0, conf_px=4.0, top_factor=1.0),
    # A strong modern top-down detector (HRNet-like): small jitter, few misses.
    "hrnet": DetectorProfile("hrnet", _HRNET, tail_df=4.0, occluded_factor=2.0, p_miss=0.012,
                             p_miss_occluded=0.08, p_swap_limb=0.01, p_swap_body=0.005,
                             p_swap_body_back=0.12, conf_px=6.0, top_factor=1.6),
    # OpenPose on depth-derived images, as in the RefiNet paper: calibrated so that baseline
    # lifting lands near the paper's side-view baseline (0.646 mAP / 12.6 cm; here ~0.67 / 14.7 cm
    # on seed 2020). In the top view the keypoints are twice as noisy and the baseline fails mostly
    # through occlusion (~0.26 mAP, lower body ~0.04); at x4 noise it matched the paper's 0.153
    # but left keypoints a median 22 px off, beyond what any depth refinement can recover.
    "openpose": DetectorProfile("openpose", _OPENPOSE, tail_df=3.0, occluded_factor=2.5, p_miss=0.016,
                                p_miss_occluded=0.09, p_swap_limb=0.02, p_swap_body=0.01,
                                p_swap_body_back=0.25, conf_px=9.0, top_factor=2.0,
                                p_snap=0.99, part_miss=0.9),
}
# Evaluation families that differ qualitatively from the two above (`refinet bench detectors`):
PROFILES.update({
    # Plain isotropic Gaussian jitter (median error ~4 px), never pulled onto the body, so thin
    # limbs' keypoints often land on the background behind them; confidence carries nothing.
    "gauss": DetectorProfile("gauss", (3.4,) * 15, tail_df=1e6, temporal_rho=0.0, occluded_factor=1.0,
                             p_miss=0.0, p_miss_occluded=0.0, p_swap_limb=0.0, p_swap_body=0.0, p_swap_body_back=0.0,
                             along_ratio=1.0, p_snap=0.0, top_factor=1.0, confidence="constant", conf_value=1.0),
    # The paper's detector with doubled noise and miss rates.
    "noisy": replace(PROFILES["openpose"].scaled(2.0), name="noisy"),
    # A strong detector with another keypoint convention (COCO-17 head, hips and ankles).
    "coco": replace(PROFILES["hrnet"], name="coco", offset_px=_COCO_OFFSETS),
    # OpenPose-like keypoints whose confidence is unrelated to their error.
    "random_conf": replace(PROFILES["openpose"], name="random_conf", confidence="random"),
})
#: The named families `refinet bench detectors` scores, all held out of training.
EVAL_FAMILIES = ("openpose", "hrnet", "gauss", "noisy", "coco", "random_conf")
#: The training family: one :func:`random_profile` per clip.
RANDOM_FAMILY = "random"

DEFAULT_PROFILE = "openpose"


def get_profile(profile: str | DetectorProfile | None) -> DetectorProfile:
    """A named profile (or the profile itself); "random" is not one profile: see random_profile."""
    if profile is None:
        return PROFILES[DEFAULT_PROFILE]
    if isinstance(profile, DetectorProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown detector profile {profile!r}; "
                         f"expected one of {(*PROFILES, RANDOM_FAMILY)}") from None


def random_profile(rng: np.random.Generator) -> DetectorProfile:
    """One detector of the training family: every error mode drawn from a wide range.

    Jitter 0.5x-3x the OpenPose profile (log-uniform, per-joint shape varied, tails from Cauchy-like
    to Gaussian), snapping onto the body with any probability, miss and swap rates from none to
    several times the named profiles', a systematic convention offset on a random subset of joints
    in half of the clips, and a confidence that is informative, constant or random."""
    u = rng.uniform
    shape = np.asarray(_OPENPOSE) * u(0.7, 1.4, 15) * np.exp(u(np.log(0.5), np.log(3.0)))
    offsets = None
    if rng.random() < 0.5:
        moved = rng.random(15) < 0.35
        offsets = tuple(map(tuple, np.where(moved[:, None], rng.normal(0.0, 5.0, (15, 2)), 0.0).round(2)))
    mode = rng.choice(["informative", "constant", "random"], p=[0.6, 0.2, 0.2])
    return DetectorProfile(
        RANDOM_FAMILY, tuple(shape.round(3)), tail_df=float(np.exp(u(np.log(2.2), np.log(60.0)))),
        temporal_rho=u(0.0, 0.9), occluded_factor=u(1.0, 3.0), p_miss=u(0.0, 0.05), p_miss_occluded=u(0.0, 0.25),
        miss_px=(u(5.0, 15.0), u(20.0, 50.0)), p_swap_limb=u(0.0, 0.05), p_swap_body=u(0.0, 0.03),
        p_swap_body_back=u(0.0, 0.4), along_ratio=u(1.0, 2.5), p_snap=u(0.0, 1.0), snap_px=int(rng.integers(3, 13)),
        part_miss=u(0.3, 1.0), conf_px=u(4.0, 15.0), top_factor=u(1.0, 2.5), confidence=str(mode),
        conf_value=u(0.3, 1.0), offset_px=offsets)


def _snap(kp: np.ndarray, person: np.ndarray, pr: DetectorProfile, rng: np.random.Generator) -> np.ndarray:
    """Move off-silhouette keypoints (with probability p_snap) to the nearest person pixel
    within snap_px: real heatmaps peak on body evidence, not on the wall behind."""
    t_len, nj = kp.shape[:2]
    _, h, w = person.shape
    ui = np.clip(np.rint(kp[..., 0]), 0, w - 1).astype(np.int64)
    vi = np.clip(np.rint(kp[..., 1]), 0, h - 1).astype(np.int64)
    ti = np.broadcast_to(np.arange(t_len)[:, None], (t_len, nj))
    off = ~person[ti, vi, ui] & (rng.random((t_len, nj)) < pr.p_snap)
    if not off.any():
        return kp
    r = pr.snap_px
    dv, du = np.mgrid[-r:r + 1, -r:r + 1]
    dv, du = dv.ravel(), du.ravel()
    d2 = (dv * dv + du * du).astype(np.float64)
    a, b = np.nonzero(off)
    vv = vi[a, b][:, None] + dv
    uu = ui[a, b][:, None] + du
    ok = (vv >= 0) & (vv < h) & (uu >= 0) & (uu < w) & (d2 <= r * r)
    hit = ok & person[a[:, None], np.clip(vv, 0, h - 1), np.clip(uu, 0, w - 1)]
    cost = np.where(hit, d2 + rng.random(hit.shape) * 0.5, np.inf)
    best = np.argmin(cost, axis=1)
    found = np.isfinite(cost[np.arange(len(a)), best])
    kp = kp.copy()
    kp[a[found], b[found], 0] = uu[found, best[found]]
    kp[a[found], b[found], 1] = vv[found, best[found]]
    return kp


def simulate_clip(uv: np.ndarray, visible: np.ndarray, scale: np.ndarray, back_facing: np.ndarray,
                  width: int, height: int, profile: DetectorProfile, view: str,
                  rng: np.random.Generator, person: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Detections for the T consecutive frames of one clip.

    uv (T, 15, 2) ground-truth pixels (may be off-image / NaN); visible (T, 15) bool;
    scale (T,) apparent-size factor (1 = person at 2.9 m); back_facing (T,) bool;
    person (T, H, W) bool silhouettes (optional) for snapping keypoints onto the body.
    Returns keypoints (T, 15, 2) float32 and confidence (T, 15) float32 in [0, 1].
    """
    t_len, nj = uv.shape[:2]
    pr = profile
    vf = pr.top_factor if view == "top" else 1.0
    sig = np.asarray(pr.sigma_px) * vf
    sig = sig[None] * scale[:, None] * np.where(visible, 1.0, pr.occluded_factor)     # (T, 15)
    # heavy-tailed, temporally correlated jitter
    white = rng.standard_t(pr.tail_df, size=(t_len, nj, 2))
    white /= np.sqrt(pr.tail_df / (pr.tail_df - 2)) if pr.tail_df > 2 else 1.0
    jit = np.empty_like(white)
    jit[0] = white[0]
    a, b = pr.temporal_rho, np.sqrt(1 - pr.temporal_rho ** 2)
    for i in range(1, t_len):
        jit[i] = a * jit[i - 1] + b * white[i]
    src = np.where(np.isfinite(uv), uv, np.nan)
    # fill NaN (behind camera) with the centroid of the finite joints
    cen = np.nanmean(src, axis=1, keepdims=True)
    src = np.where(np.isfinite(src), src, np.nan_to_num(cen, nan=width / 2))
    if pr.offset_px is not None:
        src = src + convention_offset(src, np.asarray(pr.offset_px), scale)
    # L/R swaps: whole body (mostly back-facing) and per limb
    p_body = np.where(back_facing, pr.p_swap_body_back, pr.p_swap_body)
    body_flip = rng.random(t_len) < p_body
    src = np.where(body_flip[:, None, None], src[:, FLIP_PERMUTATION], src)
    swapped = np.zeros((t_len, nj), bool)
    swapped[body_flip] = FLIP_PERMUTATION != np.arange(nj)
    for limb in (ARM, LEG):
        flip = rng.random(t_len) < pr.p_swap_limb * vf
        for k in limb:
            right, left = LIMB_PAIRS[k]
            tmp = src[flip, right].copy()
            src[flip, right] = src[flip, left]
            src[flip, left] = tmp
            swapped[flip, right] = swapped[flip, left] = True
    # Limb joints: jitter mostly along the bone (parent -> joint in the image), less across it,
    # as heatmap peaks slide along a limb more easily than off it.
    par = src[:, _PARENT]
    bone = src - par
    bl = np.linalg.norm(bone, axis=-1, keepdims=True)
    along = np.where(bl > 1e-3, bone / np.maximum(bl, 1e-3), np.array([1.0, 0.0]))
    across = np.stack([-along[..., 1], along[..., 0]], -1)
    ra = np.where(_IS_LIMB, np.sqrt(pr.along_ratio), 1.0)[None, :, None]
    kp = src + sig[..., None] * (jit[..., :1] * along * ra + jit[..., 1:] * across / ra)
    # gross misses
    p_miss = np.where(visible, pr.p_miss, pr.p_miss_occluded) * vf
    miss = rng.random((t_len, nj)) < np.minimum(p_miss, 0.95)
    if miss.any():
        ti, ji = np.nonzero(miss)
        to_part = rng.random(len(ti)) < pr.part_miss
        tgt = np.array([rng.choice(CONFUSERS[j]) for j in ji], dtype=np.int64)
        part_pos = src[ti, tgt] + rng.normal(0, 2.0, size=(len(ti), 2)) * scale[ti, None]
        ang = rng.uniform(0, 2 * np.pi, len(ti))
        rad = rng.uniform(*pr.miss_px, len(ti)) * scale[ti]
        blob = src[ti, ji] + np.stack([np.cos(ang), np.sin(ang)], -1) * rad[:, None]
        kp[ti, ji] = np.where(to_part[:, None], part_pos, blob)
    if person is not None and pr.p_snap > 0:
        kp = _snap(kp, person, pr, rng)
    # confidence: decreases with the error, lower when occluded, noisy, some confident misses
    believed = np.where(np.isfinite(uv), uv, src) if pr.offset_px is None else src   # its own convention
    err = np.linalg.norm(kp - believed, axis=-1) / np.maximum(scale[:, None], 0.3)
    conf = np.exp(-0.5 * (err / pr.conf_px) ** 2)
    conf = 0.25 + 0.72 * conf
    conf *= np.where(visible, 1.0, rng.uniform(0.45, 0.85, size=conf.shape))
    conf += rng.normal(0, 0.06, size=conf.shape)
    confident_miss = (miss | swapped) & (rng.random(conf.shape) < 0.25)
    conf = np.where(confident_miss, rng.uniform(0.5, 0.9, size=conf.shape), conf)
    # off-image: clipped to the border, low confidence
    inside = (kp[..., 0] >= 0) & (kp[..., 0] <= width - 1) & (kp[..., 1] >= 0) & (kp[..., 1] <= height - 1)
    gt_inside = (np.isfinite(uv).all(-1) & (uv[..., 0] >= 0) & (uv[..., 0] <= width - 1)
                 & (uv[..., 1] >= 0) & (uv[..., 1] <= height - 1))
    conf = np.where(inside & gt_inside, conf, conf * 0.25)
    if pr.confidence == "constant":
        conf = np.full_like(conf, pr.conf_value)
    elif pr.confidence == "random":
        conf = rng.random(conf.shape)
    kp[..., 0] = np.clip(kp[..., 0], 0, width - 1)
    kp[..., 1] = np.clip(kp[..., 1], 0, height - 1)
    return kp.astype(np.float32), np.clip(conf, 0.0, 1.0).astype(np.float32)


def convention_offset(uv: np.ndarray, offset_px: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(T, 15, 2) image displacement of per-joint (lateral, down) offsets in the body's image axes
    (lateral: right hip -> left hip, down: neck -> torso), scaled by the apparent size."""
    down = uv[:, TORSO] - uv[:, NECK]
    down /= np.maximum(np.linalg.norm(down, axis=-1, keepdims=True), 1e-3)
    lateral = uv[:, L_HIP] - uv[:, R_HIP]
    lateral /= np.maximum(np.linalg.norm(lateral, axis=-1, keepdims=True), 1e-3)
    move = offset_px[None, :, :1] * lateral[:, None] + offset_px[None, :, 1:] * down[:, None]
    return move * scale[:, None, None]
