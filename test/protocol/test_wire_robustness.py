"""Malformed, unsigned and replayed wire messages on the shell socket, sent with raw pyzmq.

A kernel must drop what it cannot authenticate or parse, answer what it can, and keep serving:
every case ends by checking that the kernel still runs a normal cell.
"""

import pytest
import zmq
from jupyter_client.session import Session
from protocol_helpers import assert_alive, collect_iopub, execute_and_collect, outputs

DELIM = b"<IDS|MSG>"
EXECUTE_DEFAULTS = {
    "silent": False,
    "store_history": True,
    "user_expressions": {},
    "allow_stdin": False,
    "stop_on_error": True,
}


@pytest.fixture(scope="module")
def wire(kernel):
    """(session signing with the kernel's key, raw DEALER socket on the shell port)."""
    km, _ = kernel
    info = km.get_connection_info()
    session = Session(key=info["key"], signature_scheme=info["signature_scheme"])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")
    yield session, sock
    sock.close()
    ctx.term()


def receive(sock, wait):
    """All multipart messages that arrive within `wait` seconds (and shortly after the last)."""
    got = []
    while sock.poll(int(wait * 1000)):
        got.append(sock.recv_multipart())
        wait = 0.3
    return got


def replies(session, frames_list):
    return [session.deserialize(f[f.index(DELIM) + 1 :]) for f in frames_list]


def assert_still_serving(session, sock, kc):
    """The raw connection still gets answers to a good message, and so does the normal client."""
    sock.send_multipart(session.serialize(session.msg("kernel_info_request", {})))
    answers = replies(session, receive(sock, 10))
    assert [a["msg_type"] for a in answers] == ["kernel_info_reply"]
    assert_alive(kc)


def signed(session, frames):
    return [DELIM, session.sign(frames)] + frames


def header(session, msg_type="kernel_info_request"):
    return session.pack(session.msg_header(msg_type))


def bad_messages(session):
    """name -> frames the kernel must ignore (no reply at all)."""
    h = header(session)
    good = [h, b"{}", b"{}", b"{}"]
    wrong_key = Session(key=b"not-the-key", signature_scheme=session.signature_scheme)
    return {
        "bad_hmac": [DELIM, wrong_key.sign(good)] + good,
        "signature_wrong_length": [DELIM, session.sign(good)[:-2]] + good,
        "unsigned": [DELIM, b""] + good,
        "delimiter_and_signature_only": [DELIM, session.sign(good)],
        "three_json_frames": signed(session, good[:3]),
        "invalid_json_signed": signed(session, [b"{not json", b"{}", b"{}", b"{}"]),
        "invalid_json_unsigned": [DELIM, b"", b"{not json", b"{}", b"{}", b"{}"],
        "deeply_nested_unsigned": [DELIM, b"", b"[" * 100_000, b"{}", b"{}", b"{}"],
        "no_delimiter": good,
    }


BAD_NAMES = list(bad_messages(Session(key=b"k")).keys())


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_message_is_ignored(wire, kc, name):
    session, sock = wire
    sock.send_multipart(bad_messages(session)[name])
    assert receive(sock, 1.0) == [], f"kernel answered a {name} message"
    assert_still_serving(session, sock, kc)


def test_deeply_nested_signed_content(wire, kc):
    # Authenticated but pathological: the parser must not blow the stack. Answering the
    # kernel_info or dropping it are both fine; the kernel must survive either way.
    session, sock = wire
    content = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    sock.send_multipart(signed(session, [header(session), b"{}", b"{}", content]))
    receive(sock, 1.0)
    assert_still_serving(session, sock, kc)


def test_replayed_message_runs_once(wire, kc):
    session, sock = wire
    msg = session.msg("execute_request", dict(EXECUTE_DEFAULTS, code="replayed = 1"))
    frames = session.serialize(msg)
    sock.send_multipart(frames)
    sock.send_multipart(frames)
    answers = replies(session, receive(sock, 10))
    assert [a["msg_type"] for a in answers] == ["execute_reply"], "replayed request was run again"
    inputs = [m for m in collect_iopub(kc, msg["header"]["msg_id"]) if m["msg_type"] == "execute_input"]
    assert len(inputs) == 1
    # A replay arriving after the first request has finished is dropped too.
    sock.send_multipart(frames)
    assert receive(sock, 1.0) == []
    assert_still_serving(session, sock, kc)


def test_code_that_is_not_a_string(wire, kc):
    session, sock = wire
    msg = session.msg("execute_request", dict(EXECUTE_DEFAULTS, code=42))
    sock.send_multipart(session.serialize(msg))
    answers = replies(session, receive(sock, 10))
    assert [a["msg_type"] for a in answers] == ["execute_reply"]
    # An error reply, not silence: the request itself was authentic.
    assert answers[0]["content"]["status"] == "error", answers[0]["content"]
    assert_still_serving(session, sock, kc)


def test_unknown_msg_type(wire, kc):
    session, sock = wire
    sock.send_multipart(session.serialize(session.msg("no_such_request", {})))
    receive(sock, 1.0)  # a reply (e.g. an error) is allowed, a crash is not
    assert_still_serving(session, sock, kc)


def test_non_utf8_bytes_on_stdout(wire, kc):
    code = (
        "import sys\n"
        "if hasattr(sys.stdout, 'buffer'):\n"
        "    sys.stdout.buffer.write(b'\\xff\\xfe ok\\n')\n"
        "else:\n"
        "    print('\\udcff ok')\n"
        "sys.stdout.flush()"
    )
    reply, msgs = execute_and_collect(kc, code)
    assert reply["msg_type"] == "execute_reply"
    assert " ok" in "".join(m["content"].get("text", "") for m in outputs(msgs)), outputs(msgs)
    assert_still_serving(*wire, kc)
