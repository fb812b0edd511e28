"""user_expressions are evaluated after the cell, each with its own status."""

from protocol_helpers import execute_ok


def test_user_expressions(kc):
    execute_ok(kc, "x = 41")
    reply, _ = execute_ok(kc, "y = 0", user_expressions={"x": "x+1", "bad": "1/0"})
    exprs = reply["content"]["user_expressions"]
    assert exprs["x"]["status"] == "ok"
    assert exprs["x"]["data"]["text/plain"] == "42"
    assert exprs["bad"]["status"] == "error"
    assert exprs["bad"]["ename"] == "ZeroDivisionError"


def test_user_expressions_see_the_cell_result(kc):
    # Evaluated after the cell ran, in the same namespace.
    reply, _ = execute_ok(kc, "z = 'abc'", user_expressions={"n": "len(z)"})
    assert reply["content"]["user_expressions"]["n"]["data"]["text/plain"] == "3"
