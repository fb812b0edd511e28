"""Fixtures for end-to-end tests with real Jupyter clients (independent of test/protocol).

Tests take these as fixtures rather than importing this module: test/protocol has a conftest.py
too, and `from conftest import ...` could resolve to either.
"""

import os
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("ATRIUM_BUILD_DIR", REPO / "build"))
KERNEL_NAME = os.environ.get("ATRIUM_KERNEL_NAME", "atrium")
# The bin/ of the interpreter running pytest (the venv); not resolved, since the venv's
# python is a symlink out of it.
VENV_BIN = pathlib.Path(sys.executable).parent


@pytest.fixture
def build_dir():
    return BUILD_DIR


@pytest.fixture
def kernel_name():
    return KERNEL_NAME


@pytest.fixture
def venv_bin():
    return VENV_BIN


@pytest.fixture
def client_env(tmp_path):
    """Environment for a Jupyter client process: build-tree kernelspecs, private runtime dir."""
    env = dict(os.environ)
    build_share = str(BUILD_DIR / "share" / "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (build_share, env.get("JUPYTER_PATH")) if p)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["TERM"] = "dumb"
    return env


def pytest_collection_modifyitems(config, items):
    """ATRIUM_SKIP_E2E=1 skips this suite on a developer's machine; CI (CI=true) never skips it."""
    if os.environ.get("ATRIUM_SKIP_E2E") != "1":
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError("ATRIUM_SKIP_E2E=1 is for local runs only: CI runs the end-to-end suite")
    skip = pytest.mark.skip(reason="ATRIUM_SKIP_E2E=1 (local runs only)")
    for item in items:
        item.add_marker(skip)
