#!/usr/bin/env bash
# make ros-check: the real-ROS route. With ../shared/ros2-harness (or ROS_HARNESS=DIR): build it
# (launch, launch_ros, ros2cli, message_filters, tf2_ros, cv_bridge, composition_interfaces from
# pinned upstream sources, ~5 min), build refinet_ros with colcon on top of it as a ROS user would,
# and run test/ros_real against the real libraries. In a sourced ROS distro the same tests run
# against it. With neither, the tests are skipped with the reason.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
HARNESS=${ROS_HARNESS:-../shared/ros2-harness}
WS=build/ros-ws
say() { echo ">>> ros-check: $*"; }

if [ -f "$HARNESS/build.sh" ]; then
  export ROSHARNESS=${ROSHARNESS:-$PWD/build/ros2-harness}
  say "building the harness in $ROSHARNESS"
  PROJECT_REQS=requirements.txt bash "$HARNESS/build.sh"
  set +u; source "$HARNESS/env.sh"; set -u
elif [ -n "${ROS_DISTRO:-}" ]; then
  say "using the sourced ROS $ROS_DISTRO"
else
  say "skipped: neither $HARNESS nor a sourced ROS distro (source /opt/ros/<distro>/setup.bash)"
  exit 0
fi

say "colcon build of refinet_ros in $WS"
rm -rf "$WS" && mkdir -p "$WS/src" && ln -s "$PWD" "$WS/src/refinet_ros"
(cd "$WS" && COLCON_HOME=$PWD/.colcon colcon build \
   --event-handlers console_direct- --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$(command -v python3)" \
   || { tail -50 log/latest_build/refinet_ros/stdout_stderr.log; exit 1; })
set +u; source "$WS/install/setup.bash"; set -u
export REFINET_ROS_SOURCES=${HARNESS}/sources.tar.xz ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

say "tests against the real libraries"
python3 -m pytest -q -p no:cacheprovider test/ros_real
