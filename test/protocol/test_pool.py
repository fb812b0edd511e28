"""The resource pool: objects handed between notes and users of one kernel, by reference between in-process
contexts and by value (pickled through the kernel) between isolated workers."""

import os
import time

import pytest
from protocol_helpers import get_reply
from session_helpers import client, kernel_of, run, value_of


@pytest.fixture(scope="module", params=["atrium-scoped-user", "atrium-isolated-user"])
def scoped_user(request):
    with kernel_of(request.param) as (km, _):
        yield km


@pytest.fixture(scope="module")
def isolated():
    env = {**os.environ, "ATRIUM_POOL_MAX_BYTES": str(200 * 2**20)}
    with kernel_of("atrium-isolated", env=env) as (km, _):
        yield km


def test_notes_share_objects_by_reference():
    with kernel_of("atrium-scoped") as (km, _):
        a, b = client(km), client(km)
        run(a, "table = {'rows': [1, 2, 3]}\npool.put('table', table)")
        run(b, "seen = pool.get('table')\nseen['rows'].append(4)")
        assert value_of(a, "table['rows']")[1] == "[1, 2, 3, 4]"  # the same object, not a copy
        assert value_of(b, "[e['name'] for e in pool.list()]")[1] == "['table']"


def test_isolated_notes_share_objects_by_value(isolated):
    a, b = client(isolated), client(isolated)
    run(a, "import os\ntable = {'rows': [1, 2, 3], 'from': os.getpid()}\npool.put('table', table)")
    reply, seen = value_of(b, "import os\nseen = pool.get('table')\nseen['rows'].append(4)\n(seen['rows'], seen['from'] != os.getpid())")
    assert seen == "([1, 2, 3, 4], True)"
    assert value_of(a, "table['rows']")[1] == "[1, 2, 3]"  # a copy: the writer's object is untouched
    assert value_of(b, "[(e['name'], e['type']) for e in pool.list()]")[1] == "[('table', 'dict')]"
    assert value_of(b, "('table' in pool, 'nothing' in pool)")[1] == "(True, False)"


def test_isolated_pool_reports_unpicklable_and_too_large_objects(isolated):
    a = client(isolated)
    reply, _ = run(a, "import threading\npool.put('lock', threading.Lock())")
    assert reply["ename"] == "PoolError" and "[pool.unpicklable] 'lock'" in reply["evalue"], reply
    reply, _ = run(a, "pool.put('big', bytes(300 * 2**20))")
    assert reply["ename"] == "PoolError" and "[pool.too_large]" in reply["evalue"] and "200 MiB" in reply["evalue"]
    assert run(a, "pool.get('lock')")[0]["ename"] == "KeyError"


def test_isolated_entries_survive_a_worker_reset_and_crash(isolated):
    a = client(isolated)
    run(a, "pool.put('kept', list(range(3)))")
    run(a, "%reset_context")
    assert value_of(a, "pool.get('kept')")[1] == "[0, 1, 2]"
    run(a, "import os; os._exit(1)")
    assert value_of(a, "pool.get('kept')")[1] == "[0, 1, 2]"


@pytest.mark.parametrize("kernel_name", ["atrium-scoped", "atrium-isolated"])
def test_a_waiting_note_is_released_when_another_puts(kernel_name):
    with kernel_of(kernel_name) as (km, _):
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


def test_a_bad_name_is_refused_before_anything_is_shared(scoped_user):
    note = client(scoped_user, "carol")
    # A lambda does not pickle: in a worker the name is still what is reported.
    reply, _ = run(note, "pool.put('', lambda: 0)")
    assert reply["status"] == "error" and "[pool.bad_name]" in reply["evalue"], reply
    assert value_of(note, "'' in pool")[1] == "False"
