"""input() and getpass() over the stdin channel, with and without allow_stdin."""

from protocol_helpers import (
    TIMEOUT,
    assert_alive,
    collect_iopub,
    execute_and_collect,
    get_reply,
    result_data,
    stream_text,
)


def run_with_answers(kc, code, answers):
    """Run code, answering its input requests in turn; return (requests, reply, iopub messages).

    Every request is answered before anything is asserted, so that a failed check cannot leave
    the kernel blocked in input() for the tests that follow.
    """
    msg_id = kc.execute(code, allow_stdin=True)
    requests = []
    for answer in answers:
        requests.append(kc.get_stdin_msg(timeout=TIMEOUT))
        kc.input(answer)
    msgs = collect_iopub(kc, msg_id)
    reply = get_reply(kc, msg_id)
    for req in requests:
        assert req["msg_type"] == "input_request"
        assert req["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "ok", reply["content"]
    return [r["content"] for r in requests], reply, msgs


def test_input(kc):
    requests, _, msgs = run_with_answers(kc, "name = input('name? ')\nprint('hello', name)\nname", ["Ada"])
    assert requests[0].get("prompt") == "name? ", requests[0]
    assert requests[0].get("password") is False, requests[0]
    assert "hello Ada" in stream_text(msgs)
    assert result_data(msgs)["text/plain"] == "'Ada'"


def test_two_inputs_in_one_cell(kc):
    code = "a = input('a: ')\nb = input('b: ')\na + '|' + b"
    requests, _, msgs = run_with_answers(kc, code, ["first", "second"])
    assert [r.get("prompt") for r in requests] == ["a: ", "b: "]
    assert result_data(msgs)["text/plain"] == "'first|second'"


def test_getpass_is_a_password_request(kc):
    code = "import getpass\npw = getpass.getpass('pw: ')\nlen(pw)"
    requests, _, msgs = run_with_answers(kc, code, ["secret"])
    assert requests[0].get("prompt") == "pw: ", requests[0]
    assert requests[0].get("password") is True, requests[0]
    assert result_data(msgs)["text/plain"] == "6"
    # The password itself is never echoed to the outputs.
    assert "secret" not in stream_text(msgs)


def test_input_without_stdin_errors(kc):
    reply, msgs = execute_and_collect(kc, "input('name? ')", allow_stdin=False)
    assert reply["content"]["status"] == "error"
    assert "StdinNotImplementedError" in reply["content"]["ename"]
    assert_alive(kc)
