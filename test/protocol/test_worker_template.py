"""Isolated workers forked from the worker template (ATRIUM_PRELOAD / --preload), over real kernel and worker
processes: preloaded modules, private state, fresh random state, fallback, no orphans, template crashes."""

import os
import signal
import tempfile
import time

import psutil
from session_helpers import client, kernel_of, run, value_of

ISOLATED = "atrium-isolated"


def kernel_pid(km):
    return km.provisioner.process.pid


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    return condition()


def children(km):
    return psutil.Process(kernel_pid(km)).children()


def templates(km):
    return [c for c in children(km) if c.name() == "atrium-template"]


def ok_value(kc, expression):
    reply, value = value_of(kc, expression)
    assert reply["status"] == "ok", reply
    return value


def contexts_table(kc):
    reply, msgs = run(kc, "%contexts")
    assert reply["status"] == "ok", reply
    return "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")


def logged_kernel(extra_arguments=(), **environment):
    """A kernel whose log (stderr) goes to a file the test reads afterwards."""
    log = tempfile.NamedTemporaryFile("w+", prefix="atrium-template-test-", suffix=".log")
    env = {**os.environ, **environment}
    return log, kernel_of(ISOLATED, extra_arguments=list(extra_arguments), env=env, stderr=log)


def each_new_note_answers(km, names, code):
    """A note of each name, opened in turn, gets a worker that computes `code` to 42."""
    for name in names:
        note = client(km, name)
        try:
            assert ok_value(note, code) == "42"
        finally:
            note.stop_channels()


def test_a_new_note_finds_the_preloaded_modules_and_keeps_its_state_private():
    with kernel_of(ISOLATED, extra_arguments=["--preload=numpy,json"]) as (km, a):
        b = client(km, "bob")
        try:
            assert ok_value(a, "import sys; 'numpy' in sys.modules and 'json' in sys.modules") == "True"
            assert ok_value(b, "import sys; 'numpy' in sys.modules") == "True"
            # Writes after the fork stay in the note that made them (copy-on-write, not shared memory).
            ok_value(a, "import numpy, json; numpy.note_marker = 'a'; json.dumps = None; secret = 1")
            assert ok_value(b, "import numpy, json; getattr(numpy, 'note_marker', None), json.dumps('x')") \
                == "(None, '\"x\"')"
            assert run(b, "secret")[0]["ename"] == "NameError"
            # Both are the kernel's own children, as spawned workers are, not the template's.
            pids = {int(ok_value(kc, "__import__('os').getppid()")) for kc in (a, b)}
            assert pids == {kernel_pid(km)}
            assert len(templates(km)) == 1
        finally:
            b.stop_channels()


def test_two_notes_draw_different_random_numbers():
    with kernel_of(ISOLATED, extra_arguments=["--preload=numpy"]) as (km, a):
        b = client(km, "bob")
        try:
            draw = "import random, numpy; (random.random(), float(numpy.random.rand()))"
            first, second = ok_value(a, draw), ok_value(b, draw)
            assert first != second
            assert eval(first)[0] != eval(second)[0] and eval(first)[1] != eval(second)[1]
        finally:
            b.stop_channels()


def test_a_bad_preload_falls_back_to_spawning_with_the_reason_logged():
    log, kernel = logged_kernel(ATRIUM_PRELOAD="json,no_such_module_atrium")
    with log, kernel as (km, kc):
        assert ok_value(kc, "1 + 1") == "2"
        # A spawned worker: its own command line, not the template's.
        assert "--connect" in psutil.Process(int(ok_value(kc, "__import__('os').getpid()"))).cmdline()
        assert wait_for(lambda: "[worker.preload]" in open(log.name).read())
        text = open(log.name).read()
        assert "no_such_module_atrium" in text and "spawned plainly" in text, text
        assert templates(km) == []
        assert "worker template: none ([worker.preload]" in contexts_table(kc)
        other = client(km, "bob")
        try:
            assert ok_value(other, "2 + 2") == "4"
        finally:
            other.stop_channels()


def test_a_name_that_is_no_module_name_falls_back_too():
    log, kernel = logged_kernel(["--preload=os;rm"])
    with log, kernel as (km, kc):
        assert ok_value(kc, "3 * 3") == "9"
        assert wait_for(lambda: "is not a module name" in open(log.name).read())


def test_no_template_or_worker_outlives_sigkill_of_the_kernel():
    with kernel_of(ISOLATED, extra_arguments=["--preload=json"]) as (km, kc):
        ok_value(kc, "1")
        other = client(km, "bob")
        ok_value(other, "1")
        other.stop_channels()
        # The template, two notes and the warm pool's worker, which the template forks after bob took the last one.
        assert wait_for(lambda: len(children(km)) >= 4), children(km)
        pids = [c.pid for c in children(km)]
        assert len(templates(km)) == 1
        os.kill(kernel_pid(km), signal.SIGKILL)
        assert wait_for(lambda: not any(alive(p) for p in pids), timeout=10)


# The kernel reseeds numpy's global generator in each forked worker: this module makes that call fail there.
BROKEN_AFTER_FORK = """import sys, types
fake = types.ModuleType("numpy.random")
def seed(*args):
    raise RuntimeError("atrium test: broken after the fork")
fake.seed = seed
sys.modules["numpy.random"] = fake
"""


def test_forked_workers_dying_before_hello_count_against_the_template(tmp_path):
    (tmp_path / "atrium_broken_fork.py").write_text(BROKEN_AFTER_FORK)
    log, kernel = logged_kernel(["--preload=atrium_broken_fork"], PYTHONPATH=str(tmp_path))
    with log, kernel as (km, kc):
        # Each note still gets a worker (spawned plainly after the forked one died), until the template is given up.
        each_new_note_answers(km, ("bob", "carol", "dave", "erin", "frank", "grace"), "6 * 7")
        assert ok_value(kc, "1 + 1") == "2"
        assert wait_for(lambda: "worker template: none (the template failed 5 times" in contexts_table(kc))
        text = open(log.name).read()
        assert "[worker.template] a worker forked from the template" in text, text
        assert "its setup after the fork failed" in text and "broken after the fork" in text, text
        assert templates(km) == []


def test_the_kernel_survives_a_crash_of_the_template():
    log, kernel = logged_kernel(["--preload=json"])
    with log, kernel as (km, kc):
        ok_value(kc, "kept = 41")
        (template,) = wait_for(lambda: templates(km))
        assert f"worker template: pid {template.pid}, preloaded 'json'" in contexts_table(kc)
        template.kill()
        # Reaped (no zombie left among the kernel's children) even while no note needs a worker.
        assert wait_for(lambda: template.pid not in [c.pid for c in psutil.Process(kernel_pid(km)).children()])
        assert "worker template: none (the last one failed" in contexts_table(kc)
        # Notes opened after the crash still get workers (the next is spawned, a new template forks the rest), and
        # the note that was running keeps its worker: forked workers are the kernel's children, not the template's.
        each_new_note_answers(km, ("bob", "carol", "dave"), "import sys; 6 * 7")
        assert ok_value(kc, "kept + 1") == "42"
        assert "[worker.template]" in open(log.name).read()
        assert wait_for(lambda: [t for t in templates(km) if t.pid != template.pid])


def test_by_default_numpy_and_pandas_are_preloaded():
    with kernel_of(ISOLATED) as (km, kc):
        assert ok_value(kc, "import sys; 'numpy' in sys.modules, 'pandas' in sys.modules") == "(True, True)"
        assert len(templates(km)) == 1


BLAS_THREADS = """import ctypes, numpy
path = next(line.split()[-1] for line in open('/proc/self/maps') if 'openblas' in line)
ctypes.CDLL(path).scipy_openblas_get_num_threads64_()"""


def test_a_forked_worker_has_the_blas_threads_a_spawned_one_has():
    # The template holds OpenBLAS to one thread (fork keeps only the calling thread); each child gets its pool back.
    with kernel_of(ISOLATED, extra_arguments=["--preload=none"]) as (km, kc):
        spawned = ok_value(kc, BLAS_THREADS)
    with kernel_of(ISOLATED, extra_arguments=["--preload=numpy"]) as (km, kc):
        assert ok_value(kc, BLAS_THREADS) == spawned
        assert ok_value(kc, "import os; 'OPENBLAS_NUM_THREADS' in os.environ") == "False"
        assert ok_value(kc, "import numpy; float((numpy.ones((300, 300)) @ numpy.ones((300, 300))).sum())") \
            == "27000000.0"
