"""Interrupting the kernel with SIGINT (interrupt_mode "signal"), running and idle."""

import time

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from protocol_helpers import (KERNEL_NAME, TIMEOUT, assert_alive, collect_iopub, execute_and_collect, get_reply,
                              stream_text)


def wait_for_execute_input(kc, msg_id):
    # The cell is known to be running once its execute_input has been published.
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return
    raise TimeoutError("cell never started")


def test_kernelspec_interrupt_mode():
    # Per-note modes (and a host's fronts) interrupt by message, which names the requester; shared mode (and
    # ipykernel) by SIGINT.
    per_note = KERNEL_NAME.startswith(("atrium-scoped", "atrium-isolated", "atrium-host"))
    assert KernelSpecManager().get_kernel_spec(KERNEL_NAME).interrupt_mode == ("message" if per_note else "signal")


# A sleeping C call and a pure-Python busy loop are interrupted by different mechanisms
# (EINTR out of the syscall vs. the eval loop's pending-call check); both must work.
@pytest.mark.parametrize("code", ["import time; time.sleep(30)", "while True:\n    pass"])
def test_interrupt_running_cell(fresh_kernel, code):
    km, kc = fresh_kernel
    msg_id = kc.execute(code)
    wait_for_execute_input(kc, msg_id)
    time.sleep(1)

    started = time.monotonic()
    km.interrupt_kernel()
    reply = get_reply(kc, msg_id, timeout=10)
    elapsed = time.monotonic() - started

    assert reply["content"]["status"] == "error", reply["content"]
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 5, f"interrupt took {elapsed:.1f}s"
    errors = [m for m in collect_iopub(kc, msg_id) if m["msg_type"] == "error"]
    assert [e["content"]["ename"] for e in errors] == ["KeyboardInterrupt"]

    assert km.is_alive()
    assert_alive(kc)


# Scoped contexts run cells on threads of their own and are interrupted with an asynchronous exception, which
# Python raises at once, with no handler that could wait: the callback takes it (a known gap; docs/sessions.md).
# Not strict: an interrupt that comes after the callback still stops the cell there.
@pytest.mark.xfail(KERNEL_NAME.startswith(("atrium-scoped", "atrium-host")) and "isolated" not in KERNEL_NAME,
                   reason="scoped contexts: an interrupt in an event callback is lost")
def test_interrupt_during_an_ipython_event_callback_still_stops_the_cell(fresh_kernel):
    """IPython's event callbacks (pre_run_cell here, run just before the cell's code) catch KeyboardInterrupt and
    print it, so an interrupt that lands in one would let the cell run to its end; it waits until they are done."""
    km, kc = fresh_kernel
    setup = ("import time\n"
             "def slow(info):\n"
             "    print('in the callback', flush=True)\n"
             "    time.sleep(0.5)\n"
             "get_ipython().events.register('pre_run_cell', slow)")
    reply, _ = execute_and_collect(kc, setup)
    assert reply["content"]["status"] == "ok", reply["content"]
    msg_id = kc.execute("for _ in range(1000):\n    time.sleep(0.01)")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
                and "in the callback" in msg["content"]["text"]):
            break
    km.interrupt_kernel()  # lands in the callback's sleep
    reply = get_reply(kc, msg_id, timeout=8)["content"]
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
    assert km.is_alive()


def test_interrupt_idle_kernel_is_harmless(fresh_kernel):
    km, kc = fresh_kernel
    km.interrupt_kernel()
    # Give the signal time to be delivered before the next cell starts; a KeyboardInterrupt
    # left pending by the idle interrupt would then hit that cell.
    time.sleep(1)
    reply, msgs = execute_and_collect(kc, "import time; time.sleep(0.5); 'survived'")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert not [m for m in msgs if m["msg_type"] == "error"]
    assert km.is_alive()
    assert_alive(kc)


# Atrium's runtime does some bookkeeping of its own before and after a cell's code (IPython's history and
# events, the compute context); an interrupt can land there. This cell makes the next cell's bookkeeping raise
# KeyboardInterrupt once, where a real interrupt landed (seen in isolated mode, ~1 in 60 early interrupts).
INTERRUPT_THE_NEXT_CELLS_BOOKKEEPING = """
import atrium_runtime.compute as compute
begin_cell = compute.begin_cell
def interrupted_once():
    compute.begin_cell = begin_cell
    raise KeyboardInterrupt
compute.begin_cell = interrupted_once
"""


@pytest.mark.skipif(KERNEL_NAME == "python3", reason="drives Atrium's own runtime (atrium_runtime)")
def test_an_interrupt_around_the_cells_code_is_the_cells_keyboard_interrupt(fresh_kernel):
    _, kc = fresh_kernel
    reply, _ = execute_and_collect(kc, INTERRUPT_THE_NEXT_CELLS_BOOKKEEPING)
    assert reply["content"]["status"] == "ok", reply["content"]
    reply, msgs = execute_and_collect(kc, "x = 1")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]  # not AtriumInternalError
    errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert [e["ename"] for e in errors] == ["KeyboardInterrupt"]
    assert "KeyboardInterrupt" in "".join(errors[0]["traceback"])
    reply, _ = execute_and_collect(kc, "x = 2")
    assert reply["content"]["status"] == "ok", reply["content"]


# Cells run on the main thread in these modes (a scoped context's cells run on threads of their own, where SIGINT
# never reaches: embed/interrupts.hpp), so that is where Python's SIGINT handler acts on cells.
runs_cells_on_the_main_thread = pytest.mark.skipif(
    KERNEL_NAME != "atrium" and "isolated" not in KERNEL_NAME,
    reason="a scoped context's cells run off the main thread, where SIGINT never reaches")

HANDLER_FROM_A_THREAD = """
import signal, threading, time
handler = signal.getsignal(signal.SIGINT)

def frame_of(filename):
    namespace = {}
    exec(compile("import sys\\nframe = sys._getframe()", filename, "exec"), namespace)
    return namespace["frame"]

def call_from_a_thread(frame, calls=1):
    # The thread calls the handler as Python would (signal handlers run on the main thread, but the handler is an
    # ordinary function): 0.5 s after it starts, then 1.2 s later. Meanwhile this (main) thread sleeps in one
    # time.sleep, which no tripped signal wakes: an interrupt the handler defers reaches it only afterwards.
    outcomes = []
    def call():
        for n in range(calls):
            time.sleep(0.5 if n == 0 else 1.2)
            try:
                handler(signal.SIGINT, frame)
                outcomes.append("returned")
            except KeyboardInterrupt:
                outcomes.append("raised")
    thread = threading.Thread(target=call)
    thread.start()
    end = time.monotonic() + 0.5 + 1.2 * (calls - 1) + 0.6
    delivered = 0
    while True:
        try:
            while time.monotonic() < end or thread.is_alive():
                time.sleep(max(0.01, end - time.monotonic()))
            break
        except KeyboardInterrupt:
            delivered += 1
    return outcomes, delivered

importlib_frame = frame_of("<frozen importlib._bootstrap>")
print(call_from_a_thread(frame_of("<cell>")))
print(call_from_a_thread(importlib_frame))
print(call_from_a_thread(importlib_frame, calls=2))
"""


@runs_cells_on_the_main_thread
def test_an_interrupt_waits_until_the_code_is_out_of_importlib(kc):
    # A KeyboardInterrupt raised in importlib's own frames can leave the import lock held forever (the fuzz finding
    # in test/fuzz/README.md): the handler defers it, and it arrives once the code is back out. Deferred for at
    # most 1 s, so an import stuck in importlib can still be interrupted.
    reply, msgs = execute_and_collect(kc, HANDLER_FROM_A_THREAD, timeout=30)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stream_text(msgs).splitlines() == [
        "(['raised'], 0)",  # a cell's frame: raised at once, nothing left for later
        "(['returned'], 1)",  # importlib's frame: held back, then delivered once
        "(['returned', 'raised'], 1)",  # held back for more than 1 s: the next call raises
    ]


IMPORTS_UNDER_INTERRUPTS = """
import _imp, _thread, importlib, os, sys, tempfile, threading, time
folder = tempfile.mkdtemp()
names = [f"atrium_interrupted_import_{i}" for i in range(3000)]
for name in names + ["atrium_imported_afterwards"]:
    with open(os.path.join(folder, name + ".py"), "w") as module:
        module.write("value = 1\\n")
sys.path.insert(0, folder)
importlib.invalidate_caches()
state = {"started": False, "stop": False}

def interrupter():
    while not state["started"]:
        time.sleep(0.001)
    while not state["stop"]:
        _thread.interrupt_main()
        time.sleep(0.0001)

thread = threading.Thread(target=interrupter, daemon=True)
thread.start()
interrupted = next_name = 0
state["started"] = True
while next_name < len(names):
    try:
        while next_name < len(names):
            importlib.import_module(names[next_name])
            next_name += 1
    except KeyboardInterrupt:
        interrupted += 1
        next_name += 1
while True:
    try:
        state["stop"] = True
        thread.join()
        time.sleep(0.05)
        break
    except KeyboardInterrupt:
        pass
imported = []
other = threading.Thread(target=lambda: imported.append(importlib.import_module("atrium_imported_afterwards").value),
                         daemon=True)
other.start()
other.join(10)
print(interrupted > 500, _imp.lock_held(), imported)
"""


@runs_cells_on_the_main_thread
def test_imports_interrupted_thousands_of_times_leave_no_lock_held(kc):
    # The real thing, statistically: with Python's own handler about one interrupt in 6 000 of such a loop left the
    # import lock held (so roughly one run of this test in eight), and then another thread's import blocks forever.
    # The deterministic check of the deferral is the test above.
    reply, msgs = execute_and_collect(kc, IMPORTS_UNDER_INTERRUPTS, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stream_text(msgs).strip() == "True False [1]"
