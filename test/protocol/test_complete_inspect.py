"""complete_request and inspect_request."""

from protocol_helpers import execute_ok, get_reply, strip_ansi


def complete(kc, code, cursor_pos=None):
    reply = get_reply(kc, kc.complete(code, cursor_pos))
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]


def inspect(kc, code, detail_level=0, cursor_pos=None):
    reply = get_reply(kc, kc.inspect(code, cursor_pos, detail_level))
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]


def test_attribute_completion_cursor(kc):
    code = "import os\nos.pa"
    c = complete(kc, code)
    assert c["cursor_start"] == code.index("pa")
    assert c["cursor_end"] == len(code)
    assert "path" in c["matches"]
    assert all(m.startswith("pa") for m in c["matches"]), c["matches"]


def test_completion_with_cursor_mid_code(kc):
    code = "x = prin\ny = 2"
    c = complete(kc, code, cursor_pos=len("x = prin"))
    assert "print" in c["matches"]
    assert (c["cursor_start"], c["cursor_end"]) == (4, 8)


def test_completion_sees_user_namespace(kc):
    execute_ok(kc, "atrium_unique_variable = 1")
    c = complete(kc, "atrium_uniq")
    assert "atrium_unique_variable" in c["matches"]


def test_path_completion_in_string(kc):
    c = complete(kc, "open('/us")
    assert any(m.startswith(("usr", "/usr")) for m in c["matches"]), c["matches"]


def test_inspect_builtin(kc):
    r = inspect(kc, "print", detail_level=0)
    assert r["found"] is True
    assert "Prints the values" in strip_ansi(r["data"]["text/plain"])


def test_inspect_user_function_source(kc):
    execute_ok(kc, 'def atrium_probe(a, b=2):\n    """Probe docstring."""\n    return a + b  # source-marker')
    r = inspect(kc, "atrium_probe", detail_level=1)
    assert r["found"] is True
    assert "return a + b  # source-marker" in strip_ansi(r["data"]["text/plain"])
    r = inspect(kc, "atrium_probe", detail_level=0)
    assert "Probe docstring." in strip_ansi(r["data"]["text/plain"])


def test_inspect_inside_call(kc):
    # What a frontend sends on Shift-Tab with the cursor among the arguments.
    execute_ok(kc, 'def atrium_probe2(a):\n    """Second probe."""')
    code = "atrium_probe2(1, "
    r = inspect(kc, code, cursor_pos=len(code))
    assert r["found"] is True
    assert "Second probe." in strip_ansi(r["data"]["text/plain"])


def test_inspect_unknown_name(kc):
    r = inspect(kc, "no_such_name_anywhere")
    assert r["found"] is False
