"""Exceptions: error message on iopub, error reply, and a traceback that shows the user's cell."""

from protocol_helpers import execute_and_collect, execute_ok, strip_ansi

# Frames of the kernel's own machinery that must never reach the user's traceback.
INTERNAL_MARKERS = ("atrium_runtime", "site-packages/ipykernel", "IPython/core/interactiveshell")


def run_error(kc, code):
    reply, msgs = execute_and_collect(kc, code)
    content = reply["content"]
    assert content["status"] == "error", content
    errors = [m for m in msgs if m["msg_type"] == "error"]
    assert len(errors) == 1, msgs
    return content, errors[0]["content"]


def test_value_error(kc):
    reply, error = run_error(kc, "x = 1\nraise ValueError('boom')")
    for content in (reply, error):
        assert content["ename"] == "ValueError"
        assert content["evalue"] == "boom"
    count = reply["execution_count"]
    tb = strip_ansi("\n".join(error["traceback"]))
    assert f"Cell In[{count}]" in tb, tb
    assert "line 2" in tb, tb
    assert "raise ValueError('boom')" in tb, tb  # the source line of the cell
    assert "ValueError" in tb and "boom" in tb
    for line in tb.splitlines():
        assert not any(marker in line for marker in INTERNAL_MARKERS), tb
    assert reply["traceback"], "the execute_reply carries the traceback too"


def test_traceback_spans_cells(kc):
    # A function from an earlier cell shows up under that cell's own name.
    first, _ = execute_ok(kc, "def fails():\n    return 1 / 0")
    reply, error = run_error(kc, "fails()")
    assert reply["ename"] == "ZeroDivisionError"
    tb = strip_ansi("\n".join(error["traceback"]))
    assert f"Cell In[{first['content']['execution_count']}]" in tb, tb
    assert f"Cell In[{reply['execution_count']}]" in tb, tb
    assert "return 1 / 0" in tb, tb


def test_syntax_error(kc):
    reply, error = run_error(kc, "x = = 1")
    assert reply["ename"] == "SyntaxError"
    assert error["ename"] == "SyntaxError"


def test_error_does_not_break_the_next_cell(kc):
    run_error(kc, "raise KeyError('k')")
    reply, _ = execute_ok(kc, "1")
    assert reply["content"]["status"] == "ok"
