"""Atrium's own magics answer as cells: a number, busy / execute_input / idle, wherever IPython takes a line magic."""

import pytest
from protocol_helpers import TIMEOUT, collect_iopub, get_reply
from session_helpers import client, kernel_of, run

KERNELS = ["atrium", "atrium-scoped", "atrium-isolated"]


@pytest.fixture(scope="module", params=KERNELS)
def kernel(request):
    with kernel_of(request.param) as (km, kc):
        yield km, kc


@pytest.fixture
def kc(kernel):
    """A client with a session (so a note) of its own, on the module's kernel."""
    km, _ = kernel
    own = client(km)
    yield own
    own.stop_channels()


def as_cell(kc, code):
    """Runs `code`; checks the messages a front end needs; returns (reply, stdout text, execute_input count)."""
    msg_id = kc.execute(code)
    msgs = collect_iopub(kc, msg_id, TIMEOUT)
    reply = get_reply(kc, msg_id, TIMEOUT)["content"]
    kinds = [m["msg_type"] for m in msgs]
    assert kinds[0] == "status" and msgs[0]["content"]["execution_state"] == "busy", kinds
    assert kinds[1] == "execute_input", kinds
    assert kinds[-1] == "status" and msgs[-1]["content"]["execution_state"] == "idle", kinds
    assert isinstance(reply["execution_count"], int), reply
    shown = msgs[1]["content"]["execution_count"]
    assert isinstance(shown, int), msgs[1]
    text = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    return reply, text, shown


def test_magics_are_numbered_cells(kc):
    assert as_cell(kc, "a = 1")[0]["execution_count"] == 1
    reply, text, shown = as_cell(kc, "%contexts")
    assert reply["status"] == "ok" and "binding:" in text
    # Not stored in history, as ipykernel numbers such a cell: the count so far, so the next prompt is right.
    assert reply["execution_count"] == shown == 1
    reply, text, _ = as_cell(kc, "%note")
    assert "own note" in text
    assert as_cell(kc, "b = 2")[0]["execution_count"] == 2


def test_magic_with_blank_lines_and_comments(kc):
    reply, text, _ = as_cell(kc, "\n# which contexts?\n%contexts\n\n")
    assert reply["status"] == "ok" and "binding:" in text


def test_contexts_on_a_later_line(kc):
    reply, text, _ = as_cell(kc, "print('before')\n%contexts\nprint('after')")
    assert reply["status"] == "ok", reply
    assert text.startswith("before\nbinding:") and text.endswith("after\n"), text
    assert "busy" in text  # the table is read while this cell runs


def test_note_and_reset_context(kernel):
    km, _ = kernel
    first, second = client(km), client(km)
    try:
        reply, text, _ = as_cell(first, "%note shared-note")
        assert "attached to note 'shared-note'" in text
        assert as_cell(first, "x = 41")[0]["status"] == "ok"
        reply, _, _ = as_cell(second, "# join it\n%note shared-note\nx + 1")
        assert reply["status"] == "ok"
        reply, text, shown = as_cell(second, "%reset_context")
        assert reply["status"] == "ok" and "was reset" in text
        assert reply["execution_count"] == shown == 0  # a fresh context: the next cell is 1
        reply, _ = run(first, "x")
        assert reply["status"] == "error" and reply["ename"] == "NameError"
    finally:
        first.stop_channels()
        second.stop_channels()


def test_misplaced_magic_is_a_numbered_error(kc):
    reply, _, _ = as_cell(kc, "x = 1\n%reset_context")
    assert reply["status"] == "error" and "[magic.whole_cell]" in reply["evalue"], reply
