"""The order of outputs within a cell is the order in which the cell produced them."""

from protocol_helpers import IS_IPYKERNEL, execute_and_collect, execute_ok, outputs, stream_text


def output_sequence(msgs):
    """Outputs as (kind, text) pairs, consecutive stream messages of one name joined."""
    seq = []
    for m in outputs(msgs):
        c = m["content"]
        if m["msg_type"] == "stream":
            if seq and seq[-1][0] == c["name"]:
                seq[-1] = (c["name"], seq[-1][1] + c["text"])
            else:
                seq.append((c["name"], c["text"]))
        elif m["msg_type"] == "display_data":
            seq.append(("display", c["data"]["text/html"]))
        else:
            seq.append((m["msg_type"], None))
    return seq


def test_interleaved_streams_and_display(kc):
    code = (
        "import sys\nfrom IPython.display import HTML, display\n"
        "print('a')\ndisplay(HTML('b'))\nprint('c', file=sys.stderr)\nprint('d')"
    )
    _, msgs = execute_ok(kc, code)
    seq = output_sequence(msgs)
    if IS_IPYKERNEL:
        # ipykernel-only leniency: it buffers stdout and stderr separately and flushes them
        # on a timer, so "c" (stderr) comes after "d". It does flush both before a display.
        # Atrium must keep the true order across streams.
        without_stderr = [s for s in seq if s[0] != "stderr"]
        assert without_stderr == [("stdout", "a\n"), ("display", "b"), ("stdout", "d\n")]
        assert ("stderr", "c\n") in seq
    else:
        assert seq == [("stdout", "a\n"), ("display", "b"), ("stderr", "c\n"), ("stdout", "d\n")]


def test_all_text_arrives_before_idle(kc):
    # No trailing newline and no explicit flush: the kernel must flush at the end of the cell.
    _, msgs = execute_ok(kc, "for i in range(100):\n    print(i)\nprint('tail', end='')")
    assert stream_text(msgs) == "".join(f"{i}\n" for i in range(100)) + "tail"


def test_text_before_an_error_comes_before_it(kc):
    code = "import sys\nprint('before')\nprint('err', file=sys.stderr, end='')\n1/0"
    reply, msgs = execute_and_collect(kc, code)
    assert reply["content"]["status"] == "error"
    types = [m["msg_type"] for m in outputs(msgs)]
    assert types[-1] == "error", types
    assert stream_text(msgs) == "before\n"
    assert stream_text(msgs, "stderr") == "err"
