# conftest for running upstream message_filters tests on the built-in synchronisers.
import sys

from refinet_ros.ros.compat import builtin_sync

sys.modules["message_filters"] = builtin_sync
