"""Helpers for tests that put several clients (their own sessions and users) on one Atrium kernel."""

import contextlib

from jupyter_client.manager import start_new_kernel
from jupyter_client.session import Session
from protocol_helpers import TIMEOUT, collect_iopub, get_reply


def client(km, username="alice"):
    """A client with a session of its own (as a second notebook or console would have)."""
    session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme, username=username)
    kc = km.client(session=session)
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return kc


@contextlib.contextmanager
def kernel_of(name, **launch):
    """A kernel of the given kernelspec for one test, always shut down."""
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT, **launch)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc, code, timeout=TIMEOUT, metadata=None):
    """Execute and return (reply content, iopub messages up to idle)."""
    if metadata is None:
        msg_id = kc.execute(code)
    else:
        msg = kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                 "user_expressions": {}, "allow_stdin": False,
                                                 "stop_on_error": True}, metadata=metadata)
        kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
    msgs = collect_iopub(kc, msg_id, timeout)
    return get_reply(kc, msg_id, timeout)["content"], msgs


def value_of(kc, expression):
    reply, msgs = run(kc, expression)
    results = [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"]
    return reply, (results[0] if results else None)


def interrupt_request(kc):
    """Interrupts the client's own context (message mode: the request's header names the note)."""
    msg = kc.session.msg("interrupt_request", {})
    kc.control_channel.send(msg)
    return get_reply(kc, msg["header"]["msg_id"], channel="control")
