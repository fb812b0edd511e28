"""Big strings in every kind of output arrive exact, in order, with their neighbours intact.

Through a worker (atrium-isolated) every string of 512 bytes or more in a published message travels as raw bytes
beside a JSON header that lists where it belongs (common/raw_frames.hpp), so these tests put such strings in
every place output can hold them (stream text, mime bundles, nested JSON, metadata, execute_result, error), next
to short and empty strings that stay in the JSON, with NULs, non-ASCII and undecodable bytes. Two are Atrium's
own behaviour: ipykernel 7 has no `sys.stdout.buffer` and reorders interleaved stdout and stderr."""

from protocol_helpers import execute_and_collect, execute_ok, outputs, result_data, stream_text

BIG = 700  # above the 512-byte threshold at which a string leaves the JSON


def of_type(msgs, msg_type):
    return [m for m in msgs if m["msg_type"] == msg_type]


def test_nul_and_non_ascii_in_big_stream_chunks(kc):
    piece = "\x00é€\U0001F600" * 2000 + "\n"
    _, msgs = execute_ok(kc, f"import sys\nfor _ in range(50): sys.stdout.write({piece!r})")
    text = stream_text(msgs)
    assert len(text) == len(piece) * 50
    assert text == piece * 50


def test_undecodable_bytes_in_a_big_chunk_are_replaced_not_lost(kc):
    code = "import sys\nsys.stdout.flush()\nsys.stdout.buffer.write(b'<' + b'\\xff' * 1000 + b'\\x00ok\\n')"
    _, msgs = execute_ok(kc, code)
    assert stream_text(msgs) == "<" + "\ufffd" * 1000 + "\x00ok\n"


def test_one_line_of_five_megabytes(kc):
    # Bigger than one coalesced chunk (1 MiB): cut into several messages, every byte kept in order.
    code = "import sys\nsys.stdout.write(''.join(chr(97 + i % 26) for i in range(5 * 2**20)))\nprint('end')"
    _, msgs = execute_ok(kc, code, timeout=60)
    text = stream_text(msgs)
    assert len(text) == 5 * 2**20 + 4
    assert text == "".join(chr(97 + i % 26) for i in range(5 * 2**20)) + "end\n"


def test_interleaved_big_stdout_and_stderr_keep_their_order(kc):
    code = ("import sys\n"
            "for i in range(40):\n"
            "    (sys.stdout if i % 2 == 0 else sys.stderr).write(f'{i:04d}' + 'y' * 1000)\n")
    _, msgs = execute_ok(kc, code)
    runs = []
    for m in of_type(msgs, "stream"):
        name, text = m["content"]["name"], m["content"]["text"]
        if runs and runs[-1][0] == name:
            runs[-1][1] += text
        else:
            runs.append([name, text])
    assert runs == [["stdout" if i % 2 == 0 else "stderr", f"{i:04d}" + "y" * 1000] for i in range(40)]


def test_display_update_and_clear_with_big_values_beside_small_and_empty_ones(kc):
    code = (
        "import base64\n"
        "from IPython.display import display, update_display, clear_output\n"
        "png = base64.b64encode(bytes(range(256)) * 400).decode()\n"
        "html = '<b>\\u00e9\\x00</b>' * 500\n"
        "print('x' * 600)\n"
        "display({'image/png': png, 'text/html': html, 'text/plain': '',\n"
        "         'application/json': {'list': ['z' * 700, 1, '', 'w' * 900], 'n': None}},\n"
        "        raw=True, metadata={'image/png': {'width': 10}, 'note': 'm' * 800}, display_id='big')\n"
        "clear_output(wait=True)\n"
        "update_display({'text/html': html[::-1], 'text/plain': 'p' * 900}, raw=True, display_id='big')\n"
        "print('y' * 600)\n"
    )
    _, msgs = execute_ok(kc, code)
    import base64

    png = base64.b64encode(bytes(range(256)) * 400).decode()
    html = "<b>\u00e9\x00</b>" * 500
    kinds = [m["msg_type"] for m in outputs(msgs)]
    assert kinds == ["stream", "display_data", "clear_output", "update_display_data", "stream"], kinds
    (shown,) = of_type(msgs, "display_data")
    assert shown["content"]["data"] == {
        "image/png": png,
        "text/html": html,
        "text/plain": "",
        "application/json": {"list": ["z" * 700, 1, "", "w" * 900], "n": None},
    }
    assert shown["content"]["metadata"] == {"image/png": {"width": 10}, "note": "m" * 800}
    assert shown["content"]["transient"] == {"display_id": "big"}
    (cleared,) = of_type(msgs, "clear_output")
    assert cleared["content"]["wait"] is True
    (updated,) = of_type(msgs, "update_display_data")
    assert updated["content"]["data"] == {"text/html": html[::-1], "text/plain": "p" * 900}
    assert updated["content"]["transient"] == {"display_id": "big"}
    streams = of_type(msgs, "stream")
    assert [m["content"]["text"] for m in streams] == ["x" * 600 + "\n", "y" * 600 + "\n"]


def test_big_execute_result_and_error(kc):
    code = ("class R:\n"
            "    def _repr_html_(self): return '<p>' + 'h' * 3000 + '</p>'\n"
            "    def __repr__(self): return 'r' * 2000\n"
            "R()")
    _, msgs = execute_ok(kc, code)
    assert result_data(msgs) == {"text/html": "<p>" + "h" * 3000 + "</p>", "text/plain": "r" * 2000}

    reply, msgs = execute_and_collect(kc, "raise ValueError('v' * 4000)")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["evalue"] == "v" * 4000
    (error,) = of_type(msgs, "error")
    assert error["content"]["ename"] == "ValueError"
    assert error["content"]["evalue"] == "v" * 4000
    assert any("v" * 4000 in line for line in error["content"]["traceback"])


def test_big_comm_data_from_a_cell(kc):
    code = ("from comm import create_comm\n"
            "c = create_comm(target_name='t', data={'a': 'o' * 800})\n"
            "c.send({'b': ['s' * 1000, '', 's' * 600]}, metadata={'m': 'k' * 700})\n"
            "c.close()")
    _, msgs = execute_ok(kc, code)
    by_type = {m["msg_type"]: m for m in msgs if m["msg_type"].startswith("comm_")}
    assert by_type["comm_open"]["content"]["data"] == {"a": "o" * 800}
    assert by_type["comm_msg"]["content"]["data"] == {"b": ["s" * 1000, "", "s" * 600]}
    assert by_type["comm_msg"]["metadata"] == {"m": "k" * 700}
    assert "comm_close" in by_type
