"""shutdown_request ends the process; restart gives a working kernel with a fresh namespace."""

import time

import pytest
from protocol_helpers import execute_ok, get_reply, result_data


def test_shutdown_request(fresh_kernel):
    km, kc = fresh_kernel
    msg_id = kc.shutdown(restart=False)  # sent on the control channel
    reply = get_reply(kc, msg_id, channel="control")
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"].get("status") == "ok", reply["content"]
    assert reply["content"].get("restart") is False, reply["content"]

    deadline = time.monotonic() + 5
    while km.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not km.is_alive(), "kernel process still running 5 s after shutdown_reply"


def test_restart_gives_fresh_namespace(fresh_kernel):
    km, kc = fresh_kernel
    _, msgs = execute_ok(kc, "before_restart = 1; import os; os.getpid()")
    old_pid = result_data(msgs)["text/plain"]
    km.restart_kernel()
    kc.wait_for_ready(timeout=30)
    # The process running cells is a new one (the kernel's, or a host's new worker for this notebook).
    _, msgs = execute_ok(kc, "import os; os.getpid()")
    assert result_data(msgs)["text/plain"] != old_pid

    reply, msgs = execute_ok(kc, "'before_restart' in dir()")
    assert result_data(msgs)["text/plain"] == "False"
    assert reply["content"]["execution_count"] == 2  # counted afresh: the pid cell, then this one


@pytest.mark.parametrize("code", ["exit", "exit()", "quit"])
def test_exit_asks_the_frontend(fresh_kernel, code):
    # `exit` answers with an ask_exit payload so that the frontend ends the session (jupyter
    # console quits on it); plain Python would print "Use exit() or Ctrl-D..." or raise
    # SystemExit. A fresh kernel each time: ipykernel stops its own loop shortly afterwards.
    _, kc = fresh_kernel
    reply, _ = execute_ok(kc, code)
    assert {"source": "ask_exit", "keepkernel": False} in reply["content"]["payload"], reply["content"]


def test_shutdown_with_restart_null_is_answered(fresh_kernel):
    # `"restart": null` reads as absent, i.e. false; it used to get no reply at all.
    km, kc = fresh_kernel
    msg = kc.session.msg("shutdown_request", {"restart": None})
    kc.control_channel.send(msg)
    reply = get_reply(kc, msg["header"]["msg_id"], channel="control")
    assert reply["content"] == {"status": "ok", "restart": False}, reply["content"]
