"""Isolated mode pipelines a note's cells: they are sent to its worker back to back, without waiting for the
previous reply. Order, stop_on_error, interrupts, stdin, exit() and a worker's death must behave exactly as
when each cell waited for the last, over a real kernel and real worker processes."""

import queue
import time

import pytest
from protocol_helpers import TIMEOUT
from session_helpers import interrupt_request, kernel_of, run, value_of

ISOLATED = "atrium-isolated"
BURST = 200


@pytest.fixture(scope="module")
def note():
    with kernel_of(ISOLATED) as (km, kc):
        yield km, kc


def send_all(kc, cells, **options):
    """Sends every cell at once; returns their msg_ids in order."""
    return [kc.execute(code, **options) for code in cells]


def replies(kc, msg_ids, timeout=TIMEOUT):
    """The shell replies to msg_ids, checked to arrive in the order the requests were sent."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < len(msg_ids):
        try:
            msg = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"{len(got)} of {len(msg_ids)} replies came") from None
        if msg["parent_header"].get("msg_id") in msg_ids:
            got.append(msg)
    assert [m["parent_header"]["msg_id"] for m in got] == msg_ids, "replies out of request order"
    return [m["content"] for m in got]


def iopub_until_idle(kc, last_id, timeout=TIMEOUT):
    """Every iopub message up to the idle status of `last_id`."""
    msgs = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        msgs.append(msg)
        if (msg["parent_header"].get("msg_id") == last_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            return msgs


def by_cell(msgs, msg_ids):
    """(msg_type, content) of each cell's iopub messages, per cell."""
    per = {i: [] for i in msg_ids}
    for m in msgs:
        parent = m["parent_header"].get("msg_id")
        if parent in per:
            per[parent].append((m["msg_type"], m["content"]))
    return per


def test_a_burst_runs_in_order_and_each_cell_reads_as_if_alone(note):
    km, kc = note
    run(kc, "seen = []")
    ids = send_all(kc, [f"seen.append({i}); print({i})" for i in range(BURST)])
    contents = replies(kc, ids)
    assert all(c["status"] == "ok" for c in contents), [c for c in contents if c["status"] != "ok"][:3]
    counts = [c["execution_count"] for c in contents]
    assert counts == list(range(counts[0], counts[0] + BURST))
    msgs = iopub_until_idle(kc, ids[-1])
    per = by_cell(msgs, ids)
    for i, msg_id in enumerate(ids):
        kinds = [k for k, _ in per[msg_id]]
        # A print may leave in more than one stream message; its text is what counts.
        assert kinds[:2] == ["status", "execute_input"] and kinds[-1] == "status", (i, per[msg_id])
        assert set(kinds[2:-1]) == {"stream"}, (i, per[msg_id])
        assert per[msg_id][1][1]["execution_count"] == counts[i]
        assert "".join(c["text"] for _, c in per[msg_id][2:-1]) == f"{i}\n"
    # Each cell's busy follows the previous cell's idle: a front end's kernel status never reads idle while
    # a cell runs.
    states = [(m["parent_header"].get("msg_id"), m["content"]["execution_state"]) for m in msgs
              if m["msg_type"] == "status" and m["parent_header"].get("msg_id") in per]
    assert states == [(i, s) for i in ids for s in ("busy", "idle")]
    assert value_of(kc, "seen == list(range(%d))" % BURST)[1] == "True"


def test_a_failure_aborts_exactly_the_pipelined_cells_behind_it(note):
    km, kc = note
    run(kc, "ran = []")
    ids = send_all(kc, ["ran.append('before')", "import time; time.sleep(0.2); raise ValueError('boom')"]
                   + [f"ran.append({i})" for i in range(30)])
    contents = replies(kc, ids)
    assert contents[0]["status"] == "ok"
    assert contents[1]["ename"] == "ValueError"
    assert [c["status"] for c in contents[2:]] == ["aborted"] * 30
    per = by_cell(iopub_until_idle(kc, ids[-1]), ids)
    for msg_id in ids[2:]:
        # Never started: no execute_input, as ipykernel answers an aborted request.
        assert [k for k, _ in per[msg_id]] == ["status", "status"], per[msg_id]
    # Sent after the error reply was seen: runs.
    assert value_of(kc, "ran")[1] == "['before']"


def test_without_stop_on_error_the_cells_behind_a_failure_run(note):
    km, kc = note
    run(kc, "ran = []")
    ids = send_all(kc, ["raise ValueError('boom')"] + [f"ran.append({i})" for i in range(10)], stop_on_error=False)
    contents = replies(kc, ids)
    assert contents[0]["ename"] == "ValueError"
    assert all(c["status"] == "ok" for c in contents[1:])
    assert value_of(kc, "ran")[1] == str(list(range(10)))


def test_interrupt_stops_the_running_cell_and_aborts_the_pipeline_behind_it(note):
    km, kc = note
    run(kc, "import time; ran = []")
    ids = send_all(kc, ["time.sleep(60)"] + [f"ran.append({i})" for i in range(10)])
    deadline = time.monotonic() + TIMEOUT
    while True:  # the long cell has started (its execute_input is out)
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == ids[0] and msg["msg_type"] == "execute_input":
            break
    time.sleep(0.5)
    interrupt_request(kc)
    contents = replies(kc, ids, timeout=20)
    assert contents[0]["ename"] == "KeyboardInterrupt"
    assert [c["status"] for c in contents[1:]] == ["aborted"] * 10
    assert value_of(kc, "ran")[1] == "[]"


def test_input_in_a_pipelined_cell_goes_to_that_cell(note):
    km, kc = note
    ids = send_all(kc, ["import time; time.sleep(0.3); print('first')",
                        "answer = input('name? ')\nprint('hello', answer)",
                        "print('third', answer)"], allow_stdin=True)
    request = kc.get_stdin_msg(timeout=TIMEOUT)
    assert request["content"]["prompt"] == "name? "
    assert request["parent_header"]["msg_id"] == ids[1]
    kc.input("world")
    assert [c["status"] for c in replies(kc, ids)] == ["ok"] * 3
    per = by_cell(iopub_until_idle(kc, ids[-1]), ids)
    streams = ["".join(c["text"] for k, c in per[i] if k == "stream") for i in ids]
    assert streams == ["first\n", "hello world\n", "third world\n"]


def test_exit_in_a_pipeline_gives_the_cells_behind_it_a_fresh_worker():
    with kernel_of(ISOLATED) as (km, kc):
        old = value_of(kc, "import os; kept = 1; os.getpid()")[1]
        ids = send_all(kc, ["exit()", "import os; os.getpid()", "'kept' in dir()"])
        contents = replies(kc, ids)
        assert [c["status"] for c in contents] == ["ok"] * 3
        per = by_cell(iopub_until_idle(kc, ids[-1]), ids)
        results = [[c["data"]["text/plain"] for k, c in per[i] if k == "execute_result"] for i in ids[1:]]
        assert results[0] != [old] and results[1] == ["False"], (old, results)


@pytest.mark.parametrize("crash, expected, options", [
    ("os._exit(3)", "exited with code 3", []),
    # How a worker over its memory limit may end (an allocation abort), as the user is told.
    ("os.abort()", "(its memory limit is 1024 MiB", ["--worker-memory=1G"]),
])
def test_a_crash_mid_pipeline_answers_every_cell(crash, expected, options):
    with kernel_of(ISOLATED, extra_arguments=options) as (km, kc):
        run(kc, "import os, time")
        ids = send_all(kc, ["print('done before')", "time.sleep(0.3); " + crash]
                       + [f"print({i})" for i in range(20)])
        contents = replies(kc, ids)
        assert contents[0]["status"] == "ok"
        assert contents[1]["ename"] == "WorkerDied" and "while running this cell" in contents[1]["evalue"]
        assert expected in contents[1]["evalue"], contents[1]["evalue"]
        for c in contents[2:]:
            assert c["status"] == "error" and "not run" in c["evalue"], c
        per = by_cell(iopub_until_idle(kc, ids[-1]), ids)
        assert "".join(c["text"] for k, c in per[ids[0]] if k == "stream") == "done before\n"
        # The next cell runs in a fresh worker and says the state was lost.
        reply, msgs = run(kc, "os")
        assert reply["ename"] == "NameError"


def test_a_memory_error_mid_pipeline_aborts_the_cells_behind_it():
    with kernel_of(ISOLATED, extra_arguments=["--worker-memory=1G"]) as (km, kc):
        run(kc, "ran = []")
        ids = send_all(kc, ["block = bytearray(3 * 1024**3)"] + [f"ran.append({i})" for i in range(10)])
        contents = replies(kc, ids)
        assert contents[0]["ename"] == "MemoryError" and "[worker.memory_limit]" in contents[0]["evalue"]
        assert [c["status"] for c in contents[1:]] == ["aborted"] * 10
        assert value_of(kc, "ran")[1] == "[]"


def test_pipelined_cells_sharing_a_msg_id_still_run(note):
    """msg_ids are the client's (and every client sees them on iopub): two cells may share one. The kernel matches
    a worker's output to its cells by its own id, so the first cell's output is never held for the second."""
    km, kc = note
    run(kc, "import time")
    sent = []
    for code in ["time.sleep(0.3); print('a')", "print('b')"]:
        msg = kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                 "user_expressions": {}, "allow_stdin": False,
                                                 "stop_on_error": True})
        msg["header"]["msg_id"] = "same-id"
        kc.shell_channel.send(msg)
        sent.append(msg)
    contents = []
    deadline = time.monotonic() + TIMEOUT
    while len(contents) < 2:
        try:
            reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"{len(contents)} of 2 replies came") from None
        if reply["parent_header"].get("msg_id") == "same-id":
            contents.append(reply["content"])
    assert [c["status"] for c in contents] == ["ok", "ok"]
    text, idles = "", 0
    while idles < 2:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != "same-id":
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idles += 1
            assert text == ("a\n" if idles == 1 else "a\nb\n"), text


def test_cells_and_replies_too_big_for_the_cells_channel_keep_their_order(note):
    """A cell over the cells channel's datagram size goes by the worker's link, and so does a reply over it (a
    big user expression); pipelined between small ones, every cell runs once, in order, and every reply is whole."""
    km, kc = note
    run(kc, "order = []")
    big_code = "order.append('big cell'); blob = '%s'" % ("x" * (1 << 20))
    cells = ["order.append(0)", big_code, "order.append(2)", "order.append('big reply')", "order.append(4)"]
    ids = [kc.execute(code, user_expressions={"r": "'y' * (1 << 20)"} if "big reply" in code else {})
           for code in cells]
    contents = replies(kc, ids)
    assert [c["status"] for c in contents] == ["ok"] * 5, contents
    counts = [c["execution_count"] for c in contents]
    assert counts == list(range(counts[0], counts[0] + 5))
    value = contents[3]["user_expressions"]["r"]
    assert value["status"] == "ok" and value["data"]["text/plain"] == repr("y" * (1 << 20))
    assert value_of(kc, "order")[1] == "[0, 'big cell', 2, 'big reply', 4]"
    assert value_of(kc, "len(blob)")[1] == str(1 << 20)
