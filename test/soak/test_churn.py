"""Churn: clients that come once and never return (a page reload is a new session) must not grow the kernel
without bound. Each dropped note runs one cell; at the end the kernel holds at most its cap of contexts and
workers, its memory, threads and descriptors are within a stated bound, and a new note is still served."""

import re
import uuid

import pytest
from kernel_probe import measure
from protocol_helpers import stream_text
from session_helpers import kernel_of, run

CELL = "data = list(range(5000)); print(len(data))"


def drop_notes(kc, count):
    for _ in range(count):
        kc.session.session = str(uuid.uuid4())
        reply, msgs = run(kc, CELL)
        assert reply["status"] == "ok", reply
        assert stream_text(msgs) == "5000\n"


def live_contexts(kc):
    reply, msgs = run(kc, "%contexts")
    return int(re.search(r"contexts: (\d+) of at most", stream_text(msgs)).group(1))


@pytest.mark.parametrize(
    "name, notes, cap, rss_growth_mib",
    [
        # 3000 notes through a cap of 200: 2800 reclaimed. Growth allowed: the notes' history of reclaimed keys
        # (bounded), replay-guard signatures and allocator slack; without reclaiming, 3000 such notes grew the
        # kernel by about 120 MiB.
        ("atrium-scoped", 3000, 200, 8),
        ("atrium-isolated", 400, 16, 8),
    ],
)
def test_dropped_notes_are_reclaimed_and_the_kernel_stays_bounded(name, notes, cap, rss_growth_mib):
    with kernel_of(name, extra_arguments=[f"--max-contexts={cap}", "--warm-workers=1"]) as (km, kc):
        # Only this client is connected: a second one that never read iopub would make the kernel queue every
        # message for it (up to its backlog limit) and measure that instead.
        # The kernel is full after `cap` notes; the first reclaims also warm the allocator up, so the bound is
        # measured from there on.
        warm = cap + notes // 8
        drop_notes(kc, warm)
        before = measure(km)
        drop_notes(kc, notes - warm)
        after = measure(km)
        print(f"{name}: after {warm} notes {before}; after {notes} notes {after}")
        assert live_contexts(kc) <= cap
        assert after.workers <= (cap + 2 if name == "atrium-isolated" else 0), after  # + warm pool + one starting
        assert after.rss_mib - before.rss_mib <= rss_growth_mib, (before, after)
        assert after.threads <= before.threads + 4, (before, after)
        assert after.fds <= before.fds + 16, (before, after)
        # A new note is still served, and so is a named one.
        kc.session.session = str(uuid.uuid4())
        reply, msgs = run(kc, "print('still here')")
        assert stream_text(msgs) == "still here\n", (reply, msgs)
        reply, msgs = run(kc, "print('named')", metadata={"atrium_note": "after-churn"})
        assert stream_text(msgs) == "named\n", (reply, msgs)
