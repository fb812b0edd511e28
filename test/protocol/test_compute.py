"""The managed compute context `ctx` over real Dask: a local cluster owned by the kernel, or an external
`dask scheduler` with a `dask worker` started by the test on 127.0.0.1. In-process (scoped) and isolated notes
alike: isolated workers join the kernel's cluster."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from protocol_helpers import get_reply, stream_text
from session_helpers import client, interrupt_request, kernel_of, run, value_of

DASK = str(Path(sys.executable).parent / "dask")


@pytest.fixture(scope="module", params=["atrium-scoped", "atrium-isolated"])
def scoped_with_cluster(request):
    with kernel_of(request.param) as (km, _):
        yield km


def test_notes_share_one_local_cluster_and_its_published_data(scoped_with_cluster):
    a, b = client(scoped_with_cluster), client(scoped_with_cluster)
    assert value_of(a, "ctx.submit(lambda x: x + 1, 41).result()")[1] == "42"
    assert value_of(a, "ctx.gather(ctx.map(lambda x: x * x, range(5)))")[1] == "[0, 1, 4, 9, 16]"
    run(a, "import dask.bag as db\n"
           "doubled = db.from_sequence(range(6)).map(lambda x: 2 * x).persist()\n"
           "ctx.publish('doubled', doubled)")
    assert value_of(b, "ctx.fetch('doubled').compute()")[1] == "[0, 2, 4, 6, 8, 10]"
    status = value_of(b, "s = ctx.status(); (s['local_cluster'], s['workers'] > 0, s['cores'] > 0)")[1]
    assert status == "(True, True, True)"
    reply, msgs = run(b, "%contexts")
    assert "compute: local cluster tcp://127.0.0.1:" in stream_text(msgs)


def test_the_cluster_outlives_a_context_reset(scoped_with_cluster):
    a = client(scoped_with_cluster)
    run(a, "before = ctx.status()['scheduler']")
    address = value_of(a, "before")[1]
    run(a, "%reset_context")
    assert value_of(a, "ctx.status()['scheduler']")[1] == address
    assert value_of(a, "ctx.fetch('doubled').compute()")[1] == "[0, 2, 4, 6, 8, 10]"


def test_a_worker_dying_mid_task_is_reported_in_the_cell(scoped_with_cluster):
    a = client(scoped_with_cluster)
    reply, _ = run(a, "import os\nctx.submit(os._exit, 1, pure=False).result()", timeout=120)
    assert reply["status"] == "error" and reply["ename"] == "KilledWorker"
    # the cluster recovers (the nannies restart their workers) and keeps serving every note
    assert value_of(a, "ctx.submit(lambda: 'recovered').result(timeout=60)")[1] == "'recovered'"


def test_a_missing_dataset_is_a_clear_error(scoped_with_cluster):
    a = client(scoped_with_cluster)
    reply, _ = run(a, "ctx.fetch('no-such-dataset')")
    assert reply["ename"] == "KeyError" and "[compute.no_dataset]" in reply["evalue"]


@pytest.mark.parametrize("kernel_name", ["atrium", "atrium-isolated"])
def test_interrupting_a_cell_cancels_its_tasks(kernel_name):
    with kernel_of(kernel_name) as (km, kc):
        a = client(km)
        assert value_of(a, "ctx.submit(lambda: 'warm').result()")[1] == "'warm'"
        msg_id = a.execute("import time\nslow = ctx.submit(time.sleep, 60, pure=False)\nslow.result()")
        time.sleep(1.5)
        interrupt_request(a)
        assert get_reply(a, msg_id, timeout=15)["content"]["ename"] == "KeyboardInterrupt"
        deadline = time.monotonic() + 10
        while value_of(a, "slow.status")[1] != "'cancelled'" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert value_of(a, "slow.status")[1] == "'cancelled'"


@pytest.fixture
def external_scheduler(tmp_path):
    """A real `dask scheduler` and one `dask worker` on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--host",
                                   "127.0.0.1", "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        yield address, scheduler
    finally:
        for process in (worker, scheduler):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.parametrize("kernel_name", ["atrium-scoped", "atrium-isolated"])
def test_cells_run_against_an_external_scheduler_and_report_its_loss(external_scheduler, kernel_name):
    address, scheduler = external_scheduler
    env = {**os.environ, "ATRIUM_DASK_SCHEDULER": address}
    with kernel_of(kernel_name, env=env) as (km, _):
        a = client(km)
        deadline = time.monotonic() + 60
        while value_of(a, "ctx.status()['workers']")[1] != "1" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert value_of(a, "ctx.submit(lambda: 7).result()")[1] == "7"
        assert value_of(a, "(ctx.status()['local_cluster'], ctx.status()['scheduler'])")[1] == f"(False, '{address}')"
        os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait()
        started = time.monotonic()
        reply, _ = run(a, "ctx.submit(lambda: 1).result(timeout=10)", timeout=60)
        assert reply["status"] == "error"
        assert time.monotonic() - started < 60
        assert value_of(a, "1 + 1")[1] == "2"  # the kernel keeps working without the cluster


def test_an_unreachable_scheduler_is_a_clear_error_and_the_kernel_carries_on():
    env = {**os.environ, "ATRIUM_DASK_SCHEDULER": "tcp://127.0.0.1:9"}
    with kernel_of("atrium", env=env) as (km, kc):
        a = client(km)
        reply, _ = run(a, "ctx.client", timeout=60)
        assert reply["ename"] == "ComputeError" and "[compute.unreachable]" in reply["evalue"]
        assert "tcp://127.0.0.1:9" in reply["evalue"]
        assert value_of(a, "'still here'")[1] == "'still here'"
