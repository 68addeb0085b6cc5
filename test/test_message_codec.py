"""The message conventions, asserted once and run against both backends: rosbags (the bag tools) and
rclpy (the node). Every message goes through its backend's serialisation first, so what is checked is
what a reader on the other end gets."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
import pytest

from refinet_ros.core.camera import PinholeCamera
from refinet_ros.core.depth import decode_depth, encode_depth
from refinet_ros.core.joints import NUM_JOINTS, TORSO
from refinet_ros.core.layouts import get_layout
from refinet_ros.message_codec import (ImageConversionError, KeypointCountError, MessageCodec, camera_from_info,
                                       depth_from_image, joints_from_msg, keypoints_from_msg)
from refinet_ros.stamps import NS_PER_S, seconds_ns, stamp_msg, stamp_ns, stamp_parts

ITOP15 = get_layout("itop15")


class Backend(NamedTuple):
    codec: MessageCodec
    wire: Callable[[Any], Any]      # serialise and deserialise, as a subscriber or bag reader would


def _rosbags() -> Backend:
    from refinet_ros.bags.rosbags_codec import CODEC
    from refinet_ros.bags.typestore import typestore
    store = typestore()
    return Backend(CODEC, lambda m: store.deserialize_cdr(store.serialize_cdr(m, m.__msgtype__), m.__msgtype__))


def _rclpy() -> Backend:
    pytest.importorskip("rclpy")
    from rclpy.serialization import deserialize_message, serialize_message

    from refinet_ros.ros.rclpy_codec import CODEC
    return Backend(CODEC, lambda m: deserialize_message(serialize_message(m), type(m)))


@pytest.fixture(params=[_rosbags, _rclpy], ids=["rosbags", "rclpy"])
def backend(request) -> Backend:
    return request.param()


@pytest.mark.parametrize("ns", [0, 999_999_999, 1_700_000_000_123_456_789])
def test_stamps_round_trip_exactly(backend, ns):
    hdr = backend.wire(backend.codec.header(ns, "cam"))
    assert stamp_ns(hdr.stamp) == ns and hdr.frame_id == "cam"


def test_stamp_parts_keep_nanosec_in_range_and_seconds_round_to_the_nearest_ns():
    assert stamp_parts(1_700_000_000_123_456_789) == (1_700_000_000, 123_456_789)
    assert stamp_parts(-1) == (-1, NS_PER_S - 1)                 # 1 ns before the epoch
    assert seconds_ns(0.25) == 250_000_000 and seconds_ns(1e-10) == 0 and seconds_ns(2.6e-9) == 3
    duration = stamp_msg(NamedTuple("Duration", [("sec", int), ("nanosec", int)]), seconds_ns(1.5))
    assert (duration.sec, duration.nanosec) == (1, 500_000_000) and stamp_ns(duration) == 1_500_000_000


def test_camera_info_round_trip(backend):
    camera = PinholeCamera(500.0, 510.0, 160.5, 120.25, 320, 240)
    msg = backend.wire(backend.codec.camera_info(backend.codec.header(0, "cam"), camera))
    assert camera_from_info(msg) == camera
    np.testing.assert_array_equal(np.reshape(msg.p, (3, 4))[:, :3], camera.k)
    assert not np.any(msg.d) and msg.distortion_model == "plumb_bob"


def test_2d_missing_keypoint_has_confidence_zero_and_reads_back_nan(backend):
    uv = np.random.default_rng(0).uniform(0, 300, (2, 15, 2))
    uv[0, 3] = np.nan
    uv[1, 7, 0] = np.nan                     # half a pixel is no pixel
    conf = np.full((2, 15), 0.8)
    msg = backend.wire(backend.codec.skeleton2d_array(backend.codec.header(5, "cam"), ["a", "b"], uv, conf))
    ids, back_uv, back_conf = keypoints_from_msg(msg, ITOP15)
    assert ids == ["a", "b"]
    missing = ~np.isfinite(uv).all(-1)
    np.testing.assert_array_equal(back_conf, np.where(missing, 0.0, np.float32(0.8)))
    assert np.isnan(back_uv[0, 3]).all() and np.isnan(back_uv[1, 7, 0])
    np.testing.assert_array_equal(back_uv[~missing], uv.astype(np.float32)[~missing])


def test_2d_without_people_reads_back_empty_in_the_layout_shape(backend):
    msg = backend.wire(backend.codec.skeleton2d_array(backend.codec.header(5, "cam"), [], np.empty((0, 17, 2)),
                                                      np.empty((0, 17))))
    ids, uv, conf = keypoints_from_msg(msg, get_layout("coco17"))
    assert ids == [] and uv.shape == (0, 17, 2) and conf.shape == (0, 17)


def test_keypoint_count_other_than_the_layout_raises(backend):
    codec = backend.codec
    seventeen = codec.skeleton2d_array(codec.header(5, "cam"), ["x"], np.full((1, 17, 2), 10.0), np.ones((1, 17)))
    with pytest.raises(KeypointCountError, match="'x' at 5 ns has 17 keypoints per person; layout itop15 has 15"):
        keypoints_from_msg(backend.wire(seventeen), ITOP15)
    f = codec.array_field
    ragged = codec.types.Skeleton2D(header=codec.header(5, "cam"), body_id="y", u=f(np.zeros(15, np.float32)),
                                    v=f(np.zeros(15, np.float32)), confidence=f(np.ones(14, np.float32)))
    msg = codec.types.Skeleton2DArray(header=codec.header(5, "cam"), skeletons=[ragged])
    with pytest.raises(KeypointCountError, match="has 15/15/14 u/v/confidence keypoints"):
        keypoints_from_msg(backend.wire(msg), ITOP15)
    assert issubclass(KeypointCountError, ValueError)


def test_3d_missing_joint_is_nan_invalid_zero_confidence_and_reads_back_nan(backend):
    joints = np.random.default_rng(1).uniform(-1, 3, (2, NUM_JOINTS, 3))
    joints[0, 5] = np.nan
    joints[1, TORSO, 2] = np.nan             # one NaN coordinate makes the whole joint missing
    conf = np.full((2, NUM_JOINTS), 0.7)
    conf[1, 0] = 1.5
    msg = backend.wire(backend.codec.skeleton3d_array(backend.codec.header(5, "cam"), ["a", "b"], joints, conf))
    a, b = msg.skeletons
    assert a.header.frame_id == "cam" and a.body_id == "a"
    for sk, j in ((a, 5), (b, TORSO)):
        assert not sk.valid[j] and sk.confidence[j] == 0.0
        assert np.isnan([sk.joints[j].x, sk.joints[j].y, sk.joints[j].z]).all()
    assert a.valid[4] and a.confidence[4] == pytest.approx(0.7) and b.confidence[0] == 1.0
    ids, back = joints_from_msg(msg)
    want = np.where(np.isfinite(joints).all(-1, keepdims=True), joints, np.nan)
    assert ids == ["a", "b"]
    np.testing.assert_array_equal(back, want)


@pytest.mark.parametrize("encoding", ["16UC1", "mono16", "32FC1"])
def test_depth_image_round_trip(backend, encoding):
    depth = np.random.default_rng(2).uniform(0.5, 4.0, (6, 7)).astype(np.float32)
    depth[2, 3] = np.nan
    msg = backend.wire(backend.codec.depth_image(backend.codec.header(5, "cam"), depth, encoding))
    np.testing.assert_array_equal(depth_from_image(msg), decode_depth(encode_depth(depth, encoding), encoding))


def test_depth_image_honours_row_padding_and_big_endian(backend):
    raw = np.arange(1, 13, dtype=np.uint16).reshape(3, 4)
    rows = np.zeros((3, 10), dtype=np.uint8)            # 8 bytes of pixels + 2 of padding per row
    rows[:, :8] = raw.astype(">u2").view(np.uint8)
    codec = backend.codec
    msg = codec.types.Image(header=codec.header(5, "cam"), height=3, width=4, encoding="16UC1", is_bigendian=1,
                            step=10, data=codec.array_field(rows.ravel()))
    np.testing.assert_array_equal(depth_from_image(backend.wire(msg)), decode_depth(raw, "16UC1"))
    short = codec.types.Image(header=codec.header(5, "cam"), height=2, width=2, encoding="16UC1", is_bigendian=0,
                              step=4, data=codec.array_field(np.zeros(6, np.uint8)))
    with pytest.raises(ImageConversionError, match="needs step >= 4 and 8 bytes; got step 4, 6 bytes"):
        depth_from_image(short)
