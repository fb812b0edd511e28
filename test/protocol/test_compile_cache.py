"""A cell run again reuses its compiled code (atrium_runtime.execution._compile_cell): what the user sees must be
what a fresh compile gives, run after run: each run's own cell in tracebacks, and compile-time warnings each time."""

from protocol_helpers import execute_and_collect, execute_ok, stream_text, strip_ansi

DEFINES_AND_FAILS = "def inner():\n    return 1 / 0\n\ninner()"


def run_error(kc, code):
    reply, msgs = execute_and_collect(kc, code)
    assert reply["content"]["status"] == "error", reply["content"]
    errors = [m for m in msgs if m["msg_type"] == "error"]
    assert len(errors) == 1, msgs
    return reply["content"], strip_ansi("\n".join(errors[0]["content"]["traceback"]))


def test_the_same_cell_names_its_own_run_in_tracebacks(kc):
    seen = set()
    for _ in range(3):
        reply, tb = run_error(kc, DEFINES_AND_FAILS)
        count = reply["execution_count"]
        # The failing line sits in a function the cell defines: nested code carries this run's cell too.
        assert tb.count(f"Cell In[{count}]") == 2, tb
        assert "return 1 / 0" in tb, tb
        seen.add(count)
    assert len(seen) == 3


def test_a_function_from_a_repeated_cell_keeps_its_cell(kc):
    first, _ = execute_ok(kc, "def again():\n    raise KeyError('k')")
    second, _ = execute_ok(kc, "def again():\n    raise KeyError('k')")
    reply, tb = run_error(kc, "again()")
    assert f"Cell In[{second['content']['execution_count']}]" in tb, tb
    assert f"Cell In[{first['content']['execution_count']}]" not in tb, tb


def test_compile_warnings_show_on_every_run(kc):
    # `is` with a literal: CPython's compiler warns (SyntaxWarning), on every compile of the cell.
    code = "x = 1\ny = x is 1"
    for _ in range(3):
        reply, msgs = execute_and_collect(kc, code)
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "SyntaxWarning" in stream_text(msgs, "stderr"), msgs


def test_changed_warning_filters_apply_to_a_repeated_cell(kc):
    code = "z = 2\nw = z is 2"
    execute_ok(kc, "import warnings\nsaved_filters = warnings.filters[:]\nwarnings.simplefilter('ignore', SyntaxWarning)")
    for _ in range(2):
        reply, msgs = execute_and_collect(kc, code)
        assert "SyntaxWarning" not in stream_text(msgs, "stderr"), msgs
    execute_ok(kc, "warnings.simplefilter('always', SyntaxWarning)")
    reply, msgs = execute_and_collect(kc, code)
    assert "SyntaxWarning" in stream_text(msgs, "stderr"), msgs
    execute_ok(kc, "warnings.filters[:] = saved_filters")
