"""The worker's side of its channels: atrium-worker, started here the way the kernel starts it, runs only what is
signed with its key for that channel, in order, once."""

import json
import os
import secrets
import socket
import subprocess
import time

import pytest
import zmq
from protocol_helpers import BUILD_DIR
from worker_frames import new_salt, pack, sign, signed_number, unpack

WORKER = BUILD_DIR / "bin" / "atrium-worker"


class FakeChannel:
    """The kernel's end of one worker channel, speaking its framing with the worker's key: `link` (a ROUTER the
    worker's link thread connects to) or `cells` (a unix SOCK_SEQPACKET listener at an abstract name,
    common/cell_socket.hpp, which the worker's main thread connects to: cells arrive and replies leave there)."""

    def __init__(self, key, name, context):
        self.key = key.encode()
        self.name = name.encode()
        self.peer = None  # the link's routing id of the worker; the cells channel's accepted connection
        self.sent = 0
        self.salt = new_salt()
        if name == "link":
            self.socket = context.socket(zmq.ROUTER)
            self.socket.bind("tcp://127.0.0.1:*")
            self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        else:
            self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            address = f"atrium-test-{os.getpid()}-{secrets.token_hex(4)}"
            self.socket.bind("\0" + address)
            self.socket.listen()
            self.endpoint = "@" + address

    def sign(self, header, blob=b"", key=None):
        """The signature of the next message this end sends (`frame` numbers it)."""
        return sign(key or self.key, self.name, self.salt, self.sent, header, blob)

    def receive_frame(self, timeout_ms):
        if isinstance(self.socket, zmq.Socket):
            deadline = time.monotonic() + timeout_ms / 1000
            while True:
                if not self.socket.poll(max(0, int((deadline - time.monotonic()) * 1000))):
                    return None
                parts = self.socket.recv_multipart()  # one frame per message, after the routing id
                if len(parts) == 2:
                    break
                # A stranger: a client of a kernel stopped earlier that ZeroMQ reconnected to this reused port
                # (seen once with Jupyter messages here). The kernel's own channel logs and drops such peers too.
            self.peer, frame = parts
            return frame
        # Timeouts, not select(): a long pytest session may hold descriptors past select's limit (1024).
        try:
            if self.peer is None:
                self.socket.settimeout(timeout_ms / 1000)
                self.peer, _ = self.socket.accept()
            self.peer.settimeout(timeout_ms / 1000)
            return self.peer.recv(1 << 20) or None
        except TimeoutError:
            return None

    def receive(self, timeout_ms=10000):
        frame = self.receive_frame(timeout_ms)
        if frame is None:
            return None
        signature, header, blob = unpack(frame)
        number = signed_number(self.key, self.name, signature, header, blob)
        assert number is not None, "the worker must sign with its key"
        return json.loads(header)

    def frame(self, message, sign=None):
        """The packed frame; `sign(header)` stands in for the genuine signature."""
        self.sent += 1
        header = json.dumps(message).encode()
        return pack((sign or self.sign)(header), header, b"")

    def send(self, frame, *more):
        """One message; on the link `more` frames may follow it (a forged multipart message)."""
        if isinstance(self.socket, zmq.Socket):
            self.socket.send_multipart([self.peer, frame, *more])
        else:
            self.peer.send(frame)

    def close(self):
        if isinstance(self.socket, zmq.Socket):
            self.socket.close(linger=0)
        else:
            if self.peer is not None:
                self.peer.close()
            self.socket.close()


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
        self.link.close()
        self.cells.close()
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

    lane.send(lane.frame(execute(append.format("unsigned"), 1), sign=lambda header: b""))
    lane.send(lane.frame(execute(append.format("forged"), 2), sign=lambda header: lane.sign(header, key=b"not-the-key")))
    lane.send(b"garbage")
    # Signed with the right key for the other channel: a message captured there cannot be replayed here.
    lane.send(lane.frame(execute(append.format("crossed"), 4),
                         sign=lambda header: sign(lane.key, other.name, lane.salt, lane.sent, header)))
    genuine = lane.frame(execute(append.format("genuine"), 3))
    lane.send(genuine)
    lane.send(genuine)  # a replay of a genuine message
    # Signed with the right key, channel and a fresh number, by another sender (another salt): the worker's end
    # of a channel has one peer, the first whose message it verified.
    lane.send(lane.frame(execute(append.format("stranger"), 7),
                         sign=lambda header: sign(lane.key, lane.name, new_salt(), lane.sent, header)))
    # Genuinely signed, but with something after it (a frame too many on the link, a byte on the cells channel,
    # where a datagram is a frame), or cut one byte short.
    extra = lane.frame(execute(append.format("extra"), 5))
    if channel == "link":
        lane.send(extra, b"")
    else:
        lane.send(extra + b"x")
    lane.send(lane.frame(execute(append.format("cut"), 6))[:-1])

    assert replies(kernel) == [3]
    assert marker.read_text() == "genuine\n"
    assert process.poll() is None  # refusing is not dying
    process.kill()
    log = process.stderr.read().decode()
    assert log.count("refused") == 8, log
    assert "replayed" in log and log.count("signature") == 4
    assert ("expected 1 frame, got 2" if channel == "link" else "1 stray bytes after the blob") in log, log
    assert log.count("truncated") == 2, log


def test_output_is_numbered_before_the_reply(worker):
    """A reply names the last output message queued before it, so the kernel can publish the cell's output
    before its idle status although the two travel on different channels."""
    kernel, _ = worker
    kernel.cells.send(kernel.cells.frame(execute("print('a'); print('b', flush=True)", 1)))
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
