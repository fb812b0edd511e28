"""Fixtures for the protocol tests; the helpers they use live in protocol_helpers.py."""

import shutil

import pytest
from protocol_helpers import RUNTIME_DIR, start_kernel, stop_kernel


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(RUNTIME_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def kernel():
    """(km, kc) shared by the tests of one module that don't disturb each other."""
    km, kc = start_kernel()
    yield km, kc
    stop_kernel(km, kc)


@pytest.fixture(scope="module")
def kc(kernel):
    return kernel[1]


@pytest.fixture
def fresh_kernel():
    """A kernel of its own, for tests that interrupt, stop or restart it."""
    km, kc = start_kernel()
    yield km, kc
    stop_kernel(km, kc)


