"""Comms through the `comm` package API, opened from either side."""

import uuid

from protocol_helpers import collect_iopub, execute_ok, get_reply

ECHO_TARGET = """
import comm

def _echo_target(c, open_msg):
    c.on_msg(lambda m: c.send(m['content']['data']))

comm.get_comm_manager().register_target('echo', _echo_target)
"""


def send_shell(kc, msg_type, content):
    """Send a shell message the client has no method for; return its iopub messages."""
    msg = kc.session.msg(msg_type, content)
    kc.shell_channel.send(msg)
    return collect_iopub(kc, msg["header"]["msg_id"])


def comm_info(kc, target_name=None):
    reply = get_reply(kc, kc.comm_info(target_name))
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]["comms"]


def test_client_opened_echo_comm(kc):
    execute_ok(kc, ECHO_TARGET)
    comm_id = uuid.uuid4().hex
    send_shell(kc, "comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}})
    assert comm_info(kc, "echo")[comm_id]["target_name"] == "echo"

    msgs = send_shell(kc, "comm_msg", {"comm_id": comm_id, "data": {"x": [1, "two"]}})
    echoes = [m for m in msgs if m["msg_type"] == "comm_msg"]
    assert len(echoes) == 1, msgs
    assert echoes[0]["content"]["comm_id"] == comm_id
    assert echoes[0]["content"]["data"] == {"x": [1, "two"]}

    send_shell(kc, "comm_close", {"comm_id": comm_id, "data": {}})
    assert comm_id not in comm_info(kc)


def test_open_to_unknown_target(kc):
    comm_id = uuid.uuid4().hex
    send_shell(kc, "comm_open", {"comm_id": comm_id, "target_name": "no-such-target", "data": {}})
    assert comm_id not in comm_info(kc)
    execute_ok(kc, "1")


def test_kernel_opened_comm(kc):
    code = (
        "from comm import create_comm\n"
        "c = create_comm(target_name='t', data={'a': 1})\n"
        "c.send({'b': 2})\n"
        "c.close()"
    )
    _, msgs = execute_ok(kc, code)
    by_type = {m["msg_type"]: m["content"] for m in msgs if m["msg_type"].startswith("comm_")}
    assert by_type["comm_open"]["target_name"] == "t"
    assert by_type["comm_open"]["data"] == {"a": 1}
    comm_id = by_type["comm_open"]["comm_id"]
    assert by_type["comm_msg"] == {"comm_id": comm_id, "data": {"b": 2}}
    assert by_type["comm_close"]["comm_id"] == comm_id
