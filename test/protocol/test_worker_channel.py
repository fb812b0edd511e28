"""The worker's side of its channel: atrium-worker, started here the way the kernel starts it, runs only what is
signed with its key, in order, once."""

import hashlib
import hmac
import json
import os
import secrets
import subprocess

import pytest
import zmq
from protocol_helpers import BUILD_DIR

WORKER = BUILD_DIR / "bin" / "atrium-worker"


class FakeKernel:
    """A ROUTER the worker connects to, speaking the worker channel's framing with the worker's key."""

    def __init__(self, key):
        self.key = key.encode()
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.peer = None
        self.sent = 0

    def sign(self, header, blob=b""):
        return hmac.new(self.key, header + blob, hashlib.sha256).hexdigest().encode()

    def receive(self, timeout_ms=10000):
        if not self.socket.poll(timeout_ms):
            return None
        peer, signature, header, blob = self.socket.recv_multipart()
        assert hmac.compare_digest(signature, self.sign(header, blob)), "the worker must sign with its key"
        self.peer = peer
        return json.loads(header)

    def frames(self, message):
        self.sent += 1
        header = json.dumps({**message, "n": self.sent}).encode()
        return [self.peer, self.sign(header), header, b""]

    def close(self):
        self.socket.close(linger=0)
        self.context.term()


@pytest.fixture
def worker():
    key = secrets.token_hex(32)
    kernel = FakeKernel(key)
    process = subprocess.Popen([str(WORKER), "--connect", kernel.endpoint, "--kernel-pid", str(os.getpid())],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    process.stdin.write((key + "\n").encode())
    process.stdin.close()
    try:
        hello = kernel.receive(timeout_ms=30000)
        assert hello["type"] == "hello" and hello["pid"] == process.pid
        yield kernel, process
    finally:
        process.kill()
        process.wait()
        kernel.close()


def execute(code, id_):
    return {"type": "execute", "id": id_, "header": {"msg_id": f"m{id_}", "username": "t"},
            "content": {"code": code, "silent": False, "store_history": True}}


def replies(kernel, timeout_ms=1500):
    """The ids of every reply that arrives before the channel goes quiet."""
    ids = []
    while (message := kernel.receive(timeout_ms)) is not None:
        if message["type"] == "reply":
            ids.append(message["id"])
    return ids


def test_only_signed_fresh_messages_run(worker, tmp_path):
    kernel, process = worker
    marker = tmp_path / "ran"
    append = f"open({str(marker)!r}, 'a').write('{{}}\\n')"

    unsigned = kernel.frames(execute(append.format("unsigned"), 1))
    unsigned[1] = b""
    kernel.socket.send_multipart(unsigned)
    forged = kernel.frames(execute(append.format("forged"), 2))
    forged[1] = hmac.new(b"not-the-key", forged[2], hashlib.sha256).hexdigest().encode()
    kernel.socket.send_multipart(forged)
    kernel.socket.send_multipart([kernel.peer, b"garbage"])
    genuine = kernel.frames(execute(append.format("genuine"), 3))
    kernel.socket.send_multipart(genuine)
    kernel.socket.send_multipart(genuine)  # a replay of a genuine message

    assert replies(kernel) == [3]
    assert marker.read_text() == "genuine\n"
    assert process.poll() is None  # refusing is not dying
    process.kill()
    log = process.stderr.read().decode()
    assert log.count("refused") == 4, log
    assert "replayed" in log and "signature" in log


def test_worker_exits_when_its_kernel_is_gone():
    key = secrets.token_hex(32)
    kernel = FakeKernel(key)
    # The kernel pid named on the command line is not our pid: the worker finds itself orphaned and leaves.
    process = subprocess.Popen([str(WORKER), "--connect", kernel.endpoint, "--kernel-pid", "1"],
                               stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    process.stdin.write((key + "\n").encode())
    process.stdin.close()
    try:
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        kernel.close()


def test_worker_refuses_to_start_without_a_key():
    process = subprocess.run([str(WORKER), "--connect", "tcp://127.0.0.1:9", "--kernel-pid", str(os.getpid())],
                             input=b"", capture_output=True, timeout=30)
    assert process.returncode == 2 and b"[worker.no_key]" in process.stderr
    process = subprocess.run([str(WORKER), "--bogus"], capture_output=True, timeout=30)
    assert process.returncode == 2 and b"usage" in process.stderr
