"""history_request: tail, range and search over the cells this kernel ran."""

import uuid

from protocol_helpers import execute_ok, get_reply


def history(kc, **kw):
    reply = get_reply(kc, kc.history(raw=True, output=False, **kw))
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]["history"]


def run_cells(kc, n=3):
    # A unique token keeps these cells apart from anything in a persistent history database.
    token = uuid.uuid4().hex[:8]
    codes = [f"hist_{token}_{i} = {i}" for i in range(n)]
    counts = [execute_ok(kc, code)[0]["content"]["execution_count"] for code in codes]
    return token, codes, counts


def test_tail(kc):
    _, codes, counts = run_cells(kc)
    entries = history(kc, hist_access_type="tail", n=3)
    assert [e[2] for e in entries] == codes
    assert [e[1] for e in entries] == counts
    assert counts == sorted(set(counts)) and counts[-1] - counts[0] == 2
    assert len({e[0] for e in entries}) == 1, "one session"


def test_range(kc):
    _, codes, counts = run_cells(kc)
    # session 0 means the current session.
    entries = history(kc, hist_access_type="range", session=0, start=counts[0], stop=counts[-1] + 1)
    assert [e[2] for e in entries] == codes
    assert [e[1] for e in entries] == counts


def test_search(kc):
    token, codes, counts = run_cells(kc)
    entries = history(kc, hist_access_type="search", pattern=f"hist_{token}_1*", n=10)
    assert [(e[1], e[2]) for e in entries] == [(counts[1], codes[1])]


def test_store_history_false_leaves_no_entry(kc):
    _, codes, counts = run_cells(kc, n=1)
    reply, _ = execute_ok(kc, "unstored = 1", store_history=False)
    assert history(kc, hist_access_type="tail", n=1)[0][2] == codes[0]
    # Nor does it use up an execution count.
    reply, _ = execute_ok(kc, "stored = 1")
    assert reply["content"]["execution_count"] == counts[0] + 1
