"""The Atrium hosts that a test's servers start through the `atrium-host` provisioner: asked over their control
socket (docs/host.md), and stopped when the test ends, since a host outlives the server that started it."""

import contextlib
import pathlib
import time

import psutil
from atrium_host.control import HostError, call
from test_kernel_gateway import result_of

STOP_TIMEOUT = 30
WAIT_TIMEOUT = 60


def control(socket_path, request, timeout=30):
    """One request on a host's control socket, through the provisioner's own client; refusals raise HostRefused."""
    return call(str(socket_path), request, timeout)


def host_socket(runtime_dir, mode="scoped"):
    """Where the provisioner keeps the host of `mode` for this runtime dir (docs/host.md)."""
    return pathlib.Path(runtime_dir) / f"atrium-host-{mode}.sock"


def front_ids(runtime_dir, mode="scoped"):
    """The kernel ids the host has fronts open for (the `list` op)."""
    answer = control(host_socket(runtime_dir, mode), {"op": "list"})
    assert answer["ok"], answer
    return {front["kernel_id"] for front in answer["fronts"]}


def host_pid(runtime_dir, mode="scoped"):
    answer = control(host_socket(runtime_dir, mode), {"op": "ping"})
    assert answer["ok"], answer
    return answer["pid"]


def value(channels, code):
    """The text/plain result of `code` run on a test_kernel_gateway.Channels connection; the cell must succeed."""
    reply, iopub = channels.run(code)
    assert reply["status"] == "ok", reply
    return result_of(iopub)[0]["text/plain"]


def wait_until(what, check, timeout=WAIT_TIMEOUT, step=None):
    """Calls `step` (default: a short sleep) until `check()` holds; a TimeoutError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        (step or (lambda: time.sleep(0.2)))()


def stop_hosts(runtime_dir):
    """Sends `stop` to every host answering in `runtime_dir` and waits for it, its workers and its cluster to end;
    kills whatever is left after STOP_TIMEOUT and returns those as text (a host that leaves processes is a bug)."""
    leftovers = []
    for path in sorted(pathlib.Path(runtime_dir).glob("atrium-host-*.sock")):
        try:
            pid = control(path, {"op": "ping"}, timeout=5)["pid"]
            family = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
            control(path, {"op": "stop"}, timeout=5)
        except (HostError, OSError, KeyError, psutil.NoSuchProcess):
            continue  # nobody answers there: that host is gone already
        _, alive = psutil.wait_procs(family, timeout=STOP_TIMEOUT)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                leftovers.append(f"{proc.pid} {' '.join(proc.cmdline())[:200]}")
                proc.kill()
    return leftovers


@contextlib.contextmanager
def hosts_stopped(runtime_dir):
    """Yields; afterwards stops every host of `runtime_dir` (stop_hosts), and fails the test if one left processes
    (unless the test failed already: its own error says more)."""
    try:
        yield
    except BaseException:
        stop_hosts(runtime_dir)
        raise
    leftovers = stop_hosts(runtime_dir)
    assert not leftovers, f"still running {STOP_TIMEOUT} s after the host's stop: {leftovers}"
