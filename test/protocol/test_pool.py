"""The resource pool: objects handed between notes and users of one kernel (in-process contexts)."""

import time

import pytest
from protocol_helpers import get_reply
from session_helpers import client, kernel_of, run, value_of


@pytest.fixture(scope="module")
def scoped_user():
    with kernel_of("atrium-scoped-user") as (km, _):
        yield km


def test_notes_share_objects_by_reference():
    with kernel_of("atrium-scoped") as (km, _):
        a, b = client(km), client(km)
        run(a, "table = {'rows': [1, 2, 3]}\npool.put('table', table)")
        run(b, "seen = pool.get('table')\nseen['rows'].append(4)")
        assert value_of(a, "table['rows']")[1] == "[1, 2, 3, 4]"  # the same object, not a copy
        assert value_of(b, "[e['name'] for e in pool.list()]")[1] == "['table']"


def test_a_waiting_note_is_released_when_another_puts():
    with kernel_of("atrium-scoped") as (km, _):
        a, b = client(km), client(km)
        waiting = a.execute("result = pool.get('late', wait=10)\nprint(result)")
        time.sleep(0.5)
        started = time.monotonic()
        run(b, "pool.put('late', 'arrived')")
        assert get_reply(a, waiting)["content"]["status"] == "ok"
        assert time.monotonic() - started < 2
        assert value_of(a, "result")[1] == "'arrived'"
        reply, _ = run(a, "pool.get('never', wait=0.3)")
        assert reply["ename"] == "TimeoutError" and "[pool.timeout]" in reply["evalue"]


def test_entries_survive_a_context_reset():
    with kernel_of("atrium-scoped") as (km, _):
        a = client(km)
        run(a, "pool.put('kept', 42)")
        run(a, "%reset_context")
        assert value_of(a, "pool.get('kept')")[1] == "42"


def test_users_cannot_overwrite_or_remove_each_others_entries(scoped_user):
    alice, bob = client(scoped_user, "alice"), client(scoped_user, "bob")
    run(alice, "pool.put('report', 'by alice')")
    assert value_of(bob, "pool.get('report')")[1] == "'by alice'"  # kernel-wide: readable by all
    reply, _ = run(bob, "pool.put('report', 'by bob')")
    assert reply["ename"] == "PoolError" and "[pool.forbidden]" in reply["evalue"]
    reply, _ = run(bob, "pool.remove('report')")
    assert reply["ename"] == "PoolError"
    run(alice, "pool.remove('report')")
    assert run(bob, "pool.get('report')")[0]["ename"] == "KeyError"


def test_private_entries_are_invisible_to_other_users(scoped_user):
    alice, bob = client(scoped_user, "alice"), client(scoped_user, "bob")
    run(alice, "pool.put('draft', 'secret', private=True)")
    assert value_of(alice, "pool.get('draft')")[1] == "'secret'"
    assert run(bob, "pool.get('draft')")[0]["ename"] == "KeyError"
    assert value_of(bob, "[e['name'] for e in pool.list()]")[1] == "[]"


def test_private_entries_need_a_per_user_mode():
    with kernel_of("atrium") as (km, kc):
        a = client(km)
        reply, _ = run(a, "pool.put('x', 1, private=True)")
        assert reply["ename"] == "PoolError" and "[pool.no_private_area]" in reply["evalue"]
