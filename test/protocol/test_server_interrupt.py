"""Interrupts sent by a server for its clients, and interrupts of a kernel whose launcher ignored SIGINT.

jupyter_server (behind JupyterLab, Notebook 7 and Kernel Gateway) sends `interrupt_request` from its own
session, which owns no context: it must still interrupt what the browser runs.
"""

import queue
import signal
import time

import pytest
from protocol_helpers import TIMEOUT, get_reply
from session_helpers import client, interrupt_request, kernel_of, run

# A loop of short sleeps: a scoped context's KeyboardInterrupt arrives between bytecodes, not inside a sleep.
LOOP = "import time\nfor i in range(600):\n    time.sleep(0.05)\n'finished'"


def start_cell(kc, code):
    msg_id = kc.execute(code)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            # execute_input goes out just before the runtime enters the cell's code (as test_interrupt.py).
            time.sleep(1)
            return msg_id
    raise TimeoutError("cell never started")


@pytest.mark.parametrize("name", ["atrium-scoped", "atrium-isolated"])
def test_server_session_interrupts_the_browsers_cells(name):
    # The manager's own session (as jupyter_server's) never ran a cell: it owns no context.
    with kernel_of(name) as (km, _):
        browser, other = client(km), client(km)
        try:
            assert run(other, "y = 1")[0]["status"] == "ok"  # an idle note is left alone
            msg_id = start_cell(browser, LOOP if name == "atrium-scoped" else "import time; time.sleep(30)")
            km.interrupt_kernel()
            reply = get_reply(browser, msg_id, timeout=10)["content"]
            assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
            assert run(browser, "'still here'")[0]["status"] == "ok"
            assert run(other, "y")[0]["status"] == "ok"
        finally:
            browser.stop_channels()
            other.stop_channels()


def test_per_user_server_interrupt_respects_users():
    with kernel_of("atrium-scoped-user") as (km, _):
        alice, bob, alice_again = client(km, "alice"), client(km, "bob"), client(km, "alice")
        try:
            msg_id = start_cell(alice, LOOP)
            # Bob owns no context, and may reach only his own: alice's cell goes on.
            interrupt_request(bob)
            with pytest.raises(queue.Empty):
                alice.get_shell_msg(timeout=1.5)
            # Alice's other connection reaches her context.
            interrupt_request(alice_again)
            reply = get_reply(alice, msg_id, timeout=10)["content"]
            assert reply["ename"] == "KeyboardInterrupt", reply
        finally:
            for kc in (alice, bob, alice_again):
                kc.stop_channels()


def test_shared_kernel_interrupts_when_launched_with_sigint_ignored():
    # A server started in a script's background inherits SIGINT as SIG_IGN, and so does its kernel.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        context = kernel_of("atrium")
        km, kc = context.__enter__()
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        msg_id = start_cell(kc, "import time; time.sleep(30)")
        km.interrupt_kernel()  # interrupt_mode signal: SIGINT
        reply = get_reply(kc, msg_id, timeout=10)["content"]
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
        assert run(kc, "1 + 1")[0]["status"] == "ok"
    finally:
        context.__exit__(None, None, None)
