"""Every client field that reaches C++ is bounded first (kernel/request_check.hpp), in every kernelspec.

A signed comm_msg with a 100-character comm_id used to end `atrium` and `atrium-scoped` with SIGSEGV: xeus 2.4
copies comm ids (and routing identities) into a fixed 55-character buffer without checking. Each case here
sends one out-of-bounds field and expects a clear refusal, then proves the kernel still runs a cell and
delivers its output.
"""

import uuid

import pytest
import zmq
from jupyter_client.session import Session
from protocol_helpers import TIMEOUT, collect_iopub, get_reply, stream_text
from session_helpers import kernel_of

KERNELSPECS = ["atrium", "atrium-scoped", "atrium-isolated", "atrium-scoped-user", "atrium-isolated-user"]
ECHO_TARGET = """
import comm
def _echo_target(c, open_msg):
    c.on_msg(lambda m: c.send(m['content']['data']))
comm.get_comm_manager().register_target('echo', _echo_target)
"""
CODE_LIMIT = 16 << 20  # limits::code_length


@pytest.fixture(scope="module", params=KERNELSPECS)
def kernel(request):
    with kernel_of(request.param) as (km, kc):
        yield km, kc


@pytest.fixture
def kc(kernel):
    return kernel[1]


def send(kc, msg_type, content, header=None, metadata=None):
    msg = kc.session.msg(msg_type, content, metadata=metadata)
    msg["header"].update(header or {})
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def assert_runs_a_cell(kc):
    """A real execute, with its stream output, after whatever the case sent."""
    msg_id = kc.execute("print('still', 6 * 7)")
    msgs = collect_iopub(kc, msg_id)
    assert get_reply(kc, msg_id)["content"]["status"] == "ok"
    assert stream_text(msgs) == "still 42\n", msgs


def error_reply(kc, msg_id):
    content = get_reply(kc, msg_id)["content"]
    assert content["status"] == "error", content
    return content["evalue"]


@pytest.mark.parametrize("length", [56, 100, 1000, 10000])
@pytest.mark.parametrize("msg_type", ["comm_open", "comm_msg", "comm_close"])
def test_long_comm_id_is_refused_and_the_kernel_lives(kc, msg_type, length):
    msg_id = send(kc, msg_type, {"comm_id": "c" * length, "target_name": "echo", "data": {}})
    # No reply exists for comm messages: the refusal is logged, and busy/idle say it was handled.
    states = [m["content"]["execution_state"] for m in collect_iopub(kc, msg_id) if m["msg_type"] == "status"]
    assert states == ["busy", "idle"]
    assert_runs_a_cell(kc)


def test_comm_with_55_character_id_still_works(kc):
    get_reply(kc, kc.execute(ECHO_TARGET))
    comm_id = uuid.uuid4().hex + "x" * 23  # exactly 55
    collect_iopub(kc, send(kc, "comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}}))
    echoes = [m for m in collect_iopub(kc, send(kc, "comm_msg", {"comm_id": comm_id, "data": {"v": 1}}))
              if m["msg_type"] == "comm_msg"]
    assert [e["content"]["data"] for e in echoes] == [{"v": 1}]
    collect_iopub(kc, send(kc, "comm_close", {"comm_id": comm_id, "data": {}}))
    assert_runs_a_cell(kc)


def test_a_cell_cannot_open_a_comm_with_a_long_id(kc):
    code = "from comm import create_comm\ncreate_comm(target_name='t', comm_id='k' * 100)"
    msg_id = kc.execute(code)
    collect_iopub(kc, msg_id)
    reply = get_reply(kc, msg_id)["content"]
    assert reply["status"] == "error"
    assert "[comm.bad_id]" in reply["evalue"], reply
    assert_runs_a_cell(kc)


@pytest.mark.parametrize("msg_type, content, error_id", [
    ("complete_request", {"code": "abc", "cursor_pos": 4}, "[protocol.out_of_range]"),
    ("complete_request", {"code": "abc", "cursor_pos": -1}, "[protocol.out_of_range]"),
    ("inspect_request", {"code": "abc", "cursor_pos": 2 ** 63, "detail_level": 0}, "[protocol.out_of_range]"),
    ("inspect_request", {"code": "abc", "cursor_pos": 1, "detail_level": 7}, "[protocol.out_of_range]"),
    ("history_request", {"hist_access_type": "tail", "n": -5}, "[protocol.out_of_range]"),
    ("history_request", {"hist_access_type": "range", "session": 0, "start": 2 ** 40, "stop": 1},
     "[protocol.out_of_range]"),
    ("execute_request", {"code": "1", "user_expressions": {"a": 1}}, "[protocol.bad_content]"),
    ("execute_request", {"code": "x" * (CODE_LIMIT + 1)}, "[protocol.too_long]"),
    ("is_complete_request", {"code": "x" * (CODE_LIMIT + 1)}, "[protocol.too_long]"),
    ("comm_info_request", {"target_name": "t" * 2000}, "[comm.bad_target]"),
    # Found by the live fuzzer: a null the kernel reads with a default used to get no reply at all.
    ("execute_request", {"code": "1", "silent": None}, "[protocol.bad_content]"),
    ("execute_request", {"code": "1", "stop_on_error": None}, "[protocol.bad_content]"),
])
def test_out_of_bounds_content_gets_an_error_reply(kc, msg_type, content, error_id):
    assert error_reply(kc, send(kc, msg_type, content)).startswith(error_id)
    assert_runs_a_cell(kc)


# Found by the live fuzzer: a history_request with a numeric `code` (a field it has no use for) got an error
# reply with a JSON library message in shared mode, and no reply at all from an isolated worker.
@pytest.mark.parametrize("msg_type, content", [
    ("history_request", {"hist_access_type": "tail", "n": 3, "output": False, "raw": True, "code": 5}),
    ("history_request", {"hist_access_type": "tail", "n": 3, "output": False, "raw": True, "cursor_pos": "x"}),
    ("is_complete_request", {"code": "if True:", "cursor_pos": [], "detail_level": "x"}),
])
def test_fields_a_request_does_not_use_are_ignored(kc, msg_type, content):
    reply = get_reply(kc, send(kc, msg_type, content))
    assert reply["msg_type"] == msg_type.replace("_request", "_reply")
    assert reply["content"]["status"] == ("incomplete" if msg_type == "is_complete_request" else "ok"), reply
    assert_runs_a_cell(kc)


@pytest.mark.parametrize("field, value", [
    ("msg_id", "m" * 2000), ("session", "s" * 2000), ("username", "u" * 2000), ("session", 12),
    ("username", ["a"]), ("version", {"v": 5}), ("date", 3.5), ("session", None),
])
def test_bad_header_fields_get_an_error_reply(kc, field, value):
    msg_id = send(kc, "kernel_info_request", {}, header={field: value})
    assert error_reply(kc, msg_id).startswith("[wire.bad_header]")
    assert_runs_a_cell(kc)


def test_long_note_name_in_metadata(kc):
    msg_id = send(kc, "execute_request", {"code": "1", "silent": False}, metadata={"atrium_note": "n" * 2000})
    assert error_reply(kc, msg_id).startswith("[protocol.too_long]")
    assert_runs_a_cell(kc)


@pytest.mark.parametrize("identity", [b"r" * 56, b"r" * 255])
def test_long_routing_identity_is_dropped(kernel, identity):
    km, kc = kernel
    info = km.get_connection_info()
    session = Session(key=info["key"], signature_scheme=info["signature_scheme"])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    try:
        sock.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")
        # An extra identity frame before the delimiter: the kernel would store it in a 55-character guid.
        sock.send_multipart([identity] + session.serialize(session.msg("kernel_info_request", {})))
        assert not sock.poll(1000), "a message with an unstorable identity was answered"
        # The same socket with a normal message is still answered.
        sock.send_multipart(session.serialize(session.msg("kernel_info_request", {})))
        assert sock.poll(TIMEOUT * 1000)
    finally:
        sock.close()
        ctx.term()
    assert_runs_a_cell(kc)


@pytest.mark.parametrize("msg_type, content", [
    ("execute_request", {"code": "print('not here')", "silent": False}),
    ("complete_request", {"code": "pri", "cursor_pos": 3}),
    ("history_request", {"hist_access_type": "tail", "n": 1}),
])
def test_shell_requests_on_control_are_refused(kc, msg_type, content):
    # xeus would serve them from the I/O thread, racing the main thread (heap corruption under the live fuzzer).
    msg = kc.session.msg(msg_type, content)
    kc.control_channel.send(msg)
    reply = kc.control_channel.get_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    assert reply["content"]["status"] == "error"
    assert reply["content"]["evalue"].startswith("[protocol.wrong_channel]")
    assert_runs_a_cell(kc)


@pytest.mark.parametrize("msg_type", ["comm_open", "comm_msg", "comm_close"])
def test_comm_messages_on_control_are_dropped(kc, msg_type):
    msg = kc.session.msg(msg_type, {"comm_id": "c1", "target_name": "echo", "data": {}})
    kc.control_channel.send(msg)
    states = [m["content"]["execution_state"] for m in collect_iopub(kc, msg["header"]["msg_id"])
              if m["msg_type"] == "status"]
    assert states == ["busy", "idle"]
    assert_runs_a_cell(kc)
