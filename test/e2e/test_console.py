"""jupyter console, driven through a pseudo-terminal as a person would type at it."""

import pathlib
import time

import pexpect
import psutil
import pytest

PROMPT = r"In \[(\d+)\]: "


def kernels_started_in(runtime_dir):
    """Live processes whose command line names a connection file in runtime_dir (private to
    one test), i.e. the kernels that test's console started and nothing else."""
    return [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if any(str(runtime_dir) in arg for arg in proc.info["cmdline"] or [])
    ]


@pytest.fixture
def console(client_env, kernel_name, venv_bin):
    child = pexpect.spawn(
        str(venv_bin / "jupyter"),
        ["console", "--kernel", kernel_name, "--simple-prompt"],
        env=client_env,
        encoding="utf-8",
        timeout=15,
        dimensions=(40, 200),
    )
    runtime_dir = pathlib.Path(client_env["JUPYTER_RUNTIME_DIR"])
    yield child, runtime_dir
    if child.isalive():
        child.terminate(force=True)
    # A console killed mid-test leaves its kernel behind.
    for proc in kernels_started_in(runtime_dir):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def test_console_session(console):
    child, runtime_dir = console
    child.expect(PROMPT, timeout=60)  # kernel start-up

    child.sendline("print(6*7)")
    child.expect(r"\r\n42\r\n")
    child.expect(PROMPT)

    child.sendline("x = 5")
    child.expect(PROMPT)
    child.sendline("x*2")
    child.expect(r"Out\[\d+\]: 10")
    child.expect(PROMPT)

    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    # The console shut its kernel down and removed the connection file.
    assert not list(runtime_dir.glob("kernel-*.json"))
    deadline = time.monotonic() + 5
    while kernels_started_in(runtime_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kernels_started_in(runtime_dir), "kernel still running after the console exited"


def test_console_ctrl_d(console):
    child, _ = console
    child.expect(PROMPT, timeout=60)  # kernel start-up
    child.sendline("'still here'")
    child.expect(r"Out\[\d+\]: 'still here'")
    child.expect(PROMPT)
    child.sendeof()
    # jupyter console asks before leaving on EOF.
    child.expect(r"exit \(\[y\]/n\)\?")
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
