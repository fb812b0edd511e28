"""Starting `atrium --host` and speaking its control protocol (docs/host.md), for the host tests."""

import json
import os
import pathlib
import signal
import subprocess
import time

from atrium_host.control import HostError, request
from jupyter_client import BlockingKernelClient

from protocol_helpers import BUILD_DIR, TIMEOUT

ATRIUM = BUILD_DIR / "bin" / "atrium"


def ask(path, message, timeout=TIMEOUT):
    """One request line, one answer line (the provisioner's own client)."""
    return request(str(path), message, timeout)


def read_line(s):
    """The answer line on a raw connection (tests that send what no client would)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("the host closed the connection: %r" % data)
        data += chunk
    return data


class Host:
    """A host process of the build tree's atrium, its log and control socket in `directory`."""

    def __init__(self, directory, *flags, linger="never"):
        self.directory = pathlib.Path(directory)
        self.socket = self.directory / "host.sock"
        self.log = self.directory / "host.log"
        # The environment the build tree's kernelspecs give the kernel (the project's Python environment).
        spec = json.loads((BUILD_DIR / "share" / "jupyter" / "kernels" / "atrium" / "kernel.json").read_text())
        env = dict(os.environ, **spec["env"])
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(ATRIUM), "--host", "--host-socket=%s" % self.socket, "--host-linger=%s" % linger, *flags],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.pid = self.ask({"op": "ping"})["pid"]
                return
            except (OSError, HostError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the host did not start: " + self.log.read_text())
                time.sleep(0.05)

    def ask(self, request):
        return ask(self.socket, request)

    def open(self, kernel_id, user="tester", **fields):
        answer = self.ask({"op": "open", "kernel_id": kernel_id, "user": user, **fields})
        assert answer["ok"], answer
        return answer

    def client(self, kernel_id, user="tester", **fields):
        """A jupyter_client client of a new front."""
        info = self.open(kernel_id, user, **fields)["connection"]
        kc = BlockingKernelClient()
        kc.load_connection_info(info)
        kc.start_channels()
        kc.wait_for_ready(timeout=TIMEOUT)
        return kc

    def stop(self):
        if self.process.poll() is None:
            try:
                self.ask({"op": "stop"})
                self.process.wait(TIMEOUT)
            except (OSError, HostError, subprocess.TimeoutExpired):
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(TIMEOUT)
