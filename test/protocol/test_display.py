"""display_id updates, clear_output, and the parent header of every iopub message."""

from protocol_helpers import TIMEOUT, drain_iopub, execute_ok, outputs, result_data

IMPORT = "from IPython.display import HTML, display, clear_output\n"


def of_type(msgs, msg_type):
    return [m for m in msgs if m["msg_type"] == msg_type]


def test_display_handle_update(kc):
    code = IMPORT + (
        "h = display(HTML('<i>one</i>'), display_id=True)\nh.update(HTML('<i>two</i>'))\nh.display_id"
    )
    _, msgs = execute_ok(kc, code)
    (shown,) = of_type(msgs, "display_data")
    (updated,) = of_type(msgs, "update_display_data")
    display_id = shown["content"]["transient"]["display_id"]
    assert display_id
    assert updated["content"]["transient"]["display_id"] == display_id
    assert shown["content"]["data"]["text/html"] == "<i>one</i>"
    assert updated["content"]["data"]["text/html"] == "<i>two</i>"
    assert result_data(msgs)["text/plain"] == repr(display_id)

    # An update from a later cell is routed under that later request.
    reply, msgs = execute_ok(kc, "h.update(HTML('<i>three</i>'))")
    (updated,) = of_type(msgs, "update_display_data")
    assert updated["content"]["transient"]["display_id"] == display_id
    assert updated["parent_header"]["msg_id"] == reply["parent_header"]["msg_id"]


def test_named_display_id(kc):
    _, msgs = execute_ok(kc, IMPORT + "display(HTML('x'), display_id='my-id')")
    (shown,) = of_type(msgs, "display_data")
    assert shown["content"]["transient"]["display_id"] == "my-id"


def test_clear_output_wait(kc):
    _, msgs = execute_ok(kc, IMPORT + "print('gone')\nclear_output(wait=True)")
    (cleared,) = of_type(msgs, "clear_output")
    assert cleared["content"]["wait"] is True
    _, msgs = execute_ok(kc, IMPORT + "clear_output()")
    (cleared,) = of_type(msgs, "clear_output")
    assert cleared["content"]["wait"] is False


def test_every_iopub_message_has_the_request_as_parent(kc):
    drain_iopub(kc)
    code = IMPORT + (
        "import sys\nprint('out')\nprint('err', file=sys.stderr)\n"
        "h = display(HTML('d'), display_id=True)\nh.update(HTML('u'))\nclear_output()\n42"
    )
    msg_id = kc.execute(code)
    # Read everything (collect_iopub would filter by parent), until this request's idle status.
    seen = []
    while not (
        seen
        and seen[-1]["msg_type"] == "status"
        and seen[-1]["content"]["execution_state"] == "idle"
        and seen[-1]["parent_header"].get("msg_id") == msg_id
    ):
        seen.append(kc.get_iopub_msg(timeout=TIMEOUT))
    assert [m for m in seen if m["parent_header"].get("msg_id") != msg_id] == []
    types = {m["msg_type"] for m in outputs(seen)}
    assert types >= {"stream", "display_data", "update_display_data", "clear_output", "execute_result"}
    assert seen[0]["msg_type"] == "status" and seen[0]["content"]["execution_state"] == "busy"
