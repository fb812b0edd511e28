"""jupyter_server over REST and WebSocket, as a browser uses it, with kernels on `atrium-host`: every kernel id is a
front of one Atrium host (docs/host.md), yet each behaves as a kernel of its own: its namespace, its status, its
interrupt, restart, shutdown and culling, and a killed host replaced through the server's own restart."""

import getpass
import pathlib
import time
import urllib.error

import psutil
import pytest
from atrium_host.control import HostError
from e2e_host import front_ids, host_pid, hosts_stopped, value, wait_until
from e2e_servers import running_server, server_env
from test_kernel_gateway import Channels, result_of, stdout_of

MODES = {"atrium-host": "scoped", "atrium-host-isolated": "isolated"}
# Interruptible between bytecodes (a scoped context's KeyboardInterrupt arrives there); ends when told through pool.
WAIT_FOR_GO = "import time\nwhile 'go' not in pool:\n    time.sleep(0.05)\nprint('{name} went on with', x)"


class Recorded(Channels):
    """A connection that keeps the ids it sent and every message it received: what reached it, checked afterwards."""

    def __init__(self, server, kernel_id):
        super().__init__(server, kernel_id)
        self.seen, self.sent = [], set()

    def send(self, msg_type, content, channel="shell"):
        msg_id = super().send(msg_type, content, channel)
        self.sent.add(msg_id)
        return msg_id

    def receive(self):
        msg = super().receive()
        if msg is not None:
            self.seen.append(msg)
        return msg

    def parents_seen(self):
        return {msg["parent_header"].get("msg_id") for msg in self.seen}


def start_kernel(server, name):
    kernel = server.request("POST", "/api/kernels", {"name": name})
    assert kernel["name"] == name, kernel
    return kernel["id"]


def check_one_host(runtime_dir, mode, *connections):
    """Every connection's kernel runs in the host of `mode`: its process (scoped) or a worker process of it
    (isolated, a worker each). Returns the host's pid and each kernel's process id."""
    pid = host_pid(runtime_dir, mode)
    pids = [int(value(c, "import os\nos.getpid()")) for c in connections]
    if mode == "scoped":
        assert pids == [pid] * len(pids), (pid, pids)
    else:
        workers = {child.pid for child in psutil.Process(pid).children(recursive=True)}
        assert len(set(pids)) == len(pids) and set(pids) <= workers, (pid, pids, workers)
    return pid, pids


def state_of(server, kernel_id):
    return server.request("GET", f"/api/kernels/{kernel_id}")["execution_state"]


def activity_of(server, kernel_id):
    return server.request("GET", f"/api/kernels/{kernel_id}")["last_activity"]


def kernel_ids(server):
    return {kernel["id"] for kernel in server.request("GET", "/api/kernels")}


def jupyter_server(client_env, venv_bin, tmp_path, *options):
    env = server_env(client_env, tmp_path / "home")
    root = tmp_path / "home" / "notebooks"
    root.mkdir(parents=True)
    # --allow-root: CI runs as root in a container; the server listens on 127.0.0.1 only, behind a token.
    command = [str(venv_bin / "jupyter"), "server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", *options]
    return running_server(command, env, tmp_path / "server.log")


@pytest.fixture
def runtime_dir(client_env):
    path = pathlib.Path(client_env["JUPYTER_RUNTIME_DIR"])
    with hosts_stopped(path):
        yield path


@pytest.fixture
def server(client_env, venv_bin, tmp_path, runtime_dir):
    with jupyter_server(client_env, venv_bin, tmp_path) as running:
        yield running


@pytest.mark.parametrize("kernel_name", MODES)
def test_two_kernels_are_two_fronts_of_one_host(kernel_name, server, runtime_dir):
    mode = MODES[kernel_name]
    a_id, b_id = start_kernel(server, kernel_name), start_kernel(server, kernel_name)
    a, b = Recorded(server, a_id), Recorded(server, b_id)
    try:
        # One host process serves both kernel ids, each a front of its own.
        pid, _ = check_one_host(runtime_dir, mode, a, b)
        assert front_ids(runtime_dir, mode) == {a_id, b_id}

        # Separate namespaces.
        assert a.run("x = 'a'")[0]["status"] == "ok"
        assert b.run("x = 'b'")[0]["status"] == "ok"
        assert value(a, "x") == "'a'" and value(b, "x") == "'b'"

        # Separate status: the server sees a busy while b is idle (b's last_activity untouched by a's cell), and
        # b answers while a's cell runs.
        b_activity = activity_of(server, b_id)
        slow = a.execute(WAIT_FOR_GO.format(name="a"))
        a.started(slow)
        wait_until("a busy", lambda: state_of(server, a_id) == "busy")
        assert state_of(server, b_id) == "idle"
        assert activity_of(server, b_id) == b_activity
        reply, iopub = b.run("print('b answers with', x)")
        assert reply["status"] == "ok" and stdout_of(iopub) == "b answers with b\n"
        assert state_of(server, a_id) == "busy"
        assert b.run("pool.put('go', 1)")[0]["status"] == "ok"
        reply, iopub = a.collect(slow)
        assert reply["status"] == "ok" and stdout_of(iopub) == "a went on with a\n"
        # Identity: the client's header.username is empty (as JupyterLab's); the front's user is the server's (its OS
        # user: jupyter_server sets no KERNEL_USERNAME), so the pool entry is owned by that user, not 'anonymous'.
        assert value(a, "[e['owner'] for e in pool.list() if e['name'] == 'go']") == repr([getpass.getuser()])
        # Round trips on both after a's cell: anything a's front published would have reached b's socket by now.
        b.run("pass")
        a.run("pool.remove('go')")
        assert not a.parents_seen() & b.sent, "b's messages reached a's connection"
        assert not b.parents_seen() & a.sent, "a's messages reached b's connection"

        # Interrupt through REST: a's running cell only; b's running cell goes on until told.
        interrupted, waiting = a.execute(WAIT_FOR_GO.format(name="a")), b.execute(WAIT_FOR_GO.format(name="b"))
        a.started(interrupted)
        b.started(waiting)
        server.request("POST", f"/api/kernels/{a_id}/interrupt")
        reply, _ = a.collect(interrupted)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
        assert state_of(server, b_id) == "busy"
        assert a.run("pool.put('go', 2)")[0]["status"] == "ok"
        reply, iopub = b.collect(waiting)
        assert reply["status"] == "ok" and stdout_of(iopub) == "b went on with b\n", reply

        # Restart through REST: a's namespace starts afresh in the same host; b's and the pool stay.
        server.request("POST", f"/api/kernels/{a_id}/restart")
        a.wait_ready()
        reply, iopub = a.run("'x' in dir()")
        assert reply["execution_count"] == 1 and result_of(iopub) == [{"text/plain": "False"}], reply
        assert b.run("pass")[0]["execution_count"] > 1  # b's count goes on
        assert check_one_host(runtime_dir, mode, a)[0] == pid
        assert value(a, "pool.get('go')") == "2"
        assert value(b, "x") == "'b'"

        # A page reload: a new connection with a new header.session finds b's namespace.
        reloaded = Recorded(server, b_id)
        try:
            assert reloaded.session != b.session
            assert value(reloaded, "x") == "'b'"
        finally:
            reloaded.close()

        # Shutdown through REST: a's front is closed and its context freed; b goes on.
        a.close()
        server.request("DELETE", f"/api/kernels/{a_id}")
        assert kernel_ids(server) == {b_id}
        wait_until("a's front closed", lambda: front_ids(runtime_dir, mode) == {b_id})
        assert value(b, "x") == "'b'"
        assert host_pid(runtime_dir, mode) == pid
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("kernel_name", MODES)
def test_culling_one_idle_kernel_keeps_the_other(kernel_name, client_env, venv_bin, tmp_path, runtime_dir):
    # Kernels with a connection are not culled (cull_connected is off): b keeps one open and stays busy now and
    # then; a is left idle and unconnected.
    mode = MODES[kernel_name]
    options = ["--MappingKernelManager.cull_idle_timeout=3", "--MappingKernelManager.cull_interval=1"]
    with jupyter_server(client_env, venv_bin, tmp_path, *options) as server:
        a_id, b_id = start_kernel(server, kernel_name), start_kernel(server, kernel_name)
        a, b = Channels(server, a_id), Channels(server, b_id)
        try:
            assert a.run("x = 'a'")[0]["status"] == "ok"
            pid, (a_pid, b_pid) = check_one_host(runtime_dir, mode, a, b)
            a.close()
            assert b.run("x = 'b'\ncells = 0")[0]["status"] == "ok"
            assert front_ids(runtime_dir, mode) == {a_id, b_id}

            def b_works():
                reply, _ = b.run("cells += 1")
                assert reply["status"] == "ok", reply
                time.sleep(0.5)

            wait_until("a culled", lambda: kernel_ids(server) == {b_id}, step=b_works)
            # Its context is freed: the host has no front for it, and an isolated kernel's worker has ended.
            wait_until("a's front closed", lambda: front_ids(runtime_dir, mode) == {b_id})
            if mode == "isolated":
                wait_until("a's worker ended", lambda: not psutil.pid_exists(a_pid) or
                           psutil.Process(a_pid).status() == psutil.STATUS_ZOMBIE)
            assert host_pid(runtime_dir, mode) == pid and check_one_host(runtime_dir, mode, b)[1] == [b_pid]
            assert value(b, "x") == "'b'"
            assert int(value(b, "cells")) > 0
            assert b_id in kernel_ids(server)
        finally:
            a.close()
            b.close()
        with pytest.raises(urllib.error.HTTPError):
            server.request("GET", f"/api/kernels/{a_id}")
    # The server's own shutdown (SIGTERM) shuts b down too: the host stays (until its linger time), with no front.
    assert host_pid(runtime_dir, mode) == pid and front_ids(runtime_dir, mode) == set()


def test_a_killed_host_is_replaced_by_the_servers_restart(server, runtime_dir):
    # kill -9 of the host: every front's poll reports the kernel dead, jupyter_server's restarter restarts each
    # kernel, and the first relaunch starts a new host that serves both again.
    a_id, b_id = start_kernel(server, "atrium-host"), start_kernel(server, "atrium-host")
    a, b = Channels(server, a_id), Channels(server, b_id)
    try:
        assert a.run("x = 'a'")[0]["status"] == "ok"
        old_pid, _ = check_one_host(runtime_dir, "scoped", a, b)
        # %contexts in either front lists both notes, named by their kernel ids.
        contexts = stdout_of(b.run("%contexts")[1])
        assert f"note:{a_id}" in contexts and f"note:{b_id}" in contexts, contexts
    finally:
        a.close()
        b.close()
    host = psutil.Process(old_pid)
    host.kill()
    host.wait(timeout=30)

    def new_host():
        try:
            return host_pid(runtime_dir) != old_pid and front_ids(runtime_dir) == {a_id, b_id}
        except HostError:  # no host answers yet
            return False

    wait_until("both kernels restarted on a new host", new_host)
    assert kernel_ids(server) == {a_id, b_id}
    a, b = Channels(server, a_id), Channels(server, b_id)
    try:
        a.wait_ready()
        b.wait_ready()
        new_pid, _ = check_one_host(runtime_dir, "scoped", a, b)
        assert new_pid != old_pid
        assert value(a, "'x' in dir()") == "False"
    finally:
        a.close()
        b.close()
