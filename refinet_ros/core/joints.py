"""ITOP 15-joint skeleton: names, order, limbs and the groupings the paper reports.

Every array of joints in this project uses this order. R/L are the person's own sides.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "head", "neck", "right_shoulder", "left_shoulder", "right_elbow", "left_elbow",
    "right_hand", "left_hand", "torso", "right_hip", "left_hip", "right_knee",
    "left_knee", "right_foot", "left_foot",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

HEAD, NECK, R_SHOULDER, L_SHOULDER, R_ELBOW, L_ELBOW, R_HAND, L_HAND = range(8)
TORSO, R_HIP, L_HIP, R_KNEE, L_KNEE, R_FOOT, L_FOOT = range(8, 15)

UPPER_BODY = np.arange(0, 8)
LOWER_BODY = np.arange(8, 15)

#: Bones drawn and measured: (parent, child) pairs.
LIMBS: tuple[tuple[int, int], ...] = (
    (HEAD, NECK), (NECK, R_SHOULDER), (NECK, L_SHOULDER), (R_SHOULDER, R_ELBOW),
    (L_SHOULDER, L_ELBOW), (R_ELBOW, R_HAND), (L_ELBOW, L_HAND), (NECK, TORSO),
    (TORSO, R_HIP), (TORSO, L_HIP), (R_HIP, R_KNEE), (L_HIP, L_KNEE),
    (R_KNEE, R_FOOT), (L_KNEE, L_FOOT),
)

#: Permutation that swaps every left joint with its right twin (detector L/R confusion, mirroring).
FLIP_PERMUTATION = np.array([0, 1, 3, 2, 5, 4, 7, 6, 8, 10, 9, 12, 11, 14, 13])

#: The paper's 9-row per-joint table: left and right merged.
MERGED_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (HEAD,), "Neck": (NECK,), "Shoulders": (R_SHOULDER, L_SHOULDER),
    "Elbows": (R_ELBOW, L_ELBOW), "Hands": (R_HAND, L_HAND), "Torso": (TORSO,),
    "Hips": (R_HIP, L_HIP), "Knees": (R_KNEE, L_KNEE), "Feet": (R_FOOT, L_FOOT),
}
