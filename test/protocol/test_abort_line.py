"""stop_on_error in every mode: exactly the requests that reached the kernel before a failure's reply left it are
aborted; a request the client sends the instant it sees the error reply always runs."""

import queue
import time

import pytest
from protocol_helpers import TIMEOUT
from session_helpers import kernel_of

MODES = ["atrium", "atrium-scoped", "atrium-isolated"]
ROUNDS = 40


def next_reply(kc, msg_id):
    """The shell reply to msg_id; every reply to another request on the way is returned too, in arrival order."""
    seen = []
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            msg = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no reply to {msg_id}; got {[m['content'] for m in seen]}") from None
        seen.append(msg)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg, seen


@pytest.mark.parametrize("name", MODES)
def test_only_requests_sent_before_the_error_reply_are_aborted(name):
    with kernel_of(name) as (km, kc):
        kc.execute("ran = []", reply=True, timeout=TIMEOUT)
        for i in range(ROUNDS):
            # The cell sleeps before failing, so the request queued behind it has surely arrived by then.
            failing = kc.execute("import time; time.sleep(0.02); raise ValueError('boom')")
            queued = kc.execute(f"ran.append(('queued', {i}))")
            failed, _ = next_reply(kc, failing)
            # Sent the instant the error reply is read: the client saw the error, so this must run.
            after = kc.execute(f"ran.append(('after', {i}))")
            assert failed["content"]["status"] == "error"
            queued_reply, _ = next_reply(kc, queued)
            assert queued_reply["content"]["status"] == "aborted", (i, queued_reply["content"])
            after_reply, _ = next_reply(kc, after)
            assert after_reply["content"]["status"] == "ok", (i, after_reply["content"])
        # The aborted requests really did not run; every later one did, once, in order.
        reply = kc.execute("assert ran == [('after', i) for i in range(%d)], ran" % ROUNDS, reply=True,
                           timeout=TIMEOUT)
        assert reply["content"]["status"] == "ok", reply["content"]

