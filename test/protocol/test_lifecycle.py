"""Bounded note lifecycles: caps on contexts, reclaiming idle unnamed notes (least recently used first), named
notes kept, a notice for a client that comes back, and a clear error when nothing can be reclaimed."""

import json
import os
import time
import uuid

import pytest
from protocol_helpers import BUILD_DIR, TIMEOUT, stream_text
from session_helpers import client, kernel_of, run

MODES = ["atrium-scoped", "atrium-isolated"]
BUILD_SHARE = BUILD_DIR / "share" / "jupyter"


def as_session(kc, session_id):
    """Requests from now on come from another client session (as a reloaded notebook page would)."""
    kc.session.session = session_id


def note(name):
    return {"atrium_note": name}


def contexts_table(kc):
    reply, msgs = run(kc, "%contexts")
    assert reply["status"] == "ok", reply
    return stream_text(msgs)


@pytest.mark.parametrize("name", MODES)
def test_at_the_cap_the_least_recently_used_idle_unnamed_note_is_reclaimed(name):
    with kernel_of(name, extra_arguments=["--max-contexts=3", "--warm-workers=1"]) as (km, kc):
        sessions = [str(uuid.uuid4()) for _ in range(3)]
        for i, session in enumerate(sessions):
            as_session(kc, session)
            reply, _ = run(kc, f"mine = {i}")
            assert reply["status"] == "ok", reply
        # The first note was used again most recently, so the second is the one to go.
        as_session(kc, sessions[0])
        assert run(kc, "mine")[0]["status"] == "ok"
        as_session(kc, str(uuid.uuid4()))
        reply, _ = run(kc, "mine = 'new'")
        assert reply["status"] == "ok", reply
        table = contexts_table(kc)
        assert "contexts: 3 of at most 3" in table, table
        assert sessions[1][:20] not in table and sessions[0][:20] in table, table

        # The reclaimed note's client comes back: it is told, and starts afresh.
        as_session(kc, sessions[1])
        reply, msgs = run(kc, "print(globals().get('mine', 'gone'))")
        assert reply["status"] == "ok", reply
        assert "[session.reclaimed]" in stream_text(msgs, "stderr"), msgs
        assert stream_text(msgs) == "gone\n"
        # Told once only.
        reply, msgs = run(kc, "1")
        assert "[session.reclaimed]" not in stream_text(msgs, "stderr")


@pytest.mark.parametrize("name", MODES)
def test_named_notes_are_never_reclaimed_and_a_full_kernel_says_so(name):
    with kernel_of(name, extra_arguments=["--max-contexts=2"]) as (km, kc):
        assert run(kc, "kept = 'a'", metadata=note("a"))[0]["status"] == "ok"
        assert run(kc, "kept = 'b'", metadata=note("b"))[0]["status"] == "ok"
        reply, msgs = run(kc, "1", metadata=note("c"))
        assert reply["status"] == "error"
        assert "[session.too_many_contexts]" in reply["evalue"], reply
        # Nothing was lost, and the named notes still answer.
        reply, msgs = run(kc, "print(kept)", metadata=note("a"))
        assert stream_text(msgs) == "a\n"
        reply, msgs = run(kc, "print(kept)", metadata=note("b"))
        assert stream_text(msgs) == "b\n"
        # %contexts needs no context of its own, so it answers even now.
        table = contexts_table(kc)
        assert table.count("never (named)") == 2, table
        # A note its user ended with exit() gives its slot up, though named.
        assert run(kc, "exit()", metadata=note("b"))[0]["status"] == "ok"
        reply, msgs = run(kc, "print('c runs')", metadata=note("c"))
        assert stream_text(msgs) == "c runs\n", (reply, msgs)
        reply, msgs = run(kc, "print(kept)", metadata=note("a"))
        assert stream_text(msgs) == "a\n"


@pytest.mark.parametrize("name", MODES)
def test_a_busy_unnamed_note_is_not_reclaimed(name):
    with kernel_of(name, extra_arguments=["--max-contexts=1"]) as (km, kc):
        # This note sleeps; a second client's new note finds the kernel full and nothing idle to reclaim.
        sleeper = kc.execute("import time; time.sleep(3); done = True")
        other = client(km)
        try:
            reply = other.execute("1", reply=True, timeout=TIMEOUT)
            assert reply["content"]["status"] == "error"
            assert "[session.too_many_contexts]" in reply["content"]["evalue"]
        finally:
            other.stop_channels()
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        assert reply["parent_header"]["msg_id"] == sleeper
        assert reply["content"]["status"] == "ok", reply["content"]
        reply, msgs = run(kc, "print(done)")
        assert stream_text(msgs) == "True\n"


def test_contexts_shows_what_will_be_reclaimed_and_when():
    with kernel_of("atrium-isolated", extra_arguments=["--reclaim-idle-workers=600"]) as (km, kc):
        assert run(kc, "x = 1", metadata=note("named"))[0]["status"] == "ok"
        assert run(kc, "x = 1")[0]["status"] == "ok"
        table = contexts_table(kc)
        assert "of at most 128" in table, table
        named_row = next(line for line in table.splitlines() if line.startswith("note:named"))
        assert named_row.endswith("never (named)"), table
        # The unnamed note is idle (%contexts is answered by the kernel, not in the note): its worker goes after
        # the rest of its 600 s, or sooner if the kernel reaches its cap.
        own_row = next(line for line in table.splitlines() if line.startswith(f"note:{kc.session.session}"[:29]))
        seconds = int(own_row.split("  in ")[1].split(" s, or at the cap")[0])
        assert 590 <= seconds <= 600, table


def test_an_idle_unnamed_notes_worker_is_reclaimed_after_its_idle_time():
    with kernel_of("atrium-isolated", extra_arguments=["--reclaim-idle-workers=2"]) as (km, kc):
        assert run(kc, "kept = 1", metadata=note("named"))[0]["status"] == "ok"
        assert run(kc, "mine = 1")[0]["status"] == "ok"
        _, msgs = run(kc, "import os; print(os.getpid())")
        first_pid = int(stream_text(msgs))
        time.sleep(4)  # past the idle time (the sweeper looks every second)
        reply, msgs = run(kc, "import os; print(os.getpid()); print(globals().get('mine', 'gone'))")
        assert "[session.reclaimed]" in stream_text(msgs, "stderr"), msgs
        pid, value = stream_text(msgs).split()
        assert int(pid) != first_pid and value == "gone"
        reply, msgs = run(kc, "print(kept)", metadata=note("named"))
        assert stream_text(msgs) == "1\n", msgs


def test_exit_in_the_shared_kernel_shuts_it_down_as_ipykernel_does():
    with kernel_of("atrium") as (km, kc):
        reply, _ = run(kc, "exit()")
        assert {"source": "ask_exit", "keepkernel": False} in reply["payload"], reply
        deadline = time.monotonic() + 10
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not km.is_alive(), "the shared kernel still runs 10 s after exit()"


@pytest.mark.parametrize("name", MODES)
def test_exit_in_a_per_note_kernel_ends_that_note_only(name):
    with kernel_of(name) as (km, kc):
        other = client(km, "bob")
        try:
            assert run(kc, "mine = 1")[0]["status"] == "ok"
            assert run(other, "theirs = 2")[0]["status"] == "ok"
            reply, _ = run(kc, "exit()")
            assert {"source": "ask_exit", "keepkernel": False} in reply["payload"], reply
            # The note starts afresh; the other note and the kernel carry on.
            reply, msgs = run(kc, "print(globals().get('mine', 'gone'))")
            assert stream_text(msgs) == "gone\n", msgs
            reply, msgs = run(other, "print(theirs)")
            assert stream_text(msgs) == "2\n", msgs
            # exit(keep_kernel=True) leaves the note's state alone.
            run(kc, "kept = 3")
            run(kc, "exit(keep_kernel=True)")
            reply, msgs = run(kc, "print(kept)")
            assert stream_text(msgs) == "3\n", msgs
        finally:
            other.stop_channels()


def test_a_low_descriptor_limit_lowers_the_worker_cap_instead_of_running_out(tmp_path, monkeypatch):
    # A kernelspec that starts the isolated kernel with at most 1024 descriptors (soft and hard): room for
    # (1024 - 512) / 16 = 32 workers, so --max-workers=1000 must come down to 32, and 40 notes are all served.
    spec = json.loads((BUILD_SHARE / "kernels" / "atrium-isolated" / "kernel.json").read_text())
    spec["argv"] = ["prlimit", "--nofile=1024:1024", *spec["argv"], "--max-workers=1000"]
    kernel_dir = tmp_path / "kernels" / "atrium-few-fds"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", f"{tmp_path}{os.pathsep}{os.environ['JUPYTER_PATH']}")
    with kernel_of("atrium-few-fds") as (km, kc):
        for _ in range(40):
            kc.session.session = str(uuid.uuid4())
            reply, msgs = run(kc, "print('served')")
            assert stream_text(msgs) == "served\n", (reply, msgs)
        assert "of at most 32;" in contexts_table(kc)


@pytest.mark.parametrize("name", MODES)
def test_a_new_note_sent_the_instant_the_last_reply_arrives_finds_room(name):
    # With room for one context, each new note must reclaim the one before it, which has just answered: a note
    # is released before its reply leaves, so the client can never outrun it.
    with kernel_of(name, extra_arguments=["--max-contexts=1"]) as (km, kc):
        for i in range(30):
            kc.session.session = str(uuid.uuid4())
            reply = kc.execute(f"print({i})", reply=True, timeout=TIMEOUT)
            assert reply["content"]["status"] == "ok", (i, reply["content"])
