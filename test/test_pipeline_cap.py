"""A crowded frame keeps its budget: beyond max_full_people the least confident people get fewer
stages (core.pipeline.run_capped), each marked with what it got, in the node's messages too."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.pipeline import Pipeline, run_capped


class Shift:
    """A stand-in stage: moves every joint by its own offset, so the stages a skeleton got show."""

    def __init__(self, name: str, dz: float) -> None:
        self.name, self.dz = name, dz

    def __call__(self, state, depth_m, camera):
        return replace(state, joints=state.joints + [0.0, 0.0, self.dz])


def test_the_most_confident_get_every_stage_the_others_the_reduced_ones():
    camera = PinholeCamera.itop()
    depth = np.full((3, 240, 320), 2.0, np.float32)
    uv = np.tile(np.linspace([100, 60], [200, 180], 15), (3, 1, 1))
    conf = np.stack([np.full(15, c) for c in (0.5, 0.9, 0.7)])
    full = Pipeline([Shift("A", 0.01), Shift("B", 0.1)])
    state, stages = run_capped(full, full.subset(["B"]), 1, depth, uv, conf, camera)
    assert stages == ["B", "A,B", "B"]                                      # person 1 is the most confident
    base = Pipeline().run(depth, uv, conf, camera).joints
    np.testing.assert_allclose(state.joints[:, :, 2] - base[:, :, 2], [[0.1] * 15, [0.11] * 15, [0.1] * 15])
    everyone, labels = run_capped(full, full.subset([]), 5, depth, uv, conf, camera)
    assert labels == ["A,B"] * 3 and full.subset([]).names == ()


def test_the_node_marks_each_skeleton_with_its_stages(tmp_path):
    import pytest
    pytest.importorskip("rclpy")
    from refinet_ros.bags.rosbags_codec import CODEC as BAG_CODEC
    from refinet_ros.ros.rclpy_codec import CODEC
    msg = CODEC.skeleton3d_array(CODEC.header(1, "cam"), ["a", "b"], np.zeros((2, 15, 3)), np.ones((2, 15)),
                                 ["A,B,C", "B"])
    assert [s.stages for s in msg.skeletons] == ["A,B,C", "B"]
    bag_msg = BAG_CODEC.skeleton3d_array(BAG_CODEC.header(1, "cam"), ["a"], np.zeros((1, 15, 3)), np.ones((1, 15)),
                                         "A,B,C")
    assert bag_msg.skeletons[0].stages == "A,B,C"
