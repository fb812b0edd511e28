"""stop_on_error: requests queued behind a failing cell are aborted, unless it opts out."""

import time

from protocol_helpers import TIMEOUT, execute_ok, result_data


def replies_for(kc, msg_ids):
    """Replies to all msg_ids, in the order given, whatever order they arrive in."""
    replies = {}
    deadline = time.monotonic() + TIMEOUT
    while len(replies) < len(msg_ids):
        msg = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if parent in msg_ids:
            replies[parent] = msg
    return [replies[i] for i in msg_ids]


def test_queued_requests_are_aborted(kc):
    # Sent back to back without waiting, so the 2nd and 3rd are queued behind the error.
    ids = [kc.execute("raise ValueError('boom')"), kc.execute("aborted_a = 1"), kc.execute("aborted_a")]
    replies = replies_for(kc, ids)
    assert [r["content"]["status"] for r in replies] == ["error", "aborted", "aborted"]
    assert replies[0]["content"]["ename"] == "ValueError"

    # A later request runs normally, and the aborted ones really did not run.
    _, msgs = execute_ok(kc, "'aborted_a' in dir()")
    assert result_data(msgs)["text/plain"] == "False"


def test_stop_on_error_false_lets_the_next_run(kc):
    ids = [
        kc.execute("raise ValueError('boom')", stop_on_error=False),
        kc.execute("kept_b = 1"),
        kc.execute("kept_b + 1"),
    ]
    replies = replies_for(kc, ids)
    assert [r["content"]["status"] for r in replies] == ["error", "ok", "ok"]
    _, msgs = execute_ok(kc, "kept_b")
    assert result_data(msgs)["text/plain"] == "1"


def test_request_sent_after_the_error_reply_runs(kc):
    # The common `kc.execute(..., reply=True)` pattern: wait for the error reply, then send the
    # next request at once. Only requests queued *behind* the failure may be aborted.
    for _ in range(3):
        (failed,) = replies_for(kc, [kc.execute("raise ValueError('boom')")])
        assert failed["content"]["status"] == "error"
        (after,) = replies_for(kc, [kc.execute("'ran'")])
        assert after["content"]["status"] == "ok", after["content"]
