"""Scenes: ITOP-like camera placement, floor, walls and clutter.

World frame: z up, floor z = 0. A camera pose maps world points to the REP-103 optical
frame: ``p_cam = R @ (p_world - C)``.

* side view: an Xtion on a tripod/shelf 1.0-1.8 m high, the person 2-4 m in front
  (mode 2.9 m as in ITOP), small pitch/roll jitter, framing not always centred, person
  heading varied: mostly frontal, also side-on and back-facing (back-facing is the case
  where 2D detectors swap left and right);
* top view: a ceiling camera 2.5-3.5 m above the floor looking (nearly) straight down,
  the person below but not necessarily centred; the upper body then hides the legs.

Background: a floor, walls at random distances (sometimes beyond the sensor's range, so
no reading), and occasional furniture boxes. Rarely a box stands between camera and
person (a table or chair hiding the legs) -- real scenes have such occlusions and a
model must not assume a clear line of sight.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .body import rot_z


@dataclass
class CameraPose:
    """World -> optical: p_cam = R @ (p_world - C)."""

    R: np.ndarray
    C: np.ndarray

    def to_camera(self, p: np.ndarray) -> np.ndarray:
        return (np.asarray(p) - self.C) @ self.R.T

    def cam_to_world(self) -> np.ndarray:
        """4x4 homogeneous transform optical -> world (e.g. for a tf tree)."""
        t = np.eye(4)
        t[:3, :3] = self.R.T
        t[:3, 3] = self.C
        return t


@dataclass
class Scene:
    """Static background: planes n.x = k (world) and oriented boxes standing on the floor."""

    plane_n: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    plane_k: np.ndarray = field(default_factory=lambda: np.zeros(0))
    box_c: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_half: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_yaw: np.ndarray = field(default_factory=lambda: np.zeros(0))


def look_at(c: np.ndarray, target: np.ndarray, up: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """Rotation world -> optical for a camera at c looking at target (rows: right, down, forward)."""
    f = np.asarray(target, float) - c
    f /= np.linalg.norm(f)
    right = np.cross(f, up)
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    r = np.stack([right, down, f])
    cr, sr = np.cos(roll), np.sin(roll)
    roll_m = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return roll_m @ r


def _add_box(scene: Scene, c_xy, half, yaw) -> None:
    c = np.array([c_xy[0], c_xy[1], half[2]])
    scene.box_c = np.vstack([scene.box_c, c])
    scene.box_half = np.vstack([scene.box_half, half])
    scene.box_yaw = np.append(scene.box_yaw, yaw)


def _add_plane(scene: Scene, n, k) -> None:
    n = np.asarray(n, float)
    n = n / np.linalg.norm(n)
    scene.plane_n = np.vstack([scene.plane_n, n])
    scene.plane_k = np.append(scene.plane_k, k)


def _furniture_half(rng: np.random.Generator) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:   # table / desk
        return np.array([rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.5), rng.uniform(0.35, 0.4)])
    if kind == 1:   # cabinet / shelf
        return np.array([rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.3), rng.uniform(0.4, 1.0)])
    return np.array([rng.uniform(0.2, 0.3), rng.uniform(0.2, 0.3), rng.uniform(0.2, 0.5)])  # chair / box


def _clear_of(path_xy: np.ndarray, xy: np.ndarray, half: np.ndarray, margin: float) -> bool:
    return bool(np.min(np.linalg.norm(path_xy - xy, axis=1)) > np.hypot(half[0], half[1]) + margin)


def sample_side(rng: np.random.Generator, path_xy: np.ndarray, yaw0: float = 0.0,
                occluder_p: float = 0.06,
                height_m: tuple[float, float] = (1.0, 1.8)) -> tuple[CameraPose, Scene, float]:
    """Side-view camera and background for a clip whose root moves along ``path_xy`` (T,2)
    with initial heading ``yaw0``.

    Returns (pose, scene, facing) where facing is the person's initial heading relative to
    the camera (0 = facing the camera, pi = back to the camera)."""
    centre = path_xy.mean(0)
    dist = float(np.clip(rng.normal(2.9, 0.45), 2.0, 4.0))
    u = rng.random()
    if u < 0.62:
        facing = rng.normal(0, 0.45)
    elif u < 0.84:
        facing = rng.choice([-1, 1]) * rng.normal(np.pi / 2, 0.3)
    else:
        facing = np.pi + rng.normal(0, 0.5)
    # The person faces world +y at heading 0; put the camera along the heading rotated by facing.
    cam_dir = rot_z(np.array(yaw0 + facing)) @ np.array([0.0, 1.0, 0.0])
    # Keep the whole path 2.0-4.4 m from the camera along its axis (a walker may approach).
    along = (path_xy - centre) @ cam_dir[:2]
    dist = min(max(dist, 2.0 + float(along.max())), max(4.4 + float(along.min()), 2.0 + float(along.max())))
    h = rng.uniform(*height_m)
    c = np.array([centre[0], centre[1], 0.0]) + dist * cam_dir
    c[2] = h
    # Aim near mid-body with jitter: framing is not always centred, sometimes cuts feet/head.
    aim_h = rng.uniform(0.75, 1.2)
    lateral = rng.normal(0, 0.12) * dist
    side = np.cross(cam_dir, [0, 0, 1.0])
    target = np.array([centre[0], centre[1], aim_h]) + lateral * side
    r = look_at(c, target, np.array([0, 0, 1.0]), roll=rng.normal(0, 0.035))
    r = _tilt(r, rng.normal(0, 0.03))
    scene = Scene()
    _add_plane(scene, [0, 0, 1], 0.0)                 # floor
    back = dist + rng.uniform(0.4, 3.0)               # back wall distance from the camera
    wall_n = rot_z(np.array(rng.normal(0, 0.3))) @ (-cam_dir)   # faces the camera (roughly)
    _add_plane(scene, wall_n, float(wall_n @ (c - back * cam_dir)))
    for sgn in (-1, 1):                               # side walls, sometimes
        if rng.random() < 0.45:
            off = rng.uniform(1.3, 3.5)
            n = -sgn * side
            _add_plane(scene, n, float(n @ (np.array([centre[0], centre[1], 0]) + sgn * off * side)))
    if rng.random() < 0.2:                            # a ceiling in view for low tilts
        _add_plane(scene, [0, 0, -1], -rng.uniform(2.5, 3.2))
    for _ in range(rng.poisson(1.0)):                 # background furniture, behind the person
        half = _furniture_half(rng)
        along = rng.uniform(dist + 0.3, max(back - 0.2, dist + 0.3))
        xy = (c - along * cam_dir + rng.uniform(-2.0, 2.0) * side)[:2]
        if _clear_of(path_xy, xy, half, 0.45):
            _add_box(scene, xy, half, rng.uniform(0, np.pi))
    if rng.random() < occluder_p:                     # occluder between camera and person
        half = _furniture_half(rng)
        half[2] = min(half[2], rng.uniform(0.3, 0.55))
        xy = (np.array([centre[0], centre[1], 0]) + rng.uniform(0.7, 1.3) * cam_dir
              + rng.normal(0, 0.3) * side)[:2]
        if _clear_of(path_xy, xy, half, 0.35):
            _add_box(scene, xy, half, rng.uniform(0, np.pi))
    return CameraPose(r, c), scene, float(facing)


def _tilt(r: np.ndarray, pitch: float) -> np.ndarray:
    """Extra rotation about the camera x axis (mount tilt not pointing exactly at the aim)."""
    cp, sp = np.cos(pitch), np.sin(pitch)
    return np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]]) @ r


def sample_top(rng: np.random.Generator, path_xy: np.ndarray,
               height_m: tuple[float, float] = (2.5, 3.5)) -> tuple[CameraPose, Scene, float]:
    """Top-view ceiling camera above the clip's path, looking (nearly) straight down."""
    centre = path_xy.mean(0)
    h = rng.uniform(*height_m)
    off = rng.normal(0, 0.22, size=2)                   # person not necessarily centred
    c = np.array([centre[0] + off[0], centre[1] + off[1], h])
    tilt = rng.normal(0, 0.06, size=2)
    target = c + np.array([tilt[0], tilt[1], -1.0])
    az = rng.uniform(-np.pi, np.pi)                      # image "up" direction on the floor
    r = look_at(c, target, np.array([np.cos(az), np.sin(az), 0.0]), roll=0.0)
    scene = Scene()
    _add_plane(scene, [0, 0, 1], 0.0)
    for k in range(4):                                   # walls around the room, often off-image
        if rng.random() < 0.5:
            ang = az + k * np.pi / 2 + rng.normal(0, 0.1)
            n = np.array([np.cos(ang), np.sin(ang), 0.0])
            d = rng.uniform(1.2, 3.5)
            _add_plane(scene, -n, float(-n @ (c * np.array([1, 1, 0]) + d * n)))
    for _ in range(rng.poisson(1.2)):
        half = _furniture_half(rng)
        xy = c[:2] + rng.uniform(-1.8, 1.8, size=2)
        if _clear_of(path_xy, xy, half, 0.45):
            _add_box(scene, xy, half, rng.uniform(0, np.pi))
    return CameraPose(r, c), scene, 0.0
