"""`atrium --host` and its fronts, driven over the control socket and real jupyter_client clients (docs/host.md).

The provisioner's view (jupyter_client's KernelManager) is tested in test_host_provisioner.py; here the host
itself: fronts relay to one process, each to its own context, with its own status stream, key and user.
"""

import json
import os
import signal
import socket
import stat
import subprocess
import time

import pytest
from jupyter_client.session import Session

from host_control import ATRIUM, Host, ask, read_line
from protocol_helpers import TIMEOUT, collect_iopub, drain_iopub, execute_and_collect, get_reply, stream_text


@pytest.fixture
def host(tmp_path):
    h = Host(tmp_path, "--mode=scoped")
    yield h
    h.stop()


def printed(kc, code):
    _, msgs = execute_and_collect(kc, code)
    return stream_text(msgs)


def test_fronts_share_the_process_but_not_the_namespace(host):
    assert host.ask({"op": "ping"}) == {"ok": True, "pid": host.pid, "mode": "scoped", "scope": "note", "fronts": 0}
    a, b = host.client("k-a"), host.client("k-b")
    assert printed(a, "x = 'a'; import os; print(os.getpid())").strip() == str(host.pid)
    assert printed(b, "x = 'b'; import os; print(os.getpid())").strip() == str(host.pid)
    assert printed(a, "print(x)") == "a\n"
    assert printed(b, "print(x)") == "b\n"
    listed = printed(a, "%contexts")
    assert "note:k-a" in listed and "note:k-b" in listed


def test_each_front_has_its_own_status_stream(host):
    a, b = host.client("k-a"), host.client("k-b")
    drain_iopub(b)
    reply, msgs = execute_and_collect(a, "print('only a')")
    states = [m["content"]["execution_state"] for m in msgs if m["msg_type"] == "status"]
    assert states[0] == "busy" and states[-1] == "idle"
    # b's iopub saw nothing of a's cell: no status, no stream.
    leaked = []
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        try:
            leaked.append(b.get_iopub_msg(timeout=0.1))
        except Exception:
            pass
    assert leaked == []
    # Every message a got names a's own request as its parent, with the header a sent.
    assert all(m["parent_header"].get("msg_id") == reply["parent_header"]["msg_id"] for m in msgs)
    assert reply["parent_header"]["session"] == a.session.session


def test_a_request_signed_with_another_fronts_key_is_refused(host):
    a, b = host.client("k-a"), host.client("k-b")
    printed(b, "secret = 42")
    forged = Session(key=a.session.key, session=b.session.session)  # a's key, sent to b's shell
    msg = forged.msg("execute_request", {"code": "print(secret)", "silent": False, "store_history": True,
                                         "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    forged.send(b.shell_channel.socket, msg)
    with pytest.raises(Exception):
        get_reply(b, msg["header"]["msg_id"], timeout=1)
    assert printed(b, "print(secret)") == "42\n"  # b still serves its own client
    assert "bad_signature" in host.log.read_text()


def test_a_replayed_request_is_refused(host):
    a = host.client("k-a")
    printed(a, "n = 0")
    msg = a.session.msg("execute_request", {"code": "n += 1", "silent": False, "store_history": True,
                                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
    stream = a.shell_channel.socket
    for _ in range(2):
        a.session.send(stream, msg)  # the same signed frames twice
    get_reply(a, msg["header"]["msg_id"])
    time.sleep(0.3)
    assert printed(a, "print(n)") == "1\n"
    assert "replayed" in host.log.read_text()


def test_the_front_decides_the_user_and_the_note(tmp_path):
    host = Host(tmp_path, "--mode=scoped", "--scope=user")
    try:
        a = host.client("k-a", user="alice")
        a.session.username = "mallory"  # what a client claims is not who opened the front
        printed(a, "mine = 1")
        listed = printed(a, "%contexts")
        assert "user:alice" in listed and "mallory" not in listed
    finally:
        host.stop()


def test_a_client_cannot_reach_another_note_through_metadata(host):
    a, b = host.client("k-a"), host.client("k-b")
    printed(b, "where = 'b'")
    printed(a, "where = 'a'")
    msg_id = a.execute("print(where)")
    # jupyter_client has no metadata argument on execute; send one by hand with a note hint.
    msg = a.session.msg("execute_request", {"code": "print(where)", "silent": False, "store_history": True,
                                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                        metadata={"atrium_note": "k-b"})
    a.shell_channel.send(msg)
    get_reply(a, msg_id)
    reply = get_reply(a, msg["header"]["msg_id"])
    assert reply["content"]["status"] == "ok"
    msgs = collect_iopub(a, msg["header"]["msg_id"])
    assert stream_text(msgs) == "a\n"


def test_input_reaches_the_client_of_the_front(host):
    a = host.client("k-a")
    msg_id = a.execute("answer = input('name? ')", allow_stdin=True)
    prompt = a.get_stdin_msg(timeout=TIMEOUT)
    assert prompt["content"]["prompt"] == "name? "
    assert prompt["parent_header"]["msg_id"] == msg_id
    a.input("atrium")
    assert get_reply(a, msg_id)["content"]["status"] == "ok"
    assert printed(a, "print(answer)") == "atrium\n"


# In a scoped context an interrupt raises at the cell's next bytecode (docs/sessions.md, Interrupts): a busy loop.
BUSY = "while True:\n    pass"


def test_interrupt_op_stops_only_that_fronts_cell(host):
    a, b = host.client("k-a"), host.client("k-b")
    a_id = a.execute(BUSY)
    b_id = b.execute("import time; time.sleep(1); print('b finished')")
    time.sleep(0.3)
    assert host.ask({"op": "interrupt", "kernel_id": "k-a"}) == {"ok": True}
    assert get_reply(a, a_id)["content"]["ename"] == "KeyboardInterrupt"
    assert get_reply(b, b_id)["content"]["status"] == "ok"
    assert "b finished" in stream_text(collect_iopub(b, b_id))


def test_reset_op_starts_the_context_afresh_and_keeps_the_front(host):
    a, b = host.client("k-a"), host.client("k-b")
    printed(a, "x = 1")
    printed(b, "x = 2")
    assert host.ask({"op": "reset", "kernel_id": "k-a"}) == {"ok": True}
    assert printed(a, "print(globals().get('x'))") == "None\n"
    assert printed(b, "print(x)") == "2\n"


def test_close_then_open_again_finds_a_fresh_namespace(host):
    a, b = host.client("k-a"), host.client("k-b")
    printed(a, "x = 1")
    printed(b, "x = 2")
    assert host.ask({"op": "close", "kernel_id": "k-a"}) == {"ok": True, "was_open": True}
    assert host.ask({"op": "alive", "kernel_id": "k-a"}) == {"ok": True, "alive": False}
    assert host.ask({"op": "close", "kernel_id": "k-a"}) == {"ok": True, "was_open": False}
    assert "note:k-a" not in printed(b, "%contexts")  # disposed, not just emptied
    again = host.client("k-a")
    assert printed(again, "print(globals().get('x'))") == "None\n"
    assert printed(b, "print(x)") == "2\n"


def test_closing_a_front_whose_cell_runs_interrupts_it_and_frees_the_context(host):
    a, b = host.client("k-a"), host.client("k-b")
    a.execute(BUSY)
    time.sleep(0.3)
    assert host.ask({"op": "close", "kernel_id": "k-a"})["ok"]
    deadline = time.monotonic() + TIMEOUT
    while "note:k-a" in printed(b, "%contexts"):
        assert time.monotonic() < deadline, "the closed front's context was never freed"
        time.sleep(0.2)


def test_a_clients_shutdown_request_closes_its_front_not_the_host(host):
    a, b = host.client("k-a"), host.client("k-b")
    printed(b, "kept = True")
    msg_id = a.shutdown(restart=False)
    reply = a.get_control_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "shutdown_reply" and reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"] == {"status": "ok", "restart": False}
    deadline = time.monotonic() + TIMEOUT
    while host.ask({"op": "alive", "kernel_id": "k-a"})["alive"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert host.process.poll() is None
    assert printed(b, "print(kept)") == "True\n"


def test_twenty_fronts_answer_their_own_cells_sent_at_once(host):
    # Each of the host's two serving threads watches every front's sockets through one epoll set
    # (kernel/host/epoll_set), told apart by tags: with requests in flight on twenty fronts together, each front
    # gets its own reply and output, and closing fronts among them changes nothing for the others.
    clients = [host.client(f"k-{i}") for i in range(20)]
    try:
        msg_ids = [kc.execute(f"import time; time.sleep(0.05); print('front', {i})") for i, kc in enumerate(clients)]
        for i, (kc, msg_id) in enumerate(zip(clients, msg_ids)):
            assert get_reply(kc, msg_id)["content"]["status"] == "ok"
            assert stream_text(collect_iopub(kc, msg_id)) == f"front {i}\n"
        for i in range(0, 20, 2):
            assert host.ask({"op": "close", "kernel_id": f"k-{i}"}) == {"ok": True, "was_open": True}
        for i in range(1, 20, 2):
            assert printed(clients[i], f"print('still', {i})") == f"still {i}\n"
    finally:
        for kc in clients:
            kc.stop_channels()


def test_heartbeat_answers_on_each_front(host):
    a = host.client("k-a")
    info = host.ask({"op": "list"})
    assert [f["kernel_id"] for f in info["fronts"]] == ["k-a"]
    import zmq
    ctx = zmq.Context.instance()
    hb = ctx.socket(zmq.REQ)
    hb.connect("tcp://127.0.0.1:%d" % a.hb_port)
    hb.send(b"ping")
    assert hb.poll(TIMEOUT * 1000) and hb.recv() == b"ping"
    hb.close(0)


def test_the_ports_asked_for_are_used(host, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    info = host.open("k-a", ports={"shell_port": port})["connection"]
    assert info["shell_port"] == port
    # Taken: another free port instead, which the client adopts.
    taken = host.open("k-b", ports={"shell_port": port})["connection"]
    assert taken["shell_port"] not in (0, port)


@pytest.mark.parametrize("request_line, error", [
    ("not json", "[host.bad_request]"),
    ('{"no_op": 1}', "[host.bad_request]"),
    ('{"op": "dance"}', "[host.bad_kernel_id]"),
    ('{"op": "dance", "kernel_id": "k"}', "[host.unknown_op]"),
    ('{"op": "open", "kernel_id": "has space"}', "[host.bad_kernel_id]"),
    ('{"op": "open", "kernel_id": ""}', "[host.bad_kernel_id]"),
    ('{"op": "open", "kernel_id": "%s"}' % ("k" * 129), "[host.bad_kernel_id]"),
    ('{"op": "open", "kernel_id": "k", "user": 5}', "[host.bad_user]"),
    ('{"op": "open", "kernel_id": "k", "key": ["x"]}', "[host.bad_key]"),
    ('{"op": "open", "kernel_id": "k", "ip": "10.0.0.1 ; rm"}', "[host.bad_ip]"),
    ('{"op": "open", "kernel_id": "k", "ip": "192.0.2.77"}', "[host.bind_failed]"),
    ('{"op": "open", "kernel_id": "k", "ports": [1]}', "[host.bad_ports]"),
    ('{"op": "reset", "kernel_id": "nobody"}', "[host.no_such_front]"),
    ('{"op": "interrupt", "kernel_id": "nobody"}', "[host.no_such_front]"),
])
def test_bad_control_requests_get_a_clear_error(host, request_line, error):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(TIMEOUT)
        s.connect(str(host.socket))
        s.sendall(request_line.encode() + b"\n")
        answer = json.loads(read_line(s))
    assert answer["ok"] is False and answer["error"].startswith(error), answer
    assert host.ask({"op": "ping"})["ok"]


def test_a_second_open_of_one_kernel_id_is_refused(host):
    host.open("k-a")
    answer = host.ask({"op": "open", "kernel_id": "k-a"})
    assert answer["ok"] is False and answer["error"].startswith("[host.front_exists]")


def test_an_endless_line_is_refused_and_the_host_goes_on(host):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(TIMEOUT)
        s.connect(str(host.socket))
        s.sendall(b"x" * (70 * 1024))
        answer = json.loads(read_line(s))
    assert answer["error"].startswith("[host.bad_request]")
    assert host.ask({"op": "ping"})["ok"]


def test_the_control_socket_is_for_its_owner_only(host):
    assert stat.S_IMODE(os.stat(host.socket).st_mode) == 0o600
    if os.getuid() == 0:
        # Another user cannot even connect (the file's mode), whatever it tries.
        probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX)\n"
                 "try:\n s.connect(sys.argv[1]); print('connected')\n"
                 "except OSError as e:\n print('refused', e.errno)")
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "python3", "-c", probe,
                              str(host.socket)], capture_output=True, text=True, timeout=TIMEOUT)
        assert out.stdout.startswith("refused"), out


def test_a_second_host_on_the_same_socket_exits_with_status_3(host):
    second = subprocess.run([str(ATRIUM), "--host", "--mode=scoped", "--host-socket=%s" % host.socket], capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert second.returncode == 3
    assert "[host.already_running]" in second.stderr
    assert host.ask({"op": "ping"})["pid"] == host.pid


def test_a_stale_socket_file_is_replaced(tmp_path):
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "host.sock"))  # a file nobody listens on, as a killed host leaves
    stale.close()
    host = Host(tmp_path, "--mode=scoped")
    try:
        assert host.ask({"op": "ping"})["ok"]
    finally:
        host.stop()


def test_the_host_ends_after_its_linger_without_fronts(tmp_path):
    host = Host(tmp_path, "--mode=scoped", linger="1")
    try:
        host.open("k-a")
        time.sleep(1.5)
        assert host.process.poll() is None  # a front is open: it stays
        host.ask({"op": "close", "kernel_id": "k-a"})
        host.process.wait(TIMEOUT)
        assert "[host.linger_over]" in host.log.read_text()
        assert not host.socket.exists()
    finally:
        host.stop()


def test_isolated_host_closing_a_front_ends_its_worker_and_kill_9_leaves_no_worker(tmp_path):
    host = Host(tmp_path, "--mode=isolated")
    try:
        a, b = host.client("k-a"), host.client("k-b")
        worker_a = int(printed(a, "import os; print(os.getpid())"))
        worker_b = int(printed(b, "import os; print(os.getpid())"))
        assert len({worker_a, worker_b, host.pid}) == 3
        host.ask({"op": "close", "kernel_id": "k-a"})
        deadline = time.monotonic() + TIMEOUT
        while os.path.exists("/proc/%d" % worker_a) and not zombie(worker_a):
            assert time.monotonic() < deadline, "the closed front's worker still runs"
            time.sleep(0.05)
        assert printed(b, "print(os.getpid())").strip() == str(worker_b)
        children = subprocess.run(["pgrep", "-P", str(host.pid)], capture_output=True, text=True).stdout.split()
        host.process.send_signal(signal.SIGKILL)
        host.process.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while any(os.path.exists("/proc/%s" % pid) and not zombie(int(pid)) for pid in children):
            assert time.monotonic() < deadline, "workers outlived their host"
            time.sleep(0.05)
    finally:
        host.stop()


def zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_big_stream_reaches_its_front_whole_and_in_order(host):
    a, b = host.client("k-a"), host.client("k-b")
    code = "import sys\nfor i in range(200000):\n    sys.stdout.write('%07d ' % i + 'x' * 90 + '\\n')"
    msg_id = a.execute(code)
    reply = get_reply(a, msg_id, timeout=120)
    assert reply["content"]["status"] == "ok"
    text = []
    while True:
        msg = a.get_iopub_msg(timeout=5)
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    lines = "".join(text).splitlines()
    assert len(lines) == 200000
    assert all(line.startswith("%07d " % i) for i, line in enumerate(lines))
    assert printed(b, "print('b unaffected')") == "b unaffected\n"


@pytest.mark.parametrize("restart", ["sometimes", 3, [True]])
def test_a_malformed_shutdown_request_is_refused_and_ends_nothing(host, restart):
    a, b = host.client("k-a"), host.client("k-b")
    printed(a, "kept = 'a'")
    msg = a.session.msg("shutdown_request", {"restart": restart})
    a.control_channel.send(msg)
    reply = get_reply(a, msg["header"]["msg_id"], channel="control")
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "ProtocolError"
    assert host.ask({"op": "alive", "kernel_id": "k-a"})["alive"]
    assert printed(a, "print(kept)") == "a\n"
    assert printed(b, "print('b')") == "b\n"


def test_kill_9_of_a_host_leaves_no_dask_process(tmp_path):
    host = Host(tmp_path, "--mode=scoped")
    try:
        a, b = host.client("k-a"), host.client("k-b")
        _, msgs = execute_and_collect(a, "print(ctx.submit(lambda: 41 + 1).result())", timeout=120)
        assert stream_text(msgs) == "42\n", msgs
        _, msgs = execute_and_collect(b, "print(ctx.submit(lambda: 1 + 1).result())", timeout=120)
        assert stream_text(msgs) == "2\n", msgs
        descendants = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.split()
        children = {}
        for pid, ppid in zip(descendants[::2], descendants[1::2]):
            children.setdefault(int(ppid), []).append(int(pid))
        tree, todo = [], [host.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                tree.append(child)
                todo.append(child)
        assert tree, "the local cluster runs in processes of the host's"
        host.process.send_signal(signal.SIGKILL)
        host.process.wait(TIMEOUT)
        deadline = time.monotonic() + 60
        while any(os.path.exists("/proc/%d" % pid) and not zombie(pid) for pid in tree):
            assert time.monotonic() < deadline, "Dask processes outlived their host"
            time.sleep(0.1)
    finally:
        host.stop()


def comm_ids(kc):
    reply = get_reply(kc, kc.comm_info())
    assert reply["content"]["status"] == "ok"
    return set(reply["content"]["comms"])


def test_a_front_sees_and_drives_only_its_own_notes_comms(host):
    a, b = host.client("k-a"), host.client("k-b")
    printed(b, "from comm import create_comm\nc = create_comm(target_name='t', data={})\nprint(c.comm_id)")
    b_comm = printed(b, "print(c.comm_id)").strip()
    assert b_comm in comm_ids(b)
    assert b_comm not in comm_ids(a)  # a widget manager in a's notebook must not load b's widgets
    printed(b, "got = []\nc.on_msg(lambda m: got.append(m['content']['data']))")
    msg = a.session.msg("comm_msg", {"comm_id": b_comm, "data": {"from": "a"}})
    a.shell_channel.send(msg)
    collect_iopub(a, msg["header"]["msg_id"])
    assert printed(b, "print(got)") == "[]\n"


def test_with_scope_user_a_users_context_goes_with_the_last_of_their_fronts(tmp_path):
    host = Host(tmp_path, "--mode=scoped", "--scope=user")
    try:
        first, second = host.client("k-1", user="alice"), host.client("k-2", user="alice")
        printed(first, "shared = 'alice'")
        assert printed(second, "print(shared)") == "alice\n"
        host.ask({"op": "close", "kernel_id": "k-1"})
        assert printed(second, "print(shared)") == "alice\n"  # the other notebook keeps the user's context
        host.ask({"op": "close", "kernel_id": "k-2"})
        third = host.client("k-3", user="alice")
        assert printed(third, "print(globals().get('shared'))") == "None\n"
    finally:
        host.stop()


def test_no_front_opens_on_a_stopping_host(host):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(TIMEOUT)
        s.connect(str(host.socket))
        s.sendall(b'{"op": "stop"}\n{"op": "open", "kernel_id": "late"}\n')
        answers = b""
        try:
            while answers.count(b"\n") < 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answers += chunk
        except OSError:
            pass
    lines = [json.loads(line) for line in answers.splitlines()]
    assert lines[0] == {"ok": True}
    assert len(lines) == 1 or (lines[1]["ok"] is False and lines[1]["error"].startswith("[host.stopping]"))
    host.process.wait(TIMEOUT)


def test_a_host_that_listens_but_is_slow_to_answer_is_not_replaced(tmp_path):
    busy = socket.socket(socket.AF_UNIX)
    busy.bind(str(tmp_path / "host.sock"))
    busy.listen(1)  # listens, never answers: a host too busy to, as far as a newcomer can tell
    try:
        second = subprocess.run([str(ATRIUM), "--host", "--mode=scoped", "--host-socket=%s" % (tmp_path / "host.sock")],
                                capture_output=True, text=True, timeout=TIMEOUT)
        assert second.returncode == 3 and "[host.already_running]" in second.stderr
        assert (tmp_path / "host.sock").exists()
    finally:
        busy.close()


def test_requests_sent_just_before_a_shutdown_leave_no_context_behind(host):
    # The shutdown is answered by the front at once and the note disposed of; a cell sent just before it must
    # not make the note a context again afterwards (one nobody could ever free).
    watcher = host.client("k-watch")
    for round_ in range(15):
        kernel_id = "k-%d" % round_
        kc = host.client(kernel_id)
        kc.execute("x = %d" % round_)
        kc.shutdown()
        deadline = time.monotonic() + TIMEOUT
        while host.ask({"op": "alive", "kernel_id": kernel_id})["alive"]:  # answered once the note is disposed
            assert time.monotonic() < deadline
            time.sleep(0.02)
        kc.stop_channels()
    time.sleep(0.5)  # a context freed while busy goes at the sweeper's next round
    listed = printed(watcher, "%contexts")
    assert [key for key in ("note:k-%d" % i for i in range(15)) if key in listed] == []


def test_an_interrupt_right_after_a_cell_starts_is_not_lost_in_an_isolated_host(tmp_path):
    # The kernel shows a cell started (execute_input) a moment before its worker runs it (cells are
    # pipelined), and a worker ignores SIGINT between cells: an interrupt in that moment must still stop the
    # cell. Without the cell-id interrupt, about one round in fifteen ran to its end.
    host = Host(tmp_path, "--mode=isolated")
    try:
        a, b = host.client("k-a"), host.client("k-b")
        b_id = b.execute("import time; time.sleep(60)")
        for round_ in range(30):
            msg_id = a.execute("import time\nfor _ in range(1000):\n    time.sleep(0.01)")
            while True:
                msg = a.get_iopub_msg(timeout=TIMEOUT)
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
                    break
            assert host.ask({"op": "interrupt", "kernel_id": "k-a"}) == {"ok": True}
            reply = get_reply(a, msg_id, timeout=8)
            assert reply["content"].get("ename") == "KeyboardInterrupt", (round_, reply["content"])
            collect_iopub(a, msg_id)
        host.ask({"op": "interrupt", "kernel_id": "k-b"})
        assert get_reply(b, b_id)["content"].get("ename") == "KeyboardInterrupt"
    finally:
        host.stop()
