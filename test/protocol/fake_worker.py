"""A stand-in atrium-worker the real kernel starts (ATRIUM_WORKER_EXECUTABLE, with --preload=none): it speaks
the worker's two channels (test_worker_channel.py's framing) but runs each cell's code as Python HERE, with `w`
(this worker) and `cell` (the execute message) in scope, so a test can make a worker send what a real one never
would: malformed or misplaced messages. A cell that does not reply itself is answered ok after it ran."""

import json
import os
import socket
import sys

import zmq
from worker_frames import new_salt, seal, unpack


class Channel:
    """One of the worker's channels, one frame a message: the link is a ZeroMQ DEALER, the cells channel a unix
    SOCK_SEQPACKET connection to the abstract name `@...` (common/cell_socket.hpp)."""

    def __init__(self, transport, key, name):
        self.socket, self.key, self.name, self.sent, self.salt = transport, key, name, 0, new_salt()

    def send(self, header, raw=None):
        """`raw`: the header text as is (a malformed one)."""
        self.sent += 1
        text = raw if raw is not None else json.dumps(header).encode()
        self.socket.send(seal(self.key, self.name, self.salt, self.sent, text))

    def recv(self):
        if isinstance(self.socket, zmq.Socket):
            return self.socket.recv()
        frame = self.socket.recv(1 << 20)
        if not frame:  # the kernel hung up on the cells channel: the link goes on (a real worker's does too)
            self.socket.close()
        return frame or None


def link_socket(context, endpoint):
    dealer = context.socket(zmq.DEALER)
    dealer.linger = 1000
    dealer.connect(endpoint)
    return dealer


def cells_socket(endpoint):
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.connect("\0" + endpoint[1:])
    return connection


class FakeWorker:
    def __init__(self, args):
        key = sys.stdin.readline().strip().encode()
        context = zmq.Context()
        self.link = Channel(link_socket(context, args["--connect"]), key, b"link")
        self.cells = Channel(cells_socket(args["--cells"]), key, b"cells")
        self.link.send({"type": "hello", "pid": os.getpid()})
        self.cells.send({"type": "hello", "lane": args["--lane"], "pid": os.getpid()})
        self.waiting = {}  # cell number -> execute
        self.done = 0
        self.queued = 0  # `q` of the last message sent on the link
        self.replied = set()
        self.count = 0

    def send_link(self, header):
        """A link message as the worker's link thread numbers it (`q`)."""
        self.queued += 1
        self.link.send({**header, "q": self.queued})

    def publish(self, parent, text, cell_id=None):
        header = {"type": "publish", "parent": parent, "msg_type": "stream",
                  "content": {"name": "stdout", "text": text}, "metadata": {}}
        if cell_id is not None:
            header["cell_id"] = cell_id
        self.send_link(header)

    def reply(self, cell, content, after=None):
        self.replied.add(cell["id"])
        self.cells.send({"type": "reply", "id": cell["id"], "content": content,
                         "after": self.queued if after is None else after, "paused": False})

    def serve_once(self, timeout_ms=1000):
        """Reads what came on either channel: pings answered, cells kept for their turn."""
        poller = zmq.Poller()
        poller.register(self.link.socket, zmq.POLLIN)
        if self.cells.socket.fileno() >= 0:
            poller.register(self.cells.socket, zmq.POLLIN)
        for ready, _ in poller.poll(timeout_ms):
            channel = self.link if ready is self.link.socket else self.cells
            frame = channel.recv()
            message = json.loads(unpack(frame)[1]) if frame else {"type": None}
            if message["type"] == "ping":
                self.link.send({"type": "pong"})
            elif message["type"] == "stop":
                os._exit(0)
            elif message["type"] == "execute":
                message["via"] = "link" if channel is self.link else "cells"
                self.waiting[message["cell"]] = message

    def wait_cell(self, number):
        """The execute numbered `number`, once it has come (it still runs in its turn)."""
        while number not in self.waiting:
            self.serve_once()
        return self.waiting[number]

    def run(self):
        while True:
            cell = self.waiting.pop(self.done + 1, None)
            if cell is None:
                self.serve_once()
                continue
            self.done += 1
            self.count += 1
            try:
                exec(cell["content"]["code"], {"w": self, "cell": cell, "os": os})
                content = {"status": "ok", "execution_count": self.count, "user_expressions": {}, "payload": []}
            except Exception as error:  # noqa: BLE001 (the cell's own failure, as a worker reports it)
                content = {"status": "error", "execution_count": self.count, "ename": type(error).__name__,
                           "evalue": str(error), "traceback": []}
            if cell["id"] not in self.replied:
                self.reply(cell, content)


def main():
    argv = sys.argv[1:]
    FakeWorker(dict(zip(argv[::2], argv[1::2]))).run()


if __name__ == "__main__":
    main()
