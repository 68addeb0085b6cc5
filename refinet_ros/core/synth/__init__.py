"""Synthetic ITOP-like data generator (pure numpy, no ROS).

Real ITOP data is not needed to train or test this project: this subpackage renders
volumetric people with a ray caster, applies a structured-light sensor model and a
simulated 2D detector, and writes the real ITOP file layout. Modules, one job each:

* :mod:`.body` -- anthropometrics, forward kinematics, capsules/ellipsoids;
* :mod:`.motion` -- 30 Hz action clips (stand, walk, reach, bend, squat, turn, ...);
* :mod:`.scene` -- side/top camera placement, floor, walls, furniture;
* :mod:`.render` -- vectorised ray casting;
* :mod:`.sensor` -- Kinect/Xtion noise, quantisation and missing data;
* :mod:`.detector` -- simulated 2D detector profiles (clean, hrnet, openpose);
* :mod:`.generate` -- orchestration, public API and file output.

``refinet generate`` (refinet_ros/commands/generate.py) is the command line on top.
"""
from .detector import PROFILES, DetectorProfile
from .generate import (
    SPLITS, SUBJECTS, ClipSpec, SynthSet, generate_clip, generate_split, iter_clips, plan_clips, subject_dims,
    write_split,
)

__all__ = ["PROFILES", "DetectorProfile", "SPLITS", "SUBJECTS", "ClipSpec", "SynthSet", "generate_clip",
           "generate_split", "iter_clips", "plan_clips", "subject_dims", "write_split"]
