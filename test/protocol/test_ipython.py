"""Every context behaves like IPython (issue 12): get_ipython(), magics, shell escapes, inline plots, top-level
await, help, coloured tracebacks and IPython's history names, on every kernelspec, checked against ipykernel
(the `python3` column runs the same assertions on ipykernel itself). Then: scoped notes and isolated workers
keep their own shell settings and histories.

These tests start their kernelspecs by name, whatever ATRIUM_KERNEL_NAME says.
"""

import base64
import time
import re

import pytest
from jupyter_client.manager import start_new_kernel
from protocol_helpers import (TIMEOUT, collect_iopub, execute_and_collect, execute_ok, get_reply, outputs,
                              result_data, stream_text, strip_ansi)
from session_helpers import client, run, value_of

KERNELS = ["python3", "atrium", "atrium-scoped", "atrium-isolated", "atrium-scoped-user", "atrium-isolated-user"]
ATRIUM_KERNELS = KERNELS[1:]
INTERNAL_MARKERS = ("atrium_runtime", "atrium-runtime", "site-packages/ipykernel", "IPython/core/interactiveshell")
PNG_MAGIC = b"\x89PNG"


@pytest.fixture(scope="module", params=KERNELS)
def kc(request):
    km, kc = start_new_kernel(kernel_name=request.param, startup_timeout=TIMEOUT)
    kc.kernel_name, kc.manager = request.param, km
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def displays(msgs, mime):
    return [m["content"]["data"][mime] for m in msgs
            if m["msg_type"] == "display_data" and mime in m["content"]["data"]]


def test_get_ipython_is_the_shell_over_this_namespace(kc):
    _, msgs = execute_ok(kc, "get_ipython()")
    assert re.fullmatch(r"<[\w.]+Shell at 0x[0-9a-f]+>", result_data(msgs)["text/plain"])
    _, msgs = execute_ok(kc, "shell = get_ipython()\n(shell.user_ns is globals(), shell is get_ipython())")
    assert result_data(msgs)["text/plain"] == "(True, True)"
    _, msgs = execute_ok(kc, "from IPython import get_ipython as imported\nimported() is get_ipython()")
    assert result_data(msgs)["text/plain"] == "True"


def test_line_magics(kc):
    _, msgs = execute_ok(kc, "%time sum(range(10))")
    assert "Wall time" in stream_text(msgs) and result_data(msgs)["text/plain"] == "45"
    _, msgs = execute_ok(kc, "%timeit -n1 -r1 pass")
    assert "per loop" in stream_text(msgs)
    _, msgs = execute_ok(kc, "who_probe = 1\n%who")
    assert "who_probe" in stream_text(msgs)
    _, msgs = execute_ok(kc, "%pip --version")
    assert re.search(r"pip \d+.* \(python 3\.\d+\)", stream_text(msgs)), outputs(msgs)
    execute_ok(kc, "%load_ext autoreload")
    _, msgs = execute_ok(kc, "%env ATRIUM_IPYTHON_PROBE=yes")
    _, msgs = execute_ok(kc, "import os\nos.environ['ATRIUM_IPYTHON_PROBE']")
    assert result_data(msgs)["text/plain"] == "'yes'"


def test_cell_magics(kc):
    _, msgs = execute_ok(kc, "%%bash\necho from bash")
    assert stream_text(msgs).strip() == "from bash"
    _, msgs = execute_ok(kc, "%%capture captured\nprint('hidden')")
    assert "hidden" not in stream_text(msgs)
    _, msgs = execute_ok(kc, "captured.stdout")
    assert result_data(msgs)["text/plain"] == "'hidden\\n'"
    _, msgs = execute_ok(kc, "%%html\n<b>bold</b>")
    assert [html.strip() for html in displays(msgs, "text/html")] == ["<b>bold</b>"]


def test_shell_escapes(kc):
    _, msgs = execute_ok(kc, "!echo hi")
    assert stream_text(msgs).strip() == "hi"
    _, msgs = execute_ok(kc, "lines = !echo a; echo b\nlines")
    assert result_data(msgs)["text/plain"] == "['a', 'b']"


def test_a_command_killed_by_a_signal_exits_with_minus_the_signal(kc):
    # dash (Debian's /bin/sh, the shell when SHELL is unset) reports a child killed by SIGALRM as status 142; IPython
    # reports -14 whichever shell ran the command.
    execute_ok(kc, """!/bin/sh -c "/usr/bin/python3 -c 'import os; os.kill(os.getpid(), 14)'" """)
    assert value_of(kc, "_exit_code")[1] == "-14"
    execute_ok(kc, "!exit 3")
    assert value_of(kc, "_exit_code")[1] == "3"


def test_inline_plot(kc):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
    _, msgs = execute_ok(kc, code)
    pngs = displays(msgs, "image/png")
    assert len(pngs) == 1, outputs(msgs)
    assert base64.b64decode(pngs[0]).startswith(PNG_MAGIC)
    # A figure left open at the end of a cell is shown too, once.
    _, msgs = execute_ok(kc, "plt.plot([3, 2, 1]);")
    assert len(displays(msgs, "image/png")) == 1, outputs(msgs)
    execute_ok(kc, "%config InlineBackend.figure_formats = ['svg']")
    _, msgs = execute_ok(kc, code)
    assert displays(msgs, "image/svg+xml") and not displays(msgs, "image/png"), outputs(msgs)
    execute_ok(kc, "%config InlineBackend.figure_formats = ['png']")


def test_top_level_await(kc):
    _, msgs = execute_ok(kc, "import asyncio\nawait asyncio.sleep(0.01)\n'awaited'")
    assert result_data(msgs)["text/plain"] == "'awaited'"


def page_text(reply):
    pages = [p for p in reply["content"]["payload"] if p["source"] == "page"]
    assert len(pages) == 1, reply["content"]
    return strip_ansi(pages[0]["data"]["text/plain"])


def test_help_is_a_pager_payload(kc):
    reply, _ = execute_ok(kc, "len?")
    text = page_text(reply)
    assert "Signature: len(obj, /)" in text and "Return the number of items" in text, text
    reply, _ = execute_ok(kc, "import os\nos.path?")
    assert "posixpath" in page_text(reply)
    reply, _ = execute_ok(kc, "def documented():\n    'Says hello.'\n    return 1\ndocumented??")
    assert "return 1" in page_text(reply)


def test_traceback_is_coloured_and_shows_only_the_users_frames(kc):
    reply, msgs = execute_and_collect(kc, "1/0")
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "ZeroDivisionError"
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert len(errors) == 1
    raw = "\n".join(errors[0]["traceback"])
    assert "\x1b[" in raw
    text = strip_ansi(raw)
    assert f"Cell In[{reply['content']['execution_count']}], line 1" in text and "ZeroDivisionError" in text
    assert not any(marker in text for marker in INTERNAL_MARKERS), text
    reply, msgs = execute_and_collect(kc, "%xmode Minimal\nraise KeyError('k')")
    text = strip_ansi("\n".join(reply["content"]["traceback"]))
    assert "Traceback" not in text and "KeyError" in text, text
    execute_ok(kc, "%xmode Context")


def test_history_names(kc):
    reply, _ = execute_ok(kc, "6 * 7")
    count = reply["content"]["execution_count"]
    _, msgs = execute_ok(kc, f"(_i, Out[{count}], _{count}, _, In[-1] == _ih[-1], _i{count})")
    assert result_data(msgs)["text/plain"] == f"('6 * 7', 42, 42, 42, True, '6 * 7')"
    _, msgs = execute_ok(kc, "In[-1]")
    assert result_data(msgs)["text/plain"] == "'In[-1]'"
    first, _ = execute_ok(kc, "hist_a = 1")
    second, _ = execute_ok(kc, "hist_b = 2")
    _, msgs = execute_ok(kc, "%history -n -l 2")
    assert stream_text(msgs) == (f"{first['content']['execution_count']:>4}: hist_a = 1\n"
                                 f"{second['content']['execution_count']:>4}: hist_b = 2\n")
    _, msgs = execute_ok(kc, "%history -n -g hist_a")
    assert "hist_a = 1" in stream_text(msgs)


def test_plain_cells_notify_observers_and_events(kc):
    # Plain cells skip traitlets' machinery while nothing observes the traits they set (atrium_runtime.shell
    # _assign): an observer registered later must still be called, and the events must see the cell.
    execute_ok(kc, "seen_counts, seen_results, seen_infos = [], [], []\n"
                   "get_ipython().observe(lambda change: seen_counts.append(change['new']), 'execution_count')\n"
                   "get_ipython().observe(lambda change: seen_results.append(change['new']), 'last_execution_result')\n"
                   "get_ipython().events.register('pre_run_cell', lambda info: seen_infos.append(info.raw_cell))")
    reply, _ = execute_ok(kc, "observed_probe = 1")
    count = reply["content"]["execution_count"]
    _, msgs = execute_ok(kc, "(seen_counts.count(%d), seen_results[-1].info.raw_cell, seen_results[-1].success, "
                             "seen_infos.count('observed_probe = 1'))" % (count + 1))
    assert result_data(msgs)["text/plain"] == "(1, 'observed_probe = 1', True, 1)"


def test_tqdm_auto_is_a_widget(kc):
    _, msgs = execute_ok(kc, "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)): pass")
    assert displays(msgs, "application/vnd.jupyter.widget-view+json"), outputs(msgs)


def test_atrium_magics_are_listed_and_still_served(kc):
    if kc.kernel_name == "python3":
        return  # Atrium's own magics: nothing to compare with ipykernel
    _, msgs = execute_ok(kc, "%lsmagic")
    listing = result_data(msgs)["text/plain"]
    for name in ("%note", "%contexts", "%reset_context", "%time", "%%bash"):
        assert name in listing, listing
    _, msgs = execute_ok(kc, "%contexts")
    assert "binding:" in stream_text(msgs)
    # Where IPython takes a line magic, so does Atrium (issue 13): %contexts after code runs; the magics that act
    # on the whole context want a cell of their own.
    reply, msgs = execute_and_collect(kc, "x = 1\n%contexts")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert "binding:" in stream_text(msgs)
    reply, msgs = execute_and_collect(kc, "x = 1\n%note elsewhere")
    assert reply["content"]["ename"] == "UsageError"
    assert "[magic.whole_cell]" in reply["content"]["evalue"]


# ---- per-context shells ----

def two_notes(kernel_name):
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    return km, kc, client(km, "alice"), client(km, "bob")


def stop(km, *clients):
    for c in clients:
        c.stop_channels()
    km.shutdown_kernel(now=True)


def check_notes_keep_their_own_settings(a, b):
    run(a, "%precision 2")
    run(b, "%precision 4")
    run(a, "%xmode Minimal")
    run(a, "only_in_a = 1")
    run(b, "only_in_b = 2")
    assert value_of(a, "3.14159")[1] == "3.14"
    assert value_of(b, "3.14159")[1] == "3.1416"
    reply_a, _ = run(a, "1/0")
    reply_b, _ = run(b, "1/0")
    assert "Traceback" not in strip_ansi("\n".join(reply_a["traceback"]))
    assert "Traceback" in strip_ansi("\n".join(reply_b["traceback"]))
    inputs_a = value_of(a, "'\\n'.join(In)")[1]
    inputs_b = value_of(b, "'\\n'.join(In)")[1]
    assert "only_in_a" in inputs_a and "only_in_b" not in inputs_a
    assert "only_in_b" in inputs_b and "only_in_a" not in inputs_b
    assert value_of(a, "get_ipython().user_ns is globals()")[1] == "True"
    assert value_of(b, "get_ipython().user_ns is globals()")[1] == "True"
    # Each note's own inline settings: SVG figures in A, PNG in B.
    run(a, "%config InlineBackend.figure_formats = ['svg']")
    plot = "import matplotlib.pyplot as plt\nplt.plot([1, 2]);"
    _, msgs_a = run(a, plot)
    _, msgs_b = run(b, plot)
    assert displays(msgs_a, "image/svg+xml") and not displays(msgs_a, "image/png"), outputs(msgs_a)
    assert displays(msgs_b, "image/png") and not displays(msgs_b, "image/svg+xml"), outputs(msgs_b)


def test_scoped_notes_have_their_own_shells():
    km, kc, a, b = two_notes("atrium-scoped")
    try:
        check_notes_keep_their_own_settings(a, b)
        # Side by side on different threads: each cell sees its own shell while the other runs.
        msg_a = a.execute("import time\nshell_a = get_ipython()\ntime.sleep(0.5)\nshell_a is get_ipython()")
        reply_b, _ = run(b, "shell_b = get_ipython()\nshell_b.user_ns is globals()")
        assert reply_b["status"] == "ok"
        assert value_of(b, "'shell_a' in get_ipython().user_ns")[1] == "False"
        get_reply_of(a, msg_a)
        assert value_of(a, "shell_a is get_ipython() and 'shell_b' not in globals()")[1] == "True"
        # pyplot's open figures are per note: B's cell ends while A's figure is still being drawn.
        msg_a = a.execute("plt.figure()\nplt.plot([1, 2])\ntime.sleep(1)\nplt.get_fignums()")
        time.sleep(0.3)
        _, msgs_b = run(b, "plt.plot([3, 4])\nplt.get_fignums()")
        _, msgs_a = get_reply_of(a, msg_a)
        assert len(displays(msgs_b, "image/png")) == 1, outputs(msgs_b)
        assert len(displays(msgs_a, "image/svg+xml")) == 1 and not displays(msgs_a, "image/png"), outputs(msgs_a)
        assert result_data(msgs_a)["text/plain"] == result_data(msgs_b)["text/plain"] == "[1]"
    finally:
        stop(km, kc, a, b)


def get_reply_of(kc, msg_id):
    msgs = collect_iopub(kc, msg_id)
    reply = get_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply, msgs


def test_isolated_workers_have_their_own_shells():
    km, kc, a, b = two_notes("atrium-isolated")
    try:
        check_notes_keep_their_own_settings(a, b)
        # A worker has matplotlib to itself: ipympl's widget backend in A leaves B's inline figures alone.
        run(a, "%matplotlib widget")
        _, msgs_a = run(a, "plt.figure()\nplt.plot([1, 2]);")
        _, msgs_b = run(b, "plt.plot([1, 2]);")
        assert displays(msgs_a, "application/vnd.jupyter.widget-view+json"), outputs(msgs_a)
        assert displays(msgs_b, "image/png") and not displays(msgs_b, "application/vnd.jupyter.widget-view+json")
    finally:
        stop(km, kc, a, b)


def test_run_reads_stdin_and_escapes_get_eof(kc, tmp_path):
    script = tmp_path / "greet.py"
    script.write_text("name = input('who? ')\nprint('hi', name)\n")
    msg_id = kc.execute(f"%run {script}", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=TIMEOUT)
    kc.input("Ada")
    reply, msgs = get_reply_of(kc, msg_id)
    assert request["content"]["prompt"] == "who? "
    assert "hi Ada" in stream_text(msgs)
    if kc.kernel_name != "python3":  # ipykernel runs `!cmd` on a terminal, where `cat` waits for input
        _, msgs = execute_ok(kc, "!cat; echo after-cat")
        assert stream_text(msgs).strip() == "after-cat"


def test_is_complete_knows_ipython_syntax(kc):
    for code, status in (("%time x = 1", "complete"), ("!ls", "complete"), ("len?", "complete"),
                         ("%%bash\necho hi", "incomplete")):
        msg_id = kc.is_complete(code)
        reply = get_reply(kc, msg_id)
        assert reply["content"]["status"] == status, (code, reply["content"])



def test_interrupting_a_shell_escape(kc):
    msg_id = kc.execute("!sleep 20; echo not-interrupted")
    time.sleep(1)
    kc.manager.interrupt_kernel()  # SIGINT or an interrupt_request, as the kernelspec says
    started = time.monotonic()
    msgs = collect_iopub(kc, msg_id)
    get_reply(kc, msg_id)
    assert time.monotonic() - started < 10
    assert "not-interrupted" not in stream_text(msgs)
    execute_ok(kc, "'still alive'")


def test_future_imports_last_for_later_cells(kc):
    # IPython's compiler keeps a cell's `from __future__` features for the cells after it; so must the cells
    # Atrium runs without IPython, and a shell made later takes them over.
    execute_ok(kc, "from __future__ import annotations")
    assert value_of(kc, "def f(x: undefined_name): pass\nf.__annotations__")[1] == "{'x': 'undefined_name'}"
    assert value_of(kc, "get_ipython();\ndef g(y: undefined): pass\ng.__annotations__")[1] == "{'y': 'undefined'}"
    assert value_of(kc, "%time h = lambda: 0\ndef h(z: missing): pass\nh.__annotations__")[1] == "{'z': 'missing'}"
