"""The session manager: several clients on one kernel, each bound to its note's or user's context.

These tests start Atrium's mode kernelspecs by name (atrium-scoped, atrium-scoped-user, atrium-isolated)
whatever ATRIUM_KERNEL_NAME says: they test Atrium's own binding modes.
"""

import os
import subprocess
import time
import uuid

import pytest
from jupyter_client.manager import start_new_kernel
from protocol_helpers import TIMEOUT, collect_iopub, get_reply, stream_text
from session_helpers import client, kernel_of, run, value_of


@pytest.fixture(scope="module")
def scoped():
    km, kc = start_new_kernel(kernel_name="atrium-scoped", startup_timeout=TIMEOUT)
    clients = []

    def make(username="alice"):
        clients.append(client(km, username))
        return clients[-1]

    yield km, make
    for c in clients:
        c.stop_channels()
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_each_note_has_its_own_namespace_and_count(scoped):
    _, make = scoped
    a, b = make(), make()
    run(a, "secret = 'from note A'")
    reply, msgs = run(b, "secret")
    assert reply["status"] == "error" and reply["ename"] == "NameError"
    assert value_of(a, "secret")[1] == "'from note A'"
    # Each context counts its own cells: b has run one cell so far.
    assert value_of(b, "1")[0]["execution_count"] == 2


def test_a_busy_note_does_not_delay_another(scoped):
    _, make = scoped
    a, b = make(), make()
    slow = a.execute("import time; time.sleep(5)")
    time.sleep(0.3)  # a's cell is running
    started = time.monotonic()
    reply, result = value_of(b, "1 + 1")
    elapsed = time.monotonic() - started
    assert result == "2"
    assert elapsed < 1.0, f"note B waited {elapsed:.2f} s behind note A"
    assert get_reply(a, slow)["content"]["status"] == "ok"


def test_note_magic_reattaches_a_session_to_a_named_note(scoped):
    _, make = scoped
    a, b = make(), make()
    reply, msgs = run(a, "%note team-report")
    assert "team-report" in stream_text(msgs)
    run(a, "total = 42")
    # b attaches to the same note in the first line of a cell, and runs the rest of the cell there.
    reply, msgs = run(b, "%note team-report\nprint(total)")
    assert reply["status"] == "ok" and stream_text(msgs) == "42\n"


def test_note_named_in_request_metadata(scoped):
    _, make = scoped
    a, b = make(), make()
    run(a, "shared_value = 7", metadata={"atrium_note": "by-metadata"})
    reply, msgs = run(b, "print(shared_value)", metadata={"atrium_note": "by-metadata"})
    assert stream_text(msgs) == "7\n"
    assert run(b, "shared_value")[0]["ename"] == "NameError"  # b's own note is another context


def test_bad_note_name_is_a_clear_error(scoped):
    _, make = scoped
    a = make()
    reply, _ = run(a, "%note has spaces in it")
    assert reply["status"] == "error" and "[session.bad_note_name]" in reply["evalue"]
    assert value_of(a, "3 * 3")[1] == "9"


def test_stop_on_error_aborts_only_the_failing_notes_queue(scoped):
    _, make = scoped
    a, b = make(), make()
    failing = a.execute("import time; time.sleep(0.5); raise ValueError('boom')")
    queued = a.execute("queued_ran = True")
    other = b.execute("1 + 1")
    assert get_reply(a, failing)["content"]["status"] == "error"
    assert get_reply(a, queued)["content"]["status"] == "aborted"
    assert get_reply(b, other)["content"]["status"] == "ok"
    assert run(a, "'queued_ran' in globals()")[0]["status"] == "ok"
    assert value_of(a, "'queued_ran' in globals()")[1] == "False"


def test_interrupt_reaches_only_the_requesters_note(scoped):
    _, make = scoped
    a, b = make(), make()
    loop = "import time\nfor _ in range(300):\n    time.sleep(0.01)\nprint('finished')"
    a_id, b_id = a.execute(loop), b.execute(loop)
    time.sleep(0.5)
    request = a.session.msg("interrupt_request", {})
    a.control_channel.send(request)
    a_reply = get_reply(a, a_id, timeout=10)["content"]
    assert a_reply["status"] == "error" and a_reply["ename"] == "KeyboardInterrupt"
    b_msgs = collect_iopub(b, b_id)
    assert get_reply(b, b_id)["content"]["status"] == "ok"
    assert stream_text(b_msgs) == "finished\n"
    assert value_of(a, "'alive'")[1] == "'alive'"


def test_output_of_a_thread_a_cell_started_carries_that_cells_parent(scoped):
    _, make = scoped
    a, b = make(), make()
    code = ("import threading, time\n"
            "def late():\n    time.sleep(0.8)\n    print('from the thread')\n"
            "threading.Thread(target=late).start()")
    a_id = a.execute(code)
    assert get_reply(a, a_id)["content"]["status"] == "ok"
    b_id = b.execute("import time; time.sleep(1.5)")  # another note runs while a's thread prints
    parents = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "from the thread\n" not in parents:
        try:
            msg = a.get_iopub_msg(timeout=0.5)
        except Exception:
            continue
        if msg["msg_type"] == "stream":
            parents[msg["content"]["text"]] = msg["parent_header"].get("msg_id")
    assert parents.get("from the thread\n") == a_id
    assert get_reply(b, b_id)["content"]["status"] == "ok"


def test_completion_and_history_come_from_the_requesters_context(scoped):
    _, make = scoped
    a, b = make(), make()
    run(a, "only_in_a = 1")
    msg_id = b.complete("only_in", 7)
    assert "only_in_a" not in get_reply(b, msg_id)["content"]["matches"]
    msg_id = a.complete("only_in", 7)
    assert "only_in_a" in get_reply(a, msg_id)["content"]["matches"]
    msg_id = b.history(hist_access_type="tail", n=10)
    assert all("only_in_a" not in entry[2] for entry in get_reply(b, msg_id)["content"]["history"])


def test_contexts_magic_lists_the_notes(scoped):
    _, make = scoped
    a = make()
    run(a, "x = 1")
    reply, msgs = run(a, "%contexts")
    text = stream_text(msgs)
    assert "binding: scoped" in text
    assert f"note:{a.session.session}"[:29] in text


def test_reset_context_magic_starts_only_that_note_afresh(scoped):
    _, make = scoped
    a, b = make(), make()
    run(a, "kept = 'a'")
    run(b, "kept = 'b'")
    reply, msgs = run(a, "%reset_context")
    assert reply["status"] == "ok" and "reset" in stream_text(msgs)
    first = run(a, "kept")[0]
    assert first["ename"] == "NameError"
    assert first["execution_count"] == 1  # a fresh count too
    assert value_of(b, "kept")[1] == "'b'"


def test_reset_context_control_message_interrupts_and_resets_only_the_requester(scoped):
    _, make = scoped
    a, b = make(), make()
    run(a, "before = 1")
    run(b, "before = 2")
    busy = a.execute("import time\nfor _ in range(500):\n    time.sleep(0.01)")
    time.sleep(0.3)
    request = a.session.msg("atrium_reset_context_request", {})
    a.control_channel.send(request)
    reply = get_reply(a, request["header"]["msg_id"], channel="control")["content"]
    assert reply["status"] == "ok" and reply["found"] is True
    assert get_reply(a, busy, timeout=10)["content"]["ename"] == "KeyboardInterrupt"
    assert run(a, "before")[0]["ename"] == "NameError"
    assert value_of(b, "before")[1] == "2"


def test_idle_contexts_are_culled_and_come_back_fresh():
    env = {**os.environ, "ATRIUM_CULL_IDLE_SECONDS": "1"}
    with kernel_of("atrium-scoped", env=env) as (km, kc):
        a, b = client(km), client(km)
        run(a, "x = 'will be culled'")
        busy = b.execute("import time; time.sleep(3)")  # a busy context is never culled
        time.sleep(2.5)
        assert run(a, "x")[0]["ename"] == "NameError"
        assert get_reply(b, busy)["content"]["status"] == "ok"
        run(b, "y = 1")
        assert value_of(b, "y")[1] == "1"


def test_per_user_scope_isolates_users_but_joins_a_users_sessions():
    with kernel_of("atrium-scoped-user") as (km, kc):
        alice_notebook, alice_console = client(km, "alice"), client(km, "alice")
        bob = client(km, "bob")
        run(alice_notebook, "plan = 'alice only'")
        assert value_of(alice_console, "plan")[1] == "'alice only'"
        assert run(bob, "plan")[0]["ename"] == "NameError"
        msg_id = bob.complete("pla", 3)
        assert "plan" not in get_reply(bob, msg_id)["content"]["matches"]
        reply, msgs = run(bob, "%contexts")
        assert "user:alice" not in stream_text(msgs) and "user:bob" in stream_text(msgs)
        assert "other users not shown" in stream_text(msgs)


def test_shared_mode_gives_every_client_the_same_namespace():
    with kernel_of("atrium") as (km, kc):
        notebook, console = client(km, "alice"), client(km, "bob")
        run(notebook, "from_notebook = 'visible to all'")
        assert value_of(console, "from_notebook")[1] == "'visible to all'"
        msg_id = console.complete("from_note", 9)
        assert "from_notebook" in get_reply(console, msg_id)["content"]["matches"]


def test_per_user_inspect_history_and_interrupt_stay_within_the_user():
    with kernel_of("atrium-scoped-user") as (km, kc):
        alice, bob = client(km, "alice"), client(km, "bob")
        run(alice, "def alices_function():\n    'Alice only.'\n")
        msg_id = bob.inspect("alices_function", 15)
        assert get_reply(bob, msg_id)["content"]["found"] is False
        msg_id = alice.inspect("alices_function", 15)
        assert get_reply(alice, msg_id)["content"]["found"] is True
        msg_id = bob.history(hist_access_type="search", pattern="*alices*")
        assert get_reply(bob, msg_id)["content"]["history"] == []
        # bob's interrupt does not reach alice's running cell
        busy = alice.execute("import time\nfor _ in range(150):\n    time.sleep(0.01)")
        time.sleep(0.3)
        bob.control_channel.send(bob.session.msg("interrupt_request", {}))
        assert get_reply(alice, busy, timeout=10)["content"]["status"] == "ok"


def test_per_user_comms_refuse_other_users():
    with kernel_of("atrium-scoped-user") as (km, kc):
        alice, bob = client(km, "alice"), client(km, "bob")
        run(alice, "import comm\nopened = []\n"
                   "comm.get_comm_manager().register_target('private', lambda c, msg: opened.append(msg['header']['username']))")

        def open_comm(kc):
            msg = kc.session.msg("comm_open", {"comm_id": uuid.uuid4().hex, "target_name": "private", "data": {}})
            kc.shell_channel.send(msg)

        open_comm(bob)
        open_comm(alice)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and value_of(alice, "opened")[1] == "[]":
            time.sleep(0.1)
        assert value_of(alice, "opened")[1] == "['alice']"  # bob's comm_open never reached alice's handler


@pytest.mark.parametrize("name", ["atrium-scoped-user", "atrium-isolated-user"])
def test_comm_info_lists_only_the_requesters_comms(name):
    with kernel_of(name) as (km, kc):
        alice, bob = client(km, "alice"), client(km, "bob")
        reply, _ = run(alice, "from comm import create_comm\nmine = create_comm(target_name='alices', data={})")
        assert reply["status"] == "ok", reply
        reply, _ = run(bob, "from comm import create_comm\nmine = create_comm(target_name='bobs', data={})")
        assert reply["status"] == "ok", reply

        def targets(kc, target_name=None):
            comms = get_reply(kc, kc.comm_info(target_name))["content"]["comms"]
            return sorted(info["target_name"] for info in comms.values())

        assert targets(alice) == ["alices"]
        assert targets(bob) == ["bobs"]
        assert targets(bob, "alices") == []
        assert targets(alice, "alices") == ["alices"]


def test_comm_info_in_a_shared_kernel_lists_every_comm():
    with kernel_of("atrium-scoped") as (km, kc):
        first, second = client(km, "alice"), client(km, "bob")
        run(first, "from comm import create_comm\nmine = create_comm(target_name='first', data={})")
        run(second, "from comm import create_comm\nmine = create_comm(target_name='second', data={})")
        comms = get_reply(first, first.comm_info())["content"]["comms"]
        assert sorted(info["target_name"] for info in comms.values()) == ["first", "second"]


def test_isolated_mode_without_a_usable_worker_gives_a_clear_error():
    env = {**os.environ, "ATRIUM_WORKER_EXECUTABLE": "/nonexistent/atrium-worker"}
    with kernel_of("atrium-isolated", env=env) as (km, kc):
        reply, msgs = run(kc, "1 + 1")
        assert reply["status"] == "error" and reply["ename"] == "WorkerUnavailable"
        assert "[worker.spawn]" in reply["evalue"] and "exited with code 127" in reply["evalue"], reply
        assert any(m["msg_type"] == "error" for m in msgs)
        assert run(kc, "%contexts")[0]["status"] == "ok"  # the kernel itself carries on


def test_bad_binding_flags_stop_the_kernel_with_a_clear_message(tmp_path):
    binary = km_binary()
    result = subprocess.run([binary, "-f", str(tmp_path / "none.json"), "--mode=bogus"],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "[binding.bad_mode]" in result.stderr


def km_binary():
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager().get_kernel_spec("atrium-scoped").argv[0]
