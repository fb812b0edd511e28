"""is_complete_request, as ipykernel answers it."""

import pytest
from protocol_helpers import get_reply

CASES = [
    ("for i in x:", "incomplete"),
    ("x = (1,", "incomplete"),
    ("s = '''abc", "incomplete"),
    ("1+1", "complete"),
    ("print(1))", "invalid"),
    # A trailing operator is invalid, not incomplete: no continuation line can follow it.
    ("1+", "invalid"),
    # Complete code over several lines: brackets, a finished block, magics and shell escapes.
    ("x = [1,\n     2]", "complete"),
    ("d = {'a': 1,\n     'b': (2,\n           3)}", "complete"),
    ("x = [1,\n", "incomplete"),
    ("def f():\n    return 1\n\n", "complete"),
    ("%time 1", "complete"),
    ("!echo hi", "complete"),
]


@pytest.mark.parametrize("code,status", CASES)
def test_is_complete(kc, code, status):
    reply = get_reply(kc, kc.is_complete(code))
    assert reply["msg_type"] == "is_complete_reply"
    assert reply["content"]["status"] == status, (code, reply["content"])


def test_indent_after_block_opener(kc):
    reply = get_reply(kc, kc.is_complete("for i in x:"))
    assert reply["content"]["status"] == "incomplete"
    assert reply["content"]["indent"] == "    "
