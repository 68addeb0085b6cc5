# refinet_fix_wheel_include_dirs()
#
# The ROS 2 pip wheels (ros-<distro>-*_msgs) install CMake export files whose
# imported targets <pkg>::<pkg>__rosidl_generator_py have
# INTERFACE_INCLUDE_DIRECTORIES hard-coded to the wheel builder's interpreter,
# e.g. /opt/python/cp311-cp311/include/python3.11 and
# .../site-packages/numpy/_core/include. CMake refuses to generate when an
# imported target names a directory that does not exist.
#
# This function walks the imported targets of the calling directory and
# replaces every such non-existent Python / NumPy include directory with the
# ones of the Python3 found for this build (Python3_EXECUTABLE); other missing
# directories are dropped with a message. Existing directories and generator
# expressions are kept as they are, so with a regular ROS install (where all
# paths exist) this does nothing.
#
# Call it at the end of CMakeLists.txt, after every find_package().
# Needs CMake >= 3.21 (IMPORTED_TARGETS directory property); older CMake is
# only used by distros whose packages have no such paths.
function(refinet_fix_wheel_include_dirs)
  if(CMAKE_VERSION VERSION_LESS 3.21)
    return()
  endif()
  get_property(_targets DIRECTORY PROPERTY IMPORTED_TARGETS)
  set(_need_python FALSE)
  foreach(_t IN LISTS _targets)
    get_target_property(_inc ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _inc)
      continue()
    endif()
    foreach(_d IN LISTS _inc)
      if(NOT _d MATCHES "\\$<" AND NOT EXISTS "${_d}")
        set(_need_python TRUE)
      endif()
    endforeach()
  endforeach()
  if(NOT _need_python)
    return()
  endif()

  if(NOT Python3_INCLUDE_DIRS OR NOT Python3_NumPy_INCLUDE_DIRS)
    find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
  endif()

  foreach(_t IN LISTS _targets)
    get_target_property(_inc ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _inc)
      continue()
    endif()
    set(_new "")
    set(_changed FALSE)
    foreach(_d IN LISTS _inc)
      if(_d MATCHES "\\$<" OR EXISTS "${_d}")
        list(APPEND _new "${_d}")
      elseif(_d MATCHES "numpy/(_?core/)?include/?$")
        list(APPEND _new ${Python3_NumPy_INCLUDE_DIRS})
        set(_changed TRUE)
      elseif(_d MATCHES "/include/python[0-9.]+[a-z]*/?$")
        list(APPEND _new ${Python3_INCLUDE_DIRS})
        set(_changed TRUE)
      else()
        message(STATUS "refinet_ros: dropping missing include dir '${_d}' of ${_t}")
        set(_changed TRUE)
      endif()
    endforeach()
    if(_changed)
      list(REMOVE_DUPLICATES _new)
      set_target_properties(${_t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_new}")
    endif()
  endforeach()
endfunction()
