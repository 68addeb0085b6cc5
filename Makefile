# refinet_ros: set up everything from nothing in a local virtualenv, then test
# or run the demo. No ROS distro needed: ROS 2 Kilted comes from PyPI wheels.
#
#   make            same as `make venv`
#   make venv       .venv with all dependencies, refinet_ros installed
#                   (non-editable) and its ROS messages built and installed
#   make test       run the test suite (PYTEST_ARGS=... to pass options)
#   make demo       run `refinet demo` (DEMO_ARGS=... to pass options)
#   make colcon-check  build the package with colcon in build/colcon and
#                   check its install space (what a ROS workspace would get)
#   make ros-check  the real-ROS route: build ../shared/ros2-harness (or use a
#                   sourced distro), colcon-build the package on it, run test/ros_real
#   make clean      remove build outputs; `make distclean` also removes .venv
#
# Every step leaves a stamp in .venv/.stamps/ and is redone only when its
# inputs change, so a second `make test` only runs the tests.
#
# Layout of the venv after `make venv` (prefix = .venv):
#   .venv/lib/pythonX.Y/site-packages/refinet_ros/     pip install of our code
#   .venv/lib/pythonX.Y/site-packages/refinet_ros/msg/ generated messages
#   .venv/lib/librefinet_ros__*.so                     message type support
#   .venv/share/refinet_ros/                           package.xml, launch, config
#   .venv/share/ament_index/...                        ament resource index
# The wheels' ros_wheels_bootstrapper.pth re-executes every venv Python with
# .venv/lib on LD_LIBRARY_PATH, so the message libraries load without setup.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := venv
.DELETE_ON_ERROR:
# Steps share the venv's site-packages: run them one at a time (each CMake
# build is parallel by itself, see JOBS).
.NOTPARALLEL:

# Interpreter used to create the venv (3.10 - 3.12).
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
STAMPS := $(VENV)/.stamps
BUILD := build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Path of site-packages inside $(VENV), computed when a recipe needs it.
SITE = $$($(VPY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

# CMake arguments shared by the plain-CMake builds below and colcon-check
# (colcon_defaults.yaml carries the same, see there).
CMAKE_ARGS := -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	-DPython3_EXECUTABLE=$(CURDIR)/$(VPY)

# Environment for everything below: the venv is the ROS prefix
# (ament index, CMake packages, libraries).
export AMENT_PREFIX_PATH := $(CURDIR)/$(VENV)
export CMAKE_PREFIX_PATH := $(CURDIR)/$(VENV)
export LD_LIBRARY_PATH := $(CURDIR)/$(VENV)/lib$(if $(LD_LIBRARY_PATH),:$(LD_LIBRARY_PATH))
export RMW_IMPLEMENTATION ?= rmw_fastrtps_cpp
# Keep ROS discovery on this machine (tests and demo talk over loopback only).
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

# Inputs of each step. `find` lists files in subdirectories too; symlinks
# (refinet_ros/data/refinet.yaml) count through the file they point to.
files_under = $(shell find $(1) \( -type f -o -type l \) -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)
# pip install of refinet_ros: the package, its metadata, the files it ships
# through symlinks (config/refinet.yaml, msg/).
PY_SOURCES := $(call files_under,refinet_ros) setup.py setup.cfg pyproject.toml $(wildcard msg/*.msg) \
	$(wildcard config/refinet.yaml)
# CMake build + install of the messages, scripts/ and share/ files.
MSG_SOURCES := CMakeLists.txt package.xml $(call files_under,msg cmake scripts launch config rviz)
# Stand-ins for interface packages that are not on PyPI (third_party/<name>).
STANDINS := tf2_msgs composition_interfaces yolo_msgs hri_msgs
$(foreach p,$(STANDINS),$(eval standin_$(p)_SOURCES := $(call files_under,third_party/$(p)) cmake/fix_wheel_include_dirs.cmake))

# A file added, removed or renamed changes no timestamp that make sees, so each
# step also depends on a list of its input names, rewritten only on change.
$(STAMPS)/%.list: FORCE | $(VPY)
	@mkdir -p $(@D)
	@printf '%s\n' $(sort $($*_SOURCES)) > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
FORCE:
# Pattern rules would treat the lists as intermediate files and delete them after each build.
.PRECIOUS: $(STAMPS)/%.list

.PHONY: venv test demo colcon-check ros-check clean distclean FORCE

venv: $(STAMPS)/msgs $(foreach p,$(STANDINS),$(STAMPS)/$(p).standin) $(STAMPS)/package

# --- 1. the virtualenv itself ------------------------------------------------
# A new venv invalidates everything built against the old one.
$(VPY):
	@echo ">>> creating $(VENV) with $$($(PYTHON) --version)"
	rm -rf $(VENV) $(BUILD)/ros $(foreach p,$(STANDINS),$(BUILD)/$(p))
	$(PYTHON) -m venv $(VENV)
	@mkdir -p $(STAMPS)

# --- 2. third-party dependencies (runtime + build) --------------------------
# One resolver run over both files, so the pins stay consistent.
$(STAMPS)/requirements: requirements.txt requirements-build.txt | $(VPY)
	@echo ">>> installing requirements"
	$(PIP) install -q -r requirements.txt -r requirements-build.txt
	@mkdir -p $(STAMPS) && touch $@

# --- 3. refinet_ros itself, non-editable -------------------------------------
# build/pip is setuptools' build tree (setup.cfg); wiping it keeps files deleted
# from the source out of the wheel. --force-reinstall: same version, new code.
$(STAMPS)/package: $(PY_SOURCES) $(STAMPS)/PY.list $(STAMPS)/requirements
	@echo ">>> installing refinet_ros into $(VENV)"
	rm -rf $(BUILD)/pip
	$(PIP) install -q --no-deps --no-build-isolation --force-reinstall .
	rm -rf refinet_ros.egg-info
	touch $@

# --- 4. ROS messages: msg/*.msg -> refinet_ros.msg (+ C/C++ type support) ----
# Plain CMake (no colcon) against the wheels, installed into the venv prefix.
# CMakeLists.txt also installs the refinet_ros/ sources over rosidl's empty
# __init__.py (same files as step 3). The egg-info that rosidl's
# ament_python_install_package() installs is removed so that pip sees one
# refinet_ros distribution only (step 3's dist-info).
$(STAMPS)/msgs: $(MSG_SOURCES) $(STAMPS)/MSG.list $(STAMPS)/requirements
	@echo ">>> building ROS messages in $(BUILD)/ros"
	cmake -S . -B $(BUILD)/ros -DCMAKE_INSTALL_PREFIX=$(CURDIR)/$(VENV) $(CMAKE_ARGS) > /dev/null
	cmake --build $(BUILD)/ros -j $(JOBS) -- --no-print-directory > $(BUILD)/ros/build.log \
		|| { tail -50 $(BUILD)/ros/build.log; exit 1; }
	cmake --install $(BUILD)/ros > $(BUILD)/ros/install.log
	rm -rf "$(SITE)"/refinet_ros-*-py*.egg-info
	touch $@

# --- 5. stand-ins: tf2_msgs (TFMessage), composition_interfaces (container services) ---
# Neither is on PyPI; build third_party/<name> into the venv unless a package of that name other
# than ours is importable (a ROS install).
.SECONDEXPANSION:
$(STAMPS)/%.standin: $$(standin_$$*_SOURCES) $(STAMPS)/standin_$$*.list $(STAMPS)/requirements
	@if $(VPY) -c 'import $*' 2>/dev/null \
		&& ! grep -qs 'stand-in' $(VENV)/share/$*/package.xml; then \
		echo ">>> $* already installed, not building the stand-in"; \
	else \
		echo ">>> building $* stand-in in $(BUILD)/$*"; \
		cmake -S third_party/$* -B $(BUILD)/$* \
			-DCMAKE_INSTALL_PREFIX=$(CURDIR)/$(VENV) $(CMAKE_ARGS) > /dev/null; \
		cmake --build $(BUILD)/$* -j $(JOBS) -- --no-print-directory \
			> $(BUILD)/$*/build.log || { tail -50 $(BUILD)/$*/build.log; exit 1; }; \
		cmake --install $(BUILD)/$* > $(BUILD)/$*/install.log; \
	fi
	touch $@

# --- use it ------------------------------------------------------------------
test: venv
	$(VPY) -m pytest -q test $(PYTEST_ARGS)

demo: venv
	$(VENV)/bin/refinet demo $(DEMO_ARGS)

# --- colcon build, as in a ROS workspace -------------------------------------
# Workspace build/colcon with src/refinet_ros -> this repository. colcon
# reads colcon_defaults.yaml (through COLCON_DEFAULTS_FILE) after the venv
# python's path is filled in. colcon must find exactly one package here:
# third_party/tf2_msgs sits inside the refinet_ros package and is not crawled.
COLCON_WS := $(BUILD)/colcon
colcon-check: venv
	@echo ">>> colcon build in $(COLCON_WS)"
	rm -rf $(COLCON_WS) && mkdir -p $(COLCON_WS)/src
	ln -s $(CURDIR) $(COLCON_WS)/src/refinet_ros
	sed 's|@VENV_PYTHON@|$(CURDIR)/$(VPY)|g' colcon_defaults.yaml > $(COLCON_WS)/defaults.yaml
	cd $(COLCON_WS) && export COLCON_DEFAULTS_FILE=$$PWD/defaults.yaml COLCON_HOME=$$PWD/.colcon \
		&& pkgs=$$($(CURDIR)/$(VENV)/bin/colcon list --names-only) \
		&& { [ "$$pkgs" = refinet_ros ] || { echo "colcon found: $$pkgs (want refinet_ros only)"; exit 1; }; } \
		&& { $(CURDIR)/$(VENV)/bin/colcon build \
			|| { tail -50 log/latest_build/refinet_ros/stdout_stderr.log; exit 1; }; }
	@echo ">>> checking the install space"
	@set -e; inst=$(COLCON_WS)/install/refinet_ros; \
	for f in share/refinet_ros/package.xml lib/refinet_ros/refine_node lib/refinet_ros/component_container bin/refinet; do \
		test -e $$inst/$$f || { echo "missing $$inst/$$f"; exit 1; }; done; \
	test -x $$inst/lib/refinet_ros/refine_node && test -x $$inst/bin/refinet; \
	for d in launch config rviz; do \
		if [ -d $$d ]; then test -d $$inst/share/refinet_ros/$$d || { echo "missing share/refinet_ros/$$d"; exit 1; }; fi; \
	done; \
	site=$$(cd $$inst && ls -d lib/python3*/site-packages); \
	cd $(COLCON_WS) && env PYTHONPATH=$$PWD/install/refinet_ros/$$site \
		AMENT_PREFIX_PATH=$$PWD/install/refinet_ros:$$AMENT_PREFIX_PATH \
		LD_LIBRARY_PATH=$$PWD/install/refinet_ros/lib:$$LD_LIBRARY_PATH \
		$(CURDIR)/$(VPY) -c 'import os, refinet_ros.msg as m; from refinet_ros.msg import Skeleton3DArray, Skeleton2DArray, BodyMeasurements; \
		from rclpy.serialization import serialize_message as s; s(Skeleton3DArray()); \
		assert m.__file__.startswith(os.getcwd() + "/install/"), m.__file__; print("refinet_ros.msg from", m.__file__)'
	@echo ">>> colcon-check OK"

# --- the real-ROS route (launch, launch_ros, message_filters, tf2_ros, cv_bridge) ---
# Its own environment (the harness venv or a distro), not .venv: see .ci/ros-check.sh.
ros-check:
	env -u AMENT_PREFIX_PATH -u CMAKE_PREFIX_PATH -u LD_LIBRARY_PATH bash .ci/ros-check.sh

clean:
	rm -rf $(BUILD) install log refinet_ros.egg-info
	rm -f $(STAMPS)/msgs $(STAMPS)/*.standin $(STAMPS)/package $(STAMPS)/*.list

distclean: clean
	rm -rf $(VENV)
