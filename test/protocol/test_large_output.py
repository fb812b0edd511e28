"""20 MB of stdout: every byte arrives, in order, coalesced into few messages."""

import time

from protocol_helpers import execute_ok, stream_text

LINES = 20_000
PAD = "x" * 1015  # with the 8-digit index and the newline, each line is 1024 bytes


def test_twenty_megabytes_of_stdout(kc):
    code = f"import sys\nfor i in range({LINES}):\n    sys.stdout.write(f'{{i:08d}}{PAD}\\n')"
    started = time.monotonic()
    _, msgs = execute_ok(kc, code, timeout=60)
    elapsed = time.monotonic() - started

    text = stream_text(msgs)
    assert len(text) == LINES * 1024
    # Compare line by line so a failure names the first line out of place, not 20 MB.
    lines = text.split("\n")
    assert lines[-1] == ""
    for i, line in enumerate(lines[:-1]):
        assert line == f"{i:08d}{PAD}", f"line {i} is {line[:20]!r}..."

    n_streams = sum(1 for m in msgs if m["msg_type"] == "stream")
    assert n_streams < 2000, f"{n_streams} stream messages: output is not coalesced"
    # A loose bound: ipykernel needs about 1 s; a kernel sending one message per line is far slower.
    assert elapsed < 30, f"took {elapsed:.1f}s"
