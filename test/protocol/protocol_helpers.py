"""Shared helpers for the protocol tests: real kernel processes driven through jupyter_client.

A module with its own name (not conftest) so that test modules can import it: test/e2e has a
conftest.py too, and a plain `from conftest import ...` could pick up the wrong one.

The kernel under test is ATRIUM_KERNEL_NAME (default "atrium"); "python3" runs the same suite
against ipykernel, which is how the suite itself is validated.
"""

import os
import pathlib
import queue
import re
import tempfile
import time

from jupyter_client.manager import start_new_kernel

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("ATRIUM_BUILD_DIR", REPO / "build"))
KERNEL_NAME = os.environ.get("ATRIUM_KERNEL_NAME", "atrium")
# Only for behaviours where ipykernel is documented to be worse than Atrium; never a skip.
IS_IPYKERNEL = KERNEL_NAME == "python3"
TIMEOUT = 30

# Set at import time (not in a fixture) so jupyter_kernel_test's setUpClass, which starts its
# kernel before any fixture runs, also finds the build-tree kernelspec.
_build_share = str(BUILD_DIR / "share" / "jupyter")
_old_path = os.environ.get("JUPYTER_PATH")
if not _old_path or _old_path.split(os.pathsep)[0] != _build_share:
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (_build_share, _old_path) if p)
# Connection files go to a private runtime dir rather than the user's.
# (conftest.py removes it at the end of the session.)
RUNTIME_DIR = tempfile.mkdtemp(prefix="atrium-protocol-runtime-")
os.environ["JUPYTER_RUNTIME_DIR"] = RUNTIME_DIR


ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text):
    return ANSI_RE.sub("", text)


def start_kernel():
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=TIMEOUT)
    return km, kc


def stop_kernel(km, kc):
    kc.stop_channels()
    if km.has_kernel:
        km.shutdown_kernel()


def children_of(get, msg_id, timeout, what):
    """Messages from `get` whose parent is msg_id, until `timeout` seconds pass (then TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no {what} for {msg_id} within {timeout}s")
        try:
            msg = get(timeout=remaining)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            yield msg


def get_reply(kc, msg_id, timeout=TIMEOUT, channel="shell"):
    """The reply to msg_id on shell (or control), skipping replies to earlier requests."""
    get = kc.get_shell_msg if channel == "shell" else kc.get_control_msg
    return next(children_of(get, msg_id, timeout, f"{channel} reply"))


def collect_iopub(kc, msg_id, timeout=TIMEOUT):
    """All iopub messages whose parent is msg_id, up to and including its idle status."""
    msgs = []
    try:
        for msg in children_of(kc.get_iopub_msg, msg_id, timeout, "idle status"):
            msgs.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return msgs
    except TimeoutError as error:
        raise TimeoutError(f"{error}; got {msgs}") from None


def execute_and_collect(kc, code, timeout=TIMEOUT, **kw):
    """Run code; return (execute_reply, iopub messages of that request up to idle).

    iopub is read first: a kernel may drop PUB messages past its high-water mark if nobody reads,
    and idle is only published after the reply has been sent, so the reply is waiting by then.
    """
    msg_id = kc.execute(code, **kw)
    msgs = collect_iopub(kc, msg_id, timeout)
    reply = get_reply(kc, msg_id, timeout)
    return reply, msgs


def outputs(msgs):
    """The output messages only (no status, no execute_input)."""
    return [m for m in msgs if m["msg_type"] not in ("status", "execute_input")]


def stream_text(msgs, name="stdout"):
    return "".join(
        m["content"]["text"]
        for m in msgs
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


def execute_ok(kc, code, **kw):
    """Run code that must succeed; return (reply, msgs)."""
    reply, msgs = execute_and_collect(kc, code, **kw)
    assert reply["content"]["status"] == "ok", (code, reply["content"], outputs(msgs))
    return reply, msgs


def result_data(msgs):
    """The data bundle of the single execute_result among msgs."""
    results = [m for m in msgs if m["msg_type"] == "execute_result"]
    assert len(results) == 1, outputs(msgs)
    return results[0]["content"]["data"]


def drain_iopub(kc, quiet=0.3):
    """Discard iopub messages until the channel has been quiet for `quiet` seconds."""
    while True:
        try:
            kc.get_iopub_msg(timeout=quiet)
        except queue.Empty:
            return


def assert_alive(kc, timeout=TIMEOUT):
    """The kernel still answers a normal execute with the right result."""
    reply, msgs = execute_and_collect(kc, "1+1", timeout=timeout)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert result_data(msgs)["text/plain"] == "2"
