"""Helpers for the host-mode tests (docs/host.md): kernels on the atrium-host kernelspecs, started through the
atrium-host provisioner by jupyter_client, each test with a runtime dir (so hosts) of its own."""

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import tempfile
import threading
import time

import psutil
from atrium_host.control import call, ping
from jupyter_client.manager import KernelManager
from protocol_helpers import BUILD_DIR, TIMEOUT
from session_helpers import run

KERNELSPECS = {"scoped": "atrium-host", "isolated": "atrium-host-isolated"}
ATRIUM = str(BUILD_DIR / "bin" / "atrium")


def socket_path(runtime_dir, mode="scoped"):
    return os.path.join(runtime_dir, f"atrium-host-{mode}.sock")


def host_pid(runtime_dir, mode="scoped"):
    answer = ping(socket_path(runtime_dir, mode), TIMEOUT)
    assert answer is not None, f"no host answers in {runtime_dir} ({mode})"
    return answer["pid"]


def host_request(runtime_dir, message, mode="scoped"):
    return call(socket_path(runtime_dir, mode), message, TIMEOUT)


def front_ids(runtime_dir, mode="scoped"):
    return sorted(front["kernel_id"] for front in host_request(runtime_dir, {"op": "list"}, mode)["fronts"])


def wait_until(condition, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def start_kernel(mode="scoped", kernel_name=None, **launch):
    """(km, kc) of a kernel on a host kernelspec; launch goes to start_kernel (env=, kernel_id=)."""
    km = KernelManager(kernel_name=kernel_name or KERNELSPECS[mode])
    km.start_kernel(**launch)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


def stop_kernel(km, kc):
    kc.stop_channels()
    if km.has_kernel:
        km.shutdown_kernel(now=True)


@contextlib.contextmanager
def host_kernels(count, mode="scoped", kernel_name=None, **launch):
    """`count` kernels of one host kernelspec, always shut down (their fronts closed; the host stays)."""
    kernels = []
    try:
        for _ in range(count):
            kernels.append(start_kernel(mode, kernel_name, **launch))
        yield kernels
    finally:
        for km, kc in kernels:
            stop_kernel(km, kc)


def value(kc, expression):
    """The text/plain result of expression, which must succeed."""
    reply, msgs = run(kc, expression)
    assert reply["status"] == "ok", (expression, reply)
    results = [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"]
    assert len(results) == 1, (expression, msgs)
    return results[0]


def error_name(kc, code):
    reply, _ = run(kc, code)
    assert reply["status"] == "error", (code, reply)
    return reply["ename"]


def processes_of(runtime_dir):
    """Live processes whose command line names runtime_dir (the hosts started there), with their descendants."""
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(runtime_dir in arg for arg in proc.info["cmdline"] or []):
                found.add(proc)
                found.update(proc.children(recursive=True))
        except psutil.Error:
            pass
    return {proc for proc in found if not gone(proc.pid)}


def stop_hosts(runtime_dir):
    """Stops every host answering in runtime_dir (`stop`), then checks that no process of theirs is left."""
    before = processes_of(runtime_dir)
    for sock in pathlib.Path(runtime_dir).glob("atrium-host-*.sock"):
        try:
            if ping(str(sock), TIMEOUT) is not None:
                call(str(sock), {"op": "stop"}, TIMEOUT)
        except Exception as error:  # a broken host must not keep the others from being stopped
            print(f"stopping the host on {sock}: {error}")
    left = set()
    deadline = time.monotonic() + TIMEOUT
    for proc in before:
        while not gone(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not gone(proc.pid):
            left.add(proc)
    for proc in left:  # so one failing test does not leave processes behind for the rest of the suite
        with contextlib.suppress(psutil.Error):
            proc.kill()
    assert not left, f"left running after stop: {[(p.pid, p.cmdline()) for p in left]}"


@contextlib.contextmanager
def runtime_dir(monkeypatch):
    """A runtime dir of its own (connection files, control sockets, host logs); its hosts are stopped at the end."""
    # Short and under /tmp: the control socket's path must fit a unix socket address (107 bytes).
    directory = tempfile.mkdtemp(prefix="ah-")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", directory)
    try:
        yield directory
    finally:
        try:
            stop_hosts(directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def kill_host(runtime_dir, mode="scoped"):
    """SIGKILL of the host; returns its pid once it is gone."""
    pid = host_pid(runtime_dir, mode)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: gone(pid), f"host {pid} gone after SIGKILL")
    return pid


def write_kernelspec(directory, name, argv, config=None):
    """A host kernelspec of the test's own (under directory/kernels), e.g. one whose host cannot start."""
    import json

    spec = {"argv": argv, "display_name": name, "language": "python", "interrupt_mode": "message",
            "metadata": {"kernel_provisioner": {"provisioner_name": "atrium-host", "config": config or {}}}}
    path = pathlib.Path(directory) / "kernels" / name
    path.mkdir(parents=True)
    (path / "kernel.json").write_text(json.dumps(spec))


class FakeControlSocket:
    """A control socket whose "host" answers every request with `answer` and hangs up (None: never answers)."""

    def __init__(self, path, answer):
        self.answer = answer
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)
        self.connections = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                if self.answer is not None:
                    conn.sendall(self.answer)
                    conn.close()

    def close(self):
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        for conn in self.connections:
            conn.close()
        self.thread.join(timeout=TIMEOUT)
