"""The worker's side of its channels: atrium-worker, started here the way the kernel starts it, runs only what is
signed with its key for that channel, in order, once."""

import hashlib
import hmac
import json
import os
import secrets
import struct
import subprocess
import time

import pytest
import zmq
from protocol_helpers import BUILD_DIR

WORKER = BUILD_DIR / "bin" / "atrium-worker"


def pack(signature, header, blob):
    """One message, one frame (common/worker_wire.hpp): big-endian u32 signature length, signature, u64
    header length, header, u64 blob length, blob."""
    return (struct.pack(">I", len(signature)) + signature + struct.pack(">Q", len(header)) + header +
            struct.pack(">Q", len(blob)) + blob)


def unpack(frame):
    (length,) = struct.unpack_from(">I", frame)
    signature, at = frame[4:4 + length], 4 + length
    (length,) = struct.unpack_from(">Q", frame, at)
    header, at = frame[at + 8:at + 8 + length], at + 8 + length
    (length,) = struct.unpack_from(">Q", frame, at)
    blob, at = frame[at + 8:at + 8 + length], at + 8 + length
    assert at == len(frame), "nothing may follow the blob"
    return signature, header, blob


class FakeChannel:
    """A ROUTER the worker connects to, speaking one worker channel's framing with the worker's key: `link` (the
    worker's link thread) or `cells` (its main thread, where cells arrive and replies leave)."""

    def __init__(self, key, name, context):
        self.key = key.encode()
        self.name = name.encode()
        self.socket = context.socket(zmq.ROUTER)
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.peer = None
        self.sent = 0

    def sign(self, header, blob=b"", key=None):
        return hmac.new(key or self.key, self.name + header + blob, hashlib.sha256).hexdigest().encode()

    def receive(self, timeout_ms=10000):
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            if not self.socket.poll(max(0, int((deadline - time.monotonic()) * 1000))):
                return None
            parts = self.socket.recv_multipart()  # one frame per message, after the routing id
            if len(parts) == 2:
                break
            # A stranger: a client of a kernel stopped earlier that ZeroMQ reconnected to this reused port (seen
            # once with Jupyter messages here). The kernel's own channel logs and drops such peers too.
        peer, frame = parts
        signature, header, blob = unpack(frame)
        assert hmac.compare_digest(signature, self.sign(header, blob)), "the worker must sign with its key"
        self.peer = peer
        return json.loads(header)

    def frames(self, message, sign=None):
        """[routing id, packed frame]; `sign(header)` stands in for the genuine signature."""
        self.sent += 1
        header = json.dumps({**message, "n": self.sent}).encode()
        return [self.peer, pack((sign or self.sign)(header), header, b"")]


class FakeKernel:
    """The kernel's two ends of one worker's channels."""

    def __init__(self, key):
        self.context = zmq.Context()
        self.link = FakeChannel(key, "link", self.context)
        self.cells = FakeChannel(key, "cells", self.context)

    def launch(self, key, kernel_pid, **popen):
        process = subprocess.Popen([str(WORKER), "--connect", self.link.endpoint, "--cells", self.cells.endpoint,
                                    "--lane", "w1", "--kernel-pid", str(kernel_pid)], stdin=subprocess.PIPE, **popen)
        process.stdin.write((key + "\n").encode())
        process.stdin.close()
        return process

    def close(self):
        self.link.socket.close(linger=0)
        self.cells.socket.close(linger=0)
        self.context.term()


@pytest.fixture
def worker():
    key = secrets.token_hex(32)
    kernel = FakeKernel(key)
    process = kernel.launch(key, os.getpid(), stderr=subprocess.PIPE)
    try:
        for channel in (kernel.link, kernel.cells):
            hello = channel.receive(timeout_ms=30000)
            assert hello["type"] == "hello" and hello["pid"] == process.pid
        assert hello["lane"] == "w1"  # on the cells channel: the name the kernel gave it, signed
        yield kernel, process
    finally:
        process.kill()
        process.wait()
        kernel.close()


def execute(code, id_, cell=1):
    """An execute as the kernel sends it: `cell` numbers the cells sent to this worker (it runs them in order)."""
    return {"type": "execute", "id": id_, "cell": cell, "header": {"msg_id": f"m{id_}", "username": "t"},
            "content": {"code": code, "silent": False, "store_history": True}}


def replies(kernel, timeout_ms=1500):
    """The ids of every cell reply (they come on the cells channel) before it goes quiet."""
    ids = []
    while (message := kernel.cells.receive(timeout_ms)) is not None:
        if message["type"] == "reply":
            ids.append(message["id"])
    return ids


@pytest.mark.parametrize("channel", ["link", "cells"])
def test_only_signed_fresh_messages_run(worker, tmp_path, channel):
    kernel, process = worker
    lane = getattr(kernel, channel)
    other = kernel.cells if channel == "link" else kernel.link
    marker = tmp_path / "ran"
    append = f"open({str(marker)!r}, 'a').write('{{}}\\n')"

    lane.socket.send_multipart(lane.frames(execute(append.format("unsigned"), 1), sign=lambda header: b""))
    forged = lane.frames(execute(append.format("forged"), 2), sign=lambda header: lane.sign(header, key=b"not-the-key"))
    lane.socket.send_multipart(forged)
    lane.socket.send_multipart([lane.peer, b"garbage"])
    # Signed with the right key for the other channel: a message captured there cannot be replayed here.
    lane.socket.send_multipart(lane.frames(execute(append.format("crossed"), 4), sign=other.sign))
    genuine = lane.frames(execute(append.format("genuine"), 3))
    lane.socket.send_multipart(genuine)
    lane.socket.send_multipart(genuine)  # a replay of a genuine message
    # Genuinely signed, but with a frame too many, or cut one byte short.
    lane.socket.send_multipart(lane.frames(execute(append.format("extra"), 5)) + [b""])
    cut = lane.frames(execute(append.format("cut"), 6))
    lane.socket.send_multipart([cut[0], cut[1][:-1]])

    assert replies(kernel) == [3]
    assert marker.read_text() == "genuine\n"
    assert process.poll() is None  # refusing is not dying
    process.kill()
    log = process.stderr.read().decode()
    assert log.count("refused") == 7, log
    assert "replayed" in log and log.count("signature") == 3
    assert "expected 1 frame, got 2" in log and log.count("truncated") == 2, log


def test_output_is_numbered_before_the_reply(worker):
    """A reply names the last output message queued before it, so the kernel can publish the cell's output
    before its idle status although the two travel on different channels."""
    kernel, _ = worker
    kernel.cells.socket.send_multipart(kernel.cells.frames(execute("print('a'); print('b', flush=True)", 1)))
    reply = kernel.cells.receive()
    assert reply["type"] == "reply" and reply["content"]["status"] == "ok"
    published = []
    while len(published) < reply["after"]:
        message = kernel.link.receive()
        assert message is not None, published
        if message["type"] == "publish":
            published.append(message["q"])
            assert message["content"]["name"] == "stdout"
    assert published[-1] == reply["after"]


def test_worker_exits_when_its_kernel_is_gone():
    key = secrets.token_hex(32)
    kernel = FakeKernel(key)
    # The kernel pid named on the command line is not our pid: the worker finds itself orphaned and leaves.
    process = kernel.launch(key, 1, stderr=subprocess.DEVNULL)
    try:
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        kernel.close()


def test_worker_refuses_to_start_without_a_key():
    process = subprocess.run([str(WORKER), "--connect", "tcp://127.0.0.1:9", "--cells", "tcp://127.0.0.1:9",
                              "--lane", "w1", "--kernel-pid", str(os.getpid())],
                             input=b"", capture_output=True, timeout=30)
    assert process.returncode == 2 and b"[worker.no_key]" in process.stderr
    process = subprocess.run([str(WORKER), "--bogus"], capture_output=True, timeout=30)
    assert process.returncode == 2 and b"usage" in process.stderr
