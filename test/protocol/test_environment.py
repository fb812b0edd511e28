"""The kernel runs Python inside the project's virtual environment."""

import os
import pathlib
import sys

from protocol_helpers import REPO, execute_ok, result_data

# The venv the kernel is expected to use; CI may keep it elsewhere.
VENV = pathlib.Path(os.environ.get("ATRIUM_VENV", REPO / ".venv")).resolve()


def evaluate(kc, expr):
    _, msgs = execute_ok(kc, expr)
    return eval(result_data(msgs)["text/plain"])  # a repr of a str, made by the kernel


def test_sys_prefix_is_the_venv(kc):
    assert pathlib.Path(evaluate(kc, "import sys; sys.prefix")).resolve() == VENV


def test_sys_executable_is_inside_the_venv(kc):
    executable = pathlib.Path(evaluate(kc, "import sys; sys.executable"))
    # Only the directory is resolved: the venv's bin/python is a symlink to the system Python.
    assert executable.parent.resolve().is_relative_to(VENV), executable


def test_venv_only_package_imports(kc):
    # jedi is installed in the venv, not in the system Python.
    path = evaluate(kc, "import jedi; jedi.__file__")
    assert pathlib.Path(path).resolve().is_relative_to(VENV)


def test_same_interpreter_version_as_the_venv(kc):
    assert evaluate(kc, "import sys; sys.version.split()[0]") == sys.version.split()[0]
