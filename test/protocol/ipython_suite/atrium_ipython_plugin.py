"""pytest plugin loaded by a cell of a real Atrium kernel: runs IPython's own tests against that context's shell.

It stands in for IPython's tests/conftest.py (run with --noconftest), which would make a
TerminalInteractiveShell singleton and put it in builtins as `ip`/`_ip`: here `ip` is the Atrium shell of the
context running pytest, i.e. what `get_ipython()` answers in that cell. Each test's outcome is written as JSON
to $ATRIUM_IPYTHON_TESTS_REPORT for the protocol test to read.
"""
import builtins
import json
import os

import pytest

pytest.register_assert_rewrite("IPython.testing.tools")

_outcomes = {}


def _print_page(text, start=0, screen_lines=0, pager_cmd=None):
    # IPython's conftest prints pages instead of paging them; Atrium's shell pages through a payload.
    if isinstance(text, dict):
        text = text.get("text/plain", "")
    print(text)


def pytest_configure(config):
    from IPython.core import page
    from IPython.core.history import HistoryManager

    shell = get_ipython()  # noqa: F821 (the builtin of the kernel: the calling context's shell)
    builtins.ip = builtins._ip = shell
    page.pager_page = _print_page
    # As IPython's conftest: test_history checks that its history managers are not leaked, counting from the
    # one of the shell under test (this kernel has one context, so one shell).
    HistoryManager._max_inst = 1


def pytest_unconfigure(config):
    from IPython.core.history import HistoryManager

    HistoryManager._max_inst = float("inf")
    for name in ("ip", "_ip"):
        builtins.__dict__.pop(name, None)


def pytest_runtest_logreport(report):
    # A test fails if any phase fails; it is skipped only if its setup skipped it.
    if report.failed:
        detail = str(report.longrepr).strip().splitlines()
        _outcomes[report.nodeid] = {"outcome": "failed", "when": report.when, "detail": detail[-12:]}
    elif report.skipped and report.nodeid not in _outcomes:
        _outcomes[report.nodeid] = {"outcome": "skipped", "detail": [str(report.longrepr)[-300:]]}
    elif report.when == "call" and report.nodeid not in _outcomes:
        _outcomes[report.nodeid] = {"outcome": "passed"}


def pytest_collectreport(report):
    if report.failed:
        _outcomes[report.nodeid] = {"outcome": "failed", "when": "collect",
                                    "detail": str(report.longrepr).strip().splitlines()[-12:]}


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["ATRIUM_IPYTHON_TESTS_REPORT"], "w") as report:
        json.dump(_outcomes, report, indent=1)
