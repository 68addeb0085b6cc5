# conftest for running upstream tf2_ros_py tests on the built-in twins: `from tf2_ros.buffer import Buffer`
# gives refinet_ros.ros.compat.builtin_tf.Buffer.
import sys
import types

from refinet_ros.ros.compat import builtin_tf

package = types.ModuleType("tf2_ros")
package.__path__ = []
sys.modules["tf2_ros"] = package
sys.modules["tf2_ros.buffer"] = builtin_tf
