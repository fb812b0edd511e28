"""A worker that sends what a real one never would (fake_worker.py, started by the real kernel): malformed
fields, or a broken cells channel. It may cost its own note its worker, with a clear error to its cells; it must
never end the kernel (every note's) or leave a note hanging."""

import os
import sys
import time
from pathlib import Path

import pytest
from protocol_helpers import TIMEOUT, get_reply
from session_helpers import kernel_of, run

FAKE_WORKER = Path(__file__).with_name("fake_worker.py")


@pytest.fixture
def fake_kernel(tmp_path):
    """A real atrium-isolated kernel whose workers are fake_worker.py; yields (km, kc, the kernel's stderr)."""
    launcher = tmp_path / "fake-worker"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_WORKER}" "$@"\n')
    launcher.chmod(0o755)
    log = tmp_path / "kernel.log"
    env = {**os.environ, "ATRIUM_WORKER_EXECUTABLE": str(launcher)}
    with open(log, "w") as stderr, kernel_of("atrium-isolated", env=env, extra_arguments=["--preload=none"],
                                             stderr=stderr) as (km, kc):
        yield km, kc, log


def send(kc, code):
    return kc.execute(code)


def streams_until_idle(kc, msg_ids, timeout=TIMEOUT):
    """The stream text published under each of msg_ids, up to the last one's idle."""
    text = {i: "" for i in msg_ids}
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if parent in text and msg["msg_type"] == "stream":
            text[parent] += msg["content"]["text"]
        if parent == msg_ids[-1] and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return text


# Cell A, run by the fake worker: it waits until cell B (pipelined behind it) has come, then sends B's output
# (held by the kernel until B starts) and, behind it, output with malformed fields, then answers A.
MALFORMED_BEHIND_HELD = """
w.publish(cell["header"], "from a\\n", cell["id"])
a_after = w.queued
b = w.wait_cell(cell["cell"] + 1)
w.publish(b["header"], "from b\\n", b["id"])
w.publish(5, "parent not an object\\n", b["id"])
w.publish({**b["header"], "msg_id": 1}, "msg_id not a string\\n", b["id"])
w.publish(b["header"], "cell_id not a number\\n", "x")
w.link.send({"type": "publish", "parent": b["header"], "msg_type": "stream", "q": "x",
             "content": {"name": "stdout", "text": "q not a number\\n"}, "metadata": {}})
w.send_link({"type": "input_request", "prompt": 7, "parent_id": b["header"]["msg_id"]})
w.publish(b["header"], "from b again\\n", b["id"])
w.reply(cell, {"status": "ok", "execution_count": 1}, after=a_after)
"""


def test_malformed_output_behind_held_output_is_dropped_not_fatal(fake_kernel):
    km, kc, log = fake_kernel
    assert run(kc, "pass")[0]["status"] == "ok"  # the worker is up: the next cells are pipelined
    ids = [send(kc, MALFORMED_BEHIND_HELD), send(kc, "")]
    assert [get_reply(kc, i)["content"]["status"] for i in ids] == ["ok", "ok"]
    text = streams_until_idle(kc, ids)
    assert text == {ids[0]: "from a\n", ids[1]: "from b\nfrom b again\n"}, text
    assert run(kc, "pass")[0]["status"] == "ok"  # the kernel lives
    assert km.is_alive()
    assert open(log).read().count("[worker.bad_message]") == 5


@pytest.mark.parametrize("reply", [
    "w.reply(cell, [])",
    "w.reply(cell, {'status': 1})",
    "w.reply(cell, {'execution_count': 1})",
    "w.reply(cell, {'status': 'ok'}, after='x')",
])
@pytest.mark.parametrize("pipelined", [False, True])
def test_a_malformed_cell_reply_fails_its_cells_and_the_note_goes_on(fake_kernel, reply, pipelined):
    km, kc, log = fake_kernel
    assert run(kc, "pass")[0]["status"] == "ok"
    # Pipelined: a cell behind it was sent to the worker too, and is answered as well.
    code = ("w.wait_cell(cell['cell'] + 1)\n" if pipelined else "") + reply
    ids = [send(kc, code)] + ([send(kc, "")] if pipelined else [])
    first = get_reply(kc, ids[0])["content"]
    assert first["status"] == "error" and first["ename"] == "WorkerFailed", first
    assert "[worker.bad_message]" in first["evalue"] and "malformed cell reply" in first["evalue"], first
    if pipelined:
        second = get_reply(kc, ids[1])["content"]
        assert second["status"] == "error" and "not run" in second["evalue"], second
    # The next cell runs in a fresh worker and is told the old one's state is lost.
    reply, msgs = run(kc, "pass")
    assert reply["status"] == "ok"
    assert any("[worker.restarted]" in m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")
    assert km.is_alive()


def test_a_cell_the_cells_channel_cannot_take_goes_by_the_link(fake_kernel):
    """The worker's cells connection is gone while the worker lives: the cell the kernel could not send there must
    not leave a gap in the worker's numbering (it runs cells strictly in order), so it goes on the worker's own
    channel, numbered as the next one."""
    km, kc, log = fake_kernel
    assert run(kc, "pass")[0]["status"] == "ok"
    # Answers, then closes its cells connection (as a worker whose socket broke would); the link stays up.
    assert run(kc, "w.reply(cell, {'status': 'ok', 'execution_count': 2})\nw.cells.socket.close()")[0][
        "status"] == "ok"
    time.sleep(1)  # lets the kernel's cells socket see the disconnect (not a timing assert: it only sets the scene)
    # It cannot reply on the cells channel: it says by its exit code that the cell came, by the link, as number 3.
    msg_id = send(kc, "os._exit(50 + cell['cell'] + (100 if cell['via'] == 'link' else 0))")
    reply = get_reply(kc, msg_id)["content"]
    assert reply["ename"] == "WorkerDied" and "exited with code 153" in reply["evalue"], reply
    assert run(kc, "pass")[0]["status"] == "ok"  # a fresh worker


def test_an_idle_notes_cell_comes_on_the_cells_channel(fake_kernel):
    """The fast path is taken: an idle note's cell reaches the worker's main thread on the cells channel (the
    kernel's main thread writes it there), not by its relay on the link. The worker says which by its exit code."""
    km, kc, log = fake_kernel
    assert run(kc, "pass")[0]["status"] == "ok"
    reply = get_reply(kc, send(kc, "os._exit(50 + (100 if cell['via'] == 'link' else 0))"))["content"]
    assert reply["ename"] == "WorkerDied" and "exited with code 50" in reply["evalue"], reply


def test_a_cell_reply_may_come_by_the_link_and_a_malformed_one_stops_only_that_worker(fake_kernel):
    """A reply that does not fit in a datagram when it is sent goes on the link as a `cell_reply`, behind the
    cell's output: it answers the cell as one from the cells channel, and is checked the same way."""
    km, kc, log = fake_kernel
    by_link = ("w.publish(cell['header'], 'printed first\\n', cell['id'])\n"
               "w.send_link({'type': 'cell_reply', 'id': cell['id'], 'after': w.queued, 'paused': False,\n"
               "             'content': {'status': 'ok', 'execution_count': 7, 'user_expressions': {}}})\n"
               "w.replied.add(cell['id'])")
    msg_id = send(kc, by_link)
    assert get_reply(kc, msg_id)["content"] == {"status": "ok", "execution_count": 7, "user_expressions": {}}
    assert streams_until_idle(kc, [msg_id])[msg_id] == "printed first\n"
    malformed = ("w.send_link({'type': 'cell_reply', 'id': cell['id'], 'content': {'status': 5}})\n"
                 "w.replied.add(cell['id'])")
    reply = get_reply(kc, send(kc, malformed))["content"]
    assert reply["ename"] == "WorkerFailed" and "malformed cell reply" in reply["evalue"], reply
    assert run(kc, "pass")[0]["status"] == "ok"  # a fresh worker
    assert km.is_alive()
