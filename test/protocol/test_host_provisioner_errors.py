"""Host mode through jupyter_client, bad input (docs/host.md, The provisioner): a host that refuses, cannot start,
never answers, answers nonsense or is gone gives an exception with an [area.reason] id, never a hang."""

import os
import re
import signal

import pytest
from atrium_host import HostError, HostRefused
from host_helpers import (ATRIUM, FakeControlSocket, gone, host_kernels, host_request, kill_host, runtime_dir,
                          socket_path, value, wait_until, write_kernelspec)
from jupyter_client.manager import KernelManager


@pytest.fixture
def runtime(monkeypatch):
    with runtime_dir(monkeypatch) as directory:
        yield directory


def test_opening_a_kernel_id_that_is_open_is_refused_clearly(runtime, tmp_path):
    with host_kernels(1) as [(km1, kc1)]:
        km2 = KernelManager(kernel_name="atrium-host", connection_file=str(tmp_path / "second.json"))
        with pytest.raises(HostRefused, match=re.escape("[host.front_exists]")):
            km2.start_kernel(kernel_id=km1.kernel_id)
        assert value(kc1, "1+1") == "2"


def test_a_kernel_id_the_host_refuses_is_reported_with_its_error(runtime):
    km = KernelManager(kernel_name="atrium-host")
    with pytest.raises(HostRefused, match=r"^\[host\.[a-z_]+\] .*refused 'open'"):
        km.start_kernel(kernel_id="two words")
    km.cleanup_resources()


def test_a_host_that_cannot_start_is_reported_with_its_log(runtime, tmp_path, monkeypatch):
    write_kernelspec(tmp_path, "bad-host", [ATRIUM, "--host", "--mode=scoped", "--no-such-flag"])
    monkeypatch.setenv("JUPYTER_PATH", f"{tmp_path}{os.pathsep}{os.environ['JUPYTER_PATH']}")
    km = KernelManager(kernel_name="bad-host")
    with pytest.raises(HostError, match=re.escape("[provisioner.host_exited]")) as error:
        km.start_kernel()
    assert "--no-such-flag" in str(error.value), "the error quotes the host's log"
    km.cleanup_resources()


def test_a_host_that_never_answers_is_given_up_on(runtime, tmp_path, monkeypatch):
    write_kernelspec(tmp_path, "silent-host", ["/usr/bin/python3", "-c", "import time; time.sleep(120)",
                                               "--mode=scoped"], config={"start_timeout": 2})
    monkeypatch.setenv("JUPYTER_PATH", f"{tmp_path}{os.pathsep}{os.environ['JUPYTER_PATH']}")
    km = KernelManager(kernel_name="silent-host")
    with pytest.raises(HostError, match=re.escape("[provisioner.host_start_timeout]")) as error:
        km.start_kernel()
    km.cleanup_resources()
    pid = int(re.search(r"\(pid (\d+)\)", str(error.value)).group(1))
    os.kill(pid, signal.SIGKILL)  # the provisioner leaves it running (it never kills a host)
    wait_until(lambda: gone(pid), "the silent host gone")


@pytest.mark.parametrize("answer, reason", [
    (b'{"ok": false, "error": "[host.test_refusal] not today"}\n', "[host.test_refusal] not today"),
    (b"hello\n", "[provisioner.bad_answer]"),
    (b'{"ok": true, "pid": 1, "mode": "isolated", "fronts": 0}\n', "[provisioner.wrong_mode]"),
    (b'{"ok": true, "pid": 1, "mode": "scoped", "scope": "user", "fronts": 0}\n', "[provisioner.wrong_mode]"),
    (b'{"ok": true, "pid": 1, "fronts": 0}\n', "[provisioner.wrong_mode]"),
    (None, "[provisioner.host_timeout]"),
])
def test_a_control_socket_answering_nonsense_gives_a_clear_error(runtime, answer, reason):
    fake = FakeControlSocket(socket_path(runtime), answer)
    try:
        km = KernelManager(kernel_name="atrium-host")
        with pytest.raises(HostError, match=re.escape(reason)):
            km.start_kernel()
        km.cleanup_resources()
    finally:
        fake.close()


def test_an_unreachable_host_makes_requests_fail_clearly_not_hang(runtime):
    with host_kernels(1) as [(km, kc)]:
        kill_host(runtime)
        assert not km.is_alive()
        km.signal_kernel(signal.SIGINT)  # nothing to interrupt: no error, no wait
        with pytest.raises(HostError, match=re.escape("[provisioner.host_unreachable]")):
            host_request(runtime, {"op": "ping"})
