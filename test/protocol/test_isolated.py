"""Isolated mode: each note in a worker process of its own, over real kernel and worker processes."""

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import psutil
import pytest
import zmq
from protocol_helpers import TIMEOUT, collect_iopub, get_reply, stream_text
from session_helpers import client, interrupt_request, kernel_of, run, value_of
from worker_frames import NUMBER_BYTES, SALT_BYTES, TAG_BYTES, pack

ISOLATED = "atrium-isolated"
# A signature of the right size and shape (salt, message number 1, tag) made without the worker's key: it reaches
# the tag check.
FORGED_SIGNATURE = bytes(SALT_BYTES) + (1).to_bytes(NUMBER_BYTES, "big") + bytes(TAG_BYTES)


def kernel_pid(km):
    return km.provisioner.process.pid


def worker_pid(kc):
    reply, pid = value_of(kc, "__import__('os').getpid()")
    assert reply["status"] == "ok", reply
    return int(pid)


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pids, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def started(kc, msg_id):
    """Waits until the cell has reached its worker (its execute_input is out, then a little time)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            time.sleep(0.5)
            return
    raise TimeoutError("the cell never started")


@pytest.fixture(scope="module")
def notes():
    """One isolated kernel with two notes (two client sessions)."""
    with kernel_of(ISOLATED) as (km, kc):
        other = client(km, "alice")
        yield km, kc, other
        other.stop_channels()


def test_each_note_has_its_own_process_and_namespace(notes):
    km, a, b = notes
    run(a, "secret = 41")
    pid_a, pid_b = worker_pid(a), worker_pid(b)
    assert len({pid_a, pid_b, kernel_pid(km)}) == 3
    assert psutil.Process(pid_a).ppid() == kernel_pid(km)
    assert value_of(a, "secret + 1")[1] == "42"
    reply, msgs = run(b, "secret")
    assert reply["ename"] == "NameError"


def test_a_worker_is_not_dumpable(notes):
    # Other processes of the same OS user cannot read its memory through /proc/PID/mem or ptrace it.
    km, a, b = notes
    reply, dumpable = value_of(a, "import ctypes; ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)")  # PR_GET_DUMPABLE
    assert reply["status"] == "ok", reply
    assert dumpable == "0"


@pytest.mark.parametrize("crash, expected", [
    ("import os; os._exit(7)", "exited with code 7"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "killed by SIGSEGV"),
    ("import ctypes; ctypes.string_at(0)", "killed by SIGSEGV"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
])
def test_a_crash_is_reported_and_harms_no_other_note(notes, crash, expected):
    km, a, b = notes
    run(b, "kept = 'b survives'")
    pid_b = worker_pid(b)
    run(a, "doomed = 1")
    old_pid = worker_pid(a)

    crash_id = a.execute("import time; time.sleep(0.3)\n" + crash)
    queued_id = a.execute("1 + 1")  # queued behind the crash: answered, not dropped
    reply = get_reply(a, crash_id)["content"]
    assert reply["status"] == "error"
    assert reply["ename"] == "WorkerDied"
    assert "[worker.died]" in reply["evalue"] and expected in reply["evalue"], reply["evalue"]
    assert f"pid {old_pid}" in reply["evalue"]
    queued = get_reply(a, queued_id)["content"]
    assert queued["status"] == "error" and "not run" in queued["evalue"], queued

    assert value_of(b, "kept")[1] == "'b survives'"
    assert worker_pid(b) == pid_b
    assert not alive(old_pid)
    assert not [c for c in psutil.Process(kernel_pid(km)).children() if c.status() == psutil.STATUS_ZOMBIE]

    # The next request starts a fresh worker and says the state was lost.
    reply, msgs = run(a, "doomed")
    assert reply["ename"] == "NameError"
    notice = stream_text(msgs, "stderr")
    assert "[worker.restarted]" in notice and expected in notice, notice
    assert worker_pid(a) != old_pid


# Counts the KeyboardInterrupts the cell takes: the first ends the outer wait, a second (if any) the inner one.
# Each marker is printed inside its `try`, and the waits are short sleeps: an interrupt anywhere in them is caught.
CATCHING_CELL = """
import time
caught = 0
try:
    print("waiting", flush=True)
    for _ in range(3000):
        time.sleep(0.01)
except KeyboardInterrupt:
    caught += 1
    try:
        print("ready", flush=True)
        for _ in range(%d):
            time.sleep(0.01)
    except KeyboardInterrupt:
        caught += 1
caught
"""


def printed(kc, msg_id, marker):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
                and marker in msg["content"]["text"]):
            return
    raise TimeoutError(f"the cell never printed {marker!r}")


def caught_by(kc, msg_id):
    reply = get_reply(kc, msg_id, timeout=TIMEOUT)["content"]
    assert reply["status"] == "ok", reply
    results = [m for m in collect_iopub(kc, msg_id) if m["msg_type"] == "execute_result"]
    return results[0]["content"]["data"]["text/plain"]


def test_one_interrupt_request_raises_one_keyboard_interrupt(notes):
    """A cell that catches the interrupt goes on undisturbed: the request is not raised a second time in it (the
    worker once took it twice, by the kernel's SIGINT and by the message naming the cell)."""
    km, a, b = notes
    msg_id = a.execute(CATCHING_CELL % 150)
    printed(a, msg_id, "waiting")
    interrupt_request(a)
    assert caught_by(a, msg_id) == "1"


def test_a_second_interrupt_request_interrupts_again(notes):
    km, a, b = notes
    msg_id = a.execute(CATCHING_CELL % 3000)
    printed(a, msg_id, "waiting")
    interrupt_request(a)
    printed(a, msg_id, "ready")
    interrupt_request(a)
    assert caught_by(a, msg_id) == "2"


def test_interrupt_reaches_only_the_requesters_worker(notes):
    km, a, b = notes
    run(a, "import time; survivor = 'still here'")
    long_b = b.execute("import time; time.sleep(3); 'b finished'")
    msg_id = a.execute("time.sleep(60)")
    started(a, msg_id)
    began = time.monotonic()
    interrupt_request(a)
    reply = get_reply(a, msg_id, timeout=10)["content"]
    assert time.monotonic() - began < 1.0
    assert reply["ename"] == "KeyboardInterrupt"
    assert value_of(a, "survivor")[1] == "'still here'"
    assert get_reply(b, long_b)["content"]["status"] == "ok"


def test_input_round_trip_from_a_worker(notes):
    km, a, b = notes
    msg_id = a.execute("answer = input('name? ')\nprint('hello', answer)", allow_stdin=True)
    request = a.get_stdin_msg(timeout=TIMEOUT)
    assert request["msg_type"] == "input_request"
    assert request["content"]["prompt"] == "name? "
    assert request["parent_header"]["msg_id"] == msg_id
    a.input("world")
    assert get_reply(a, msg_id)["content"]["status"] == "ok"
    assert "hello world" in stream_text(collect_iopub(a, msg_id))


def test_twenty_megabytes_from_a_worker_arrive_complete_and_in_order(notes):
    km, a, b = notes
    code = "for i in range(200000):\n    print(f'{i:09d}' + 'x' * 90)"
    reply, msgs = run(a, code, timeout=120)
    assert reply["status"] == "ok"
    lines = stream_text(msgs).splitlines()
    assert len(lines) == 200000
    assert all(line.startswith(f"{i:09d}") for i, line in enumerate(lines))


def test_requests_answered_from_the_workers_namespace(notes):
    km, a, b = notes
    run(a, "unique_worker_name = 5")
    reply = get_reply(a, a.complete("unique_worker_na"))["content"]
    assert "unique_worker_name" in reply["matches"]
    assert "unique_worker_name" not in get_reply(b, b.complete("unique_worker_na"))["content"]["matches"]
    inspected = get_reply(a, a.inspect("unique_worker_name"))["content"]
    assert inspected["found"] and "int" in inspected["data"]["text/plain"]
    assert get_reply(a, a.is_complete("for i in x:"))["content"]["status"] == "incomplete"
    history = get_reply(a, a.history(hist_access_type="tail", n=50))["content"]["history"]
    assert any("unique_worker_name = 5" in entry[2] for entry in history)
    reply, _ = run(a, "")
    msg_id = a.execute("pass", user_expressions={"doubled": "unique_worker_name * 2"})
    expressions = get_reply(a, msg_id)["content"]["user_expressions"]
    assert expressions["doubled"]["data"]["text/plain"] == "10"


def test_a_busy_worker_still_answers_completion(notes):
    km, a, b = notes
    msg_id = a.execute("import time\nbusy_var = 1\ntime.sleep(3)")
    started(a, msg_id)
    began = time.monotonic()
    reply = get_reply(a, a.complete("busy_v"))["content"]
    assert time.monotonic() - began < 2
    assert "busy_var" in reply["matches"]
    get_reply(a, msg_id)


def test_stop_on_error_aborts_only_that_notes_queue(notes):
    km, a, b = notes
    failing = a.execute("import time; time.sleep(0.5); raise ValueError('x')")
    aborted = a.execute("print('never')")
    other = b.execute("'b runs'")
    assert get_reply(a, failing)["content"]["ename"] == "ValueError"
    assert get_reply(a, aborted)["content"]["status"] == "aborted"
    assert get_reply(b, other)["content"]["status"] == "ok"
    assert get_reply(a, a.execute("1"))["content"]["status"] == "ok"


def send_shell(kc, msg_type, content):
    msg = kc.session.msg(msg_type, content)
    kc.shell_channel.send(msg)
    return collect_iopub(kc, msg["header"]["msg_id"])


def test_comms_both_ways_through_a_worker(notes):
    km, a, b = notes
    run(a, "import comm\n"
           "def _echo(c, open_msg):\n"
           "    c.on_msg(lambda m: c.send({'echo': m['content']['data'], 'pid': __import__('os').getpid()}))\n"
           "comm.get_comm_manager().register_target('echo', _echo)")
    comm_id = uuid.uuid4().hex
    send_shell(a, "comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}})
    assert comm_id in get_reply(a, a.comm_info("echo"))["content"]["comms"]
    msgs = send_shell(a, "comm_msg", {"comm_id": comm_id, "data": {"x": 1}})
    echoes = [m["content"]["data"] for m in msgs if m["msg_type"] == "comm_msg"]
    assert echoes == [{"echo": {"x": 1}, "pid": worker_pid(a)}]
    send_shell(a, "comm_close", {"comm_id": comm_id, "data": {}})
    assert comm_id not in get_reply(a, a.comm_info())["content"]["comms"]

    reply, msgs = run(a, "from comm import create_comm\nc = create_comm(target_name='t', data={'a': 1})\nc.send({'b': 2})")
    kinds = [m["msg_type"] for m in msgs]
    assert "comm_open" in kinds and "comm_msg" in kinds, kinds


def test_reset_context_replaces_only_that_worker(notes):
    km, a, b = notes
    pid_a, pid_b = worker_pid(a), worker_pid(b)
    run(a, "before_reset = 1")
    reply, msgs = run(a, "%reset_context")
    assert reply["status"] == "ok" and "fresh worker" in stream_text(msgs)
    assert not alive(pid_a)
    assert worker_pid(a) != pid_a
    assert run(a, "before_reset")[0]["ename"] == "NameError"
    assert worker_pid(b) == pid_b


def test_contexts_shows_worker_pid_and_memory(notes):
    km, a, b = notes
    pid = worker_pid(a)
    reply, msgs = run(a, "%contexts")
    text = stream_text(msgs)
    assert str(pid) in text and "MiB" in text, text


def test_worker_channel_refuses_injected_messages(tmp_path):
    log = tmp_path / "kernel.log"
    with open(log, "w") as stderr, kernel_of(ISOLATED, stderr=stderr) as (km, kc):
        pid = worker_pid(kc)
        # Worker channels are abstract unix sockets named after the kernel's pid and a counter.
        endpoints = [f"ipc://@atrium-{kernel_pid(km)}-{n}" for n in range(1, 6)]
        listening = open("/proc/net/unix").read()
        assert f"@atrium-{kernel_pid(km)}-1" in listening, "no worker channel found"
        context = zmq.Context()
        for endpoint in endpoints:
            intruder = context.socket(zmq.DEALER)
            intruder.connect(endpoint)
            fake = b'{"type":"publish","msg_type":"stream","parent":{},"content":{"name":"stdout","text":"INJECTED"},"metadata":{}}'
            intruder.send_multipart([pack(FORGED_SIGNATURE, fake, b"")])
            intruder.send_multipart([b"garbage"])
            intruder.send_multipart([b"", b"{}", b"", b"extra"])
            intruder.close(linger=1000)
        context.term()
        time.sleep(0.5)
        reply, msgs = run(kc, "print('still fine')")
        assert reply["status"] == "ok"
        assert "INJECTED" not in stream_text(msgs)
        assert worker_pid(kc) == pid
    assert "[worker.bad_message]" in log.read_text()


def cells_endpoints(pid):
    """The abstract unix sockets the kernel `pid` listens on for its workers' cells channel (/proc/net/unix)."""
    prefix = f"@atrium-{pid}-cells-"
    lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    return sorted({line.split()[-1] for line in lines if line.split()[-1].startswith(prefix)})


def test_cells_channel_refuses_injected_replies(tmp_path):
    """The kernel's cells channel (where workers' main threads send cell replies) answers a cell only with its
    worker's signed reply: forged hellos, replies from a connection that never said hello and garbage are each
    refused, and the connection that sent them is closed."""
    log = tmp_path / "kernel.log"
    with open(log, "w") as stderr, kernel_of(ISOLATED, stderr=stderr) as (km, kc):
        run(kc, "import time")
        msg_id = kc.execute("time.sleep(1); 'genuine'")
        started(kc, msg_id)
        endpoints = cells_endpoints(kernel_pid(km))
        assert len(endpoints) == 1, endpoints
        forgeries = [b'{"type":"hello","lane":"%s"}' % lane for lane in (b"w1", b"w2", b"w3")]  # no key
        forgeries += [('{"type":"reply","id":%d,"after":0,"content":{"status":"ok","execution_count":999,'
                       '"user_expressions":{},"payload":[]}}' % n).encode() for n in range(1, 20)]
        for forged in forgeries + [None]:
            intruder = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            intruder.connect("\0" + endpoints[0][1:])
            intruder.send(b"garbage" if forged is None else pack(FORGED_SIGNATURE, forged, b""))
            intruder.settimeout(TIMEOUT)
            assert intruder.recv(1 << 20) == b"", "the kernel hangs up on a connection that did not prove itself"
            intruder.close()
        reply = get_reply(kc, msg_id)
        assert reply["content"]["status"] == "ok" and reply["content"]["execution_count"] != 999
        results = [m for m in collect_iopub(kc, msg_id) if m["msg_type"] == "execute_result"]
        assert results and results[0]["content"]["data"]["text/plain"] == "'genuine'"
    refusals = [line for line in log.read_text().splitlines() if "refused a" in line and "cells channel" in line]
    assert len(refusals) == len(forgeries) + 1, refusals


def test_no_worker_outlives_shutdown():
    with kernel_of(ISOLATED) as (km, kc):
        other = client(km, "alice")
        worker_pid(kc), worker_pid(other)
        pids = [c.pid for c in psutil.Process(kernel_pid(km)).children()]
        assert len(pids) >= 3  # two notes and the warm pool
        other.stop_channels()
    assert wait_gone(pids) == []


def test_no_worker_outlives_sigkill_of_the_kernel():
    with kernel_of(ISOLATED) as (km, kc):
        worker_pid(kc)
        pids = [c.pid for c in psutil.Process(kernel_pid(km)).children()]
        assert pids
        os.kill(kernel_pid(km), signal.SIGKILL)
        assert wait_gone(pids) == []


def test_memory_limit_gives_a_clear_error():
    with kernel_of(ISOLATED, extra_arguments=["--worker-memory=1G"]) as (km, kc):
        reply, msgs = run(kc, "block = bytearray(3 * 1024**3)")
        assert reply["ename"] == "MemoryError"
        assert "[worker.memory_limit]" in reply["evalue"] and "1024 MiB" in reply["evalue"]
        assert value_of(kc, "1 + 1")[1] == "2"


def test_cpu_limit_ends_the_worker_with_the_reason():
    with kernel_of(ISOLATED, extra_arguments=["--worker-cpu-seconds=1"]) as (km, kc):
        reply, _ = run(kc, "while True:\n    pass", timeout=60)
        assert reply["ename"] == "WorkerDied"
        assert "SIGXCPU" in reply["evalue"] and "CPU-time limit of 1 s" in reply["evalue"], reply["evalue"]
        assert value_of(kc, "1 + 1")[1] == "2"


def test_a_crash_loop_is_bounded_then_reset_clears_it():
    with kernel_of(ISOLATED) as (km, kc):
        for _ in range(5):
            assert run(kc, "import os; os._exit(1)")[0]["ename"] == "WorkerDied"
        before = {c.pid for c in psutil.Process(kernel_pid(km)).children()}
        reply, _ = run(kc, "1 + 1")
        assert reply["status"] == "error" and "[worker.crash_loop]" in reply["evalue"], reply
        assert "died 5 times" in reply["evalue"]
        assert {c.pid for c in psutil.Process(kernel_pid(km)).children()} <= before | set()
        assert run(kc, "%reset_context")[0]["status"] == "ok"
        assert value_of(kc, "1 + 1")[1] == "2"


def test_idle_culling_ends_the_worker_process():
    with kernel_of(ISOLATED, extra_arguments=["--cull-idle=1"]) as (km, kc):
        pid = worker_pid(kc)
        assert wait_gone([pid], timeout=15) == []
        assert worker_pid(kc) != pid


def test_warm_pool_serves_a_new_notes_first_cell():
    with kernel_of(ISOLATED, extra_arguments=["--warm-workers=2"]) as (km, kc):
        deadline = time.monotonic() + TIMEOUT
        def workers():  # the worker template (--preload) is a child too, but no worker
            return [c for c in psutil.Process(kernel_pid(km)).children() if c.name() != "atrium-template"]

        while len(workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        warm = {c.pid for c in workers()}
        assert len(warm) == 2
        assert worker_pid(kc) in warm


def test_a_reset_overtaking_an_answered_cell_loses_none_of_its_output():
    # A reset arrives on control, a cell on shell: the kernel may handle the reset after the cell's reply is in
    # but before the output the worker wrote before that reply has been relayed. That output must still arrive
    # (the worker is ended only once it has). Racy by nature, so many rounds: without the fix, a round lost its
    # output within the first hundred in every run tried.
    with kernel_of(ISOLATED) as (km, kc):
        for round_ in range(150):
            cell = kc.execute("print('alive %d')" % round_, stop_on_error=False)
            kc.control_channel.send(kc.session.msg("atrium_reset_context_request", {}))
            reply = get_reply(kc, cell)
            msgs = collect_iopub(kc, cell)
            if reply["content"]["status"] == "ok":
                assert stream_text(msgs) == "alive %d\n" % round_, (round_, [m["msg_type"] for m in msgs])
            else:
                assert reply["content"]["ename"] == "ContextReset"


def ring_release_mark(pid):
    """How far the kernel has copied out of the output ring (common/output_ring.hpp) the worker `pid` was handed:
    the mark in the ring's first bytes, which the kernel moves only for a genuine message's chunk (the data pages
    may have been given back to the system since, the header page never is)."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "memfd:atrium-output" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                with open(f"/proc/{pid}/fd/{fd}", "rb") as ring:
                    return int.from_bytes(ring.read(8), "little")
        except OSError:
            continue
    return None


@pytest.mark.parametrize("preload", ["json", "none"], ids=["forked-from-template", "spawned"])
def test_big_output_crosses_the_output_ring_whole(tmp_path, preload):
    """A worker hands big output to the kernel through shared memory: the kernel maps each worker's ring (handed
    to a forked worker through the template, to a spawned one as an inherited descriptor), and 12 MiB printed
    in 1 MiB chunks (three times the 4 MiB ring) arrive whole and in order, most through the ring (a chunk that
    finds it full goes on the link, behind and ahead of ring chunks)."""
    log = tmp_path / "kernel.log"
    env = {**os.environ, "ATRIUM_PRELOAD": preload}
    with open(log, "w") as stderr, kernel_of(ISOLATED, stderr=stderr, env=env) as (km, kc):
        pid = worker_pid(kc)
        forked = "--template" in Path(f"/proc/{pid}/cmdline").read_text()  # a forked worker has the template's
        assert forked == (preload != "none"), "the worker did not start the way this case tests"
        assert "/memfd:atrium-output" in Path(f"/proc/{kernel_pid(km)}/maps").read_text(), "the kernel maps no ring"
        assert ring_release_mark(pid) == 0
        lines = 12 * 1024
        reply, msgs = run(kc, f"for i in range({lines}): print(f'{{i:08d}}' + 'x' * 1015)")
        assert reply["status"] == "ok"
        text = stream_text(msgs)
        assert text == "".join(f"{i:08d}" + "x" * 1015 + "\n" for i in range(lines)), f"{len(text)} bytes"
        crossed = ring_release_mark(pid)
        assert crossed is not None and crossed >= 2 << 20, f"only {crossed} bytes crossed the ring"
    assert "[worker.ring]" not in log.read_text()
