"""core.transforms: rigid maths and the frame tree's tf2 lookup semantics (chains, interpolation at
the asked time, static frames, latest common time, errors instead of extrapolation)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from refinet_ros.core.transforms import FrameTree, Rigid, TransformLookupError

S = 1_000_000_000


def _random_rigid(rng) -> Rigid:
    return Rigid(tuple(rng.normal(0, 1, 3)), tuple(Rotation.random(random_state=rng).as_quat()))


def _matrix(r: Rigid) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = Rotation.from_quat(r.rotation).as_matrix()
    m[:3, 3] = r.translation
    return m


def test_composition_inverse_and_apply_match_matrices():
    rng = np.random.default_rng(0)
    a, b = _random_rigid(rng), _random_rigid(rng)
    np.testing.assert_allclose(_matrix(a * b), _matrix(a) @ _matrix(b), atol=1e-12)
    np.testing.assert_allclose(_matrix(a.inverse()), np.linalg.inv(_matrix(a)), atol=1e-12)
    p = rng.normal(0, 1, (4, 3))
    p[1] = np.nan
    got = a.apply(p)
    np.testing.assert_allclose(got[[0, 2, 3]], (p[[0, 2, 3]] @ _matrix(a)[:3, :3].T) + a.translation, atol=1e-12)
    assert np.isnan(got[1]).all()


def test_a_chain_is_looked_up_through_the_common_ancestor():
    """map -> odom -> base_link -> camera_link -> optical, and map -> person: both ways round."""
    rng = np.random.default_rng(1)
    tree, edges = FrameTree(), {}
    for parent, child in (("map", "odom"), ("odom", "base_link"), ("base_link", "camera_link"),
                          ("camera_link", "optical"), ("map", "person")):
        edges[child] = _random_rigid(rng)
        tree.set_transform(parent, child, 5 * S, edges[child], static=child in ("camera_link", "optical"))
    optical_in_base = _matrix(edges["camera_link"]) @ _matrix(edges["optical"])
    got, when = tree.lookup("base_link", "optical", 5 * S)
    np.testing.assert_allclose(_matrix(got), optical_in_base, atol=1e-12)
    assert when == 5 * S
    person_in_optical = (np.linalg.inv(_matrix(edges["odom"]) @ _matrix(edges["base_link"]) @ optical_in_base)
                         @ _matrix(edges["person"]))
    np.testing.assert_allclose(_matrix(tree.lookup("optical", "person", 5 * S)[0]), person_in_optical, atol=1e-12)
    assert tree.lookup("optical", "optical", 7)[0].is_identity


def test_lookup_interpolates_at_the_asked_time_and_never_extrapolates():
    tree = FrameTree()
    turn = Rigid((2.0, 0.0, 0.0), tuple(Rotation.from_euler("z", 90, degrees=True).as_quat()))
    tree.set_transform("odom", "base_link", 1 * S, Rigid())
    tree.set_transform("odom", "base_link", 3 * S, turn)
    half, _ = tree.lookup("odom", "base_link", 2 * S)
    np.testing.assert_allclose(half.translation, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(Rotation.from_quat(half.rotation).as_euler("zyx", degrees=True), [45, 0, 0], atol=1e-9)
    for when, side in ((int(0.5 * S), "past"), (int(3.5 * S), "future")):
        with pytest.raises(TransformLookupError, match=f"extrapolation into the {side}"):
            tree.lookup("odom", "base_link", when)
    assert tree.lookup("odom", "base_link", 0)[1] == 3 * S        # time 0: the latest


def test_static_frames_hold_at_any_time_and_latest_common_time_is_the_dynamic_edges():
    tree = FrameTree()
    tree.set_transform("base_link", "camera", 0, Rigid((0.1, 0, 0.5)), static=True)
    tree.set_transform("odom", "base_link", 4 * S, Rigid((1.0, 0, 0)))
    tree.set_transform("odom", "base_link", 6 * S, Rigid((2.0, 0, 0)))
    assert tree.lookup("base_link", "camera", 123 * S)[0].translation == (0.1, 0, 0.5)
    assert tree.latest_common_time("odom", "camera") == 6 * S
    assert tree.lookup("odom", "camera", 0)[0].translation == pytest.approx((2.1, 0, 0.5))


def test_unknown_and_unconnected_frames_are_errors():
    tree = FrameTree()
    tree.set_transform("a", "b", S, Rigid())
    tree.set_transform("c", "d", S, Rigid())
    with pytest.raises(TransformLookupError, match='frame "x" does not exist'):
        tree.lookup("a", "x", S)
    with pytest.raises(TransformLookupError, match="not in the same tree"):
        tree.lookup("a", "d", S)
    assert not tree.can_transform("a", "d", S) and tree.can_transform("a", "b", S)
    with pytest.raises(ValueError):
        tree.set_transform("a", "a", S, Rigid())


def test_history_older_than_the_cache_is_dropped():
    tree = FrameTree(cache_s=2.0)
    for k in range(10):
        tree.set_transform("odom", "base", k * S, Rigid((float(k), 0, 0)))
    assert tree.can_transform("odom", "base", 8 * S) and not tree.can_transform("odom", "base", 5 * S)
