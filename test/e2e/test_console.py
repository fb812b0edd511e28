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


def spawn_console(client_env, kernel_name, venv_bin):
    return pexpect.spawn(
        str(venv_bin / "jupyter"),
        ["console", "--kernel", kernel_name, "--simple-prompt"],
        env=client_env,
        encoding="utf-8",
        timeout=15,
        dimensions=(40, 200),
    )


def close_console(child, runtime_dir):
    if child.isalive():
        child.terminate(force=True)
    # A console killed mid-test leaves its kernel behind.
    for proc in kernels_started_in(runtime_dir):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture
def console(client_env, kernel_name, venv_bin):
    child = spawn_console(client_env, kernel_name, venv_bin)
    runtime_dir = pathlib.Path(client_env["JUPYTER_RUNTIME_DIR"])
    yield child, runtime_dir
    close_console(child, runtime_dir)


def exit_cleanly(child, runtime_dir):
    """`exit`, then no connection file and no kernel process (nor isolated worker) is left."""
    started = kernels_started_in(runtime_dir)
    assert started, "no kernel found for this console"
    family = started + [sub for proc in started for sub in proc.children(recursive=True)]
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert not list(runtime_dir.glob("kernel-*.json"))
    deadline = time.monotonic() + 5
    while kernels_started_in(runtime_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kernels_started_in(runtime_dir), "kernel still running after the console exited"
    _, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"left running: {alive}"


def expect_output(child, pattern, timeout=15):
    """Waits for a cell's output `pattern`, as a console user sees it. jupyter console stops reading iopub at a
    cell's reply, and takes any idle of its session as the end of the cell's output: the idle of its own
    interrupt_request, or an earlier cell's late one. Output its client received just after the reply (the
    kernel wrote it first, but it travels on another connection) is printed at the console's next read of
    iopub, such as a blank line."""
    if child.expect([pattern, PROMPT], timeout=timeout) == 1:
        child.sendline(" ")
        child.expect(pattern, timeout=timeout)


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

    # The console shuts its kernel down and removes the connection file.
    exit_cleanly(child, runtime_dir)


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


# A scoped context's KeyboardInterrupt arrives between bytecodes, so its long wait is a loop of short sleeps.
LONG_CELL = {
    "atrium": "import time; time.sleep(30)",
    "atrium-scoped": "import time\nfor i in range(600): time.sleep(0.05)\n",
    "atrium-isolated": "import time; time.sleep(30)",
}


@pytest.mark.parametrize("name", sorted(LONG_CELL))
def test_console_magics_and_ctrl_c(client_env, venv_bin, name):
    child = spawn_console(client_env, name, venv_bin)
    runtime_dir = pathlib.Path(client_env["JUPYTER_RUNTIME_DIR"])
    try:
        child.expect(PROMPT, timeout=60)
        child.sendline("a = 6*7")
        child.expect(r"In \[2\]: ")
        # Atrium's magics are numbered cells: the console adds 1 to their count (it crashed on null).
        child.sendline("%contexts")
        child.expect(r"binding: ")
        child.expect(r"In \[2\]: ")
        child.sendline("%note console-note")
        child.expect(r"attached to note 'console-note'")
        child.expect(r"In \[(\d+)\]: ")
        child.sendline("b = 1")
        child.expect(PROMPT)
        child.sendline("%reset_context")
        child.expect(r"was reset")
        child.expect(r"In \[1\]: ")

        # Ctrl-C interrupts the running cell; the namespace survives.
        child.sendline("c = 5")
        child.expect(PROMPT)
        child.send(LONG_CELL[name].replace("\n", "\r") + "\r")
        if "\n" in LONG_CELL[name]:
            child.send("\r")  # ends the multi-line cell
        time.sleep(2)  # the cell is running
        child.sendintr()
        expect_output(child, "KeyboardInterrupt")  # now, not when the 30 s are over
        child.sendline("print(c * 1111)")
        expect_output(child, "5555")
        exit_cleanly(child, runtime_dir)
    finally:
        close_console(child, runtime_dir)
