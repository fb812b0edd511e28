"""Load: 50 clients, each with its own session (a note of its own in the per-note modes), send 200 executes
each, 4 in flight at a time. Every reply must come back, in request order per client, and every byte each cell
printed must reach iopub under that cell's parent header."""

import time

import pytest
import zmq
from jupyter_client.session import Session
from session_helpers import kernel_of

CLIENTS = 50
EXECUTES = 200
IN_FLIGHT = 4
DEADLINE = 240  # seconds for the whole run: a bound against hanging, not a speed target


def expected_text(client, index):
    return f"c{client}-{index} " + "x" * (index % 97) + "\n"


class load_client:
    def __init__(self, number, context, km):
        self.number = number
        self.session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme,
                               username=f"user{number}")
        self.socket = context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(f"tcp://127.0.0.1:{km.shell_port}")
        self.sent = []     # msg_ids in send order
        self.replies = []  # parent msg_ids in arrival order
        self.statuses = []

    def send_next(self, expected):
        index = len(self.sent)
        code = f"print({expected_text(self.number, index)[:-1]!r})"
        msg = self.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                   "user_expressions": {}, "allow_stdin": False,
                                                   "stop_on_error": True})
        self.session.send(self.socket, msg)
        self.sent.append(msg["header"]["msg_id"])
        expected[msg["header"]["msg_id"]] = expected_text(self.number, index)

    def receive(self):
        _, msg = self.session.feed_identities(self.socket.recv_multipart())
        msg = self.session.deserialize(msg)
        self.replies.append(msg["parent_header"]["msg_id"])
        self.statuses.append(msg["content"]["status"])


def subscribe(context, km):
    """An iopub subscriber whose subscription is known to be live (it has received a message)."""
    iopub = context.socket(zmq.SUB)
    iopub.linger = 0
    iopub.setsockopt(zmq.SUBSCRIBE, b"")
    iopub.connect(f"tcp://127.0.0.1:{km.iopub_port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if iopub.poll(100):
            iopub.recv_multipart()  # iopub_welcome, or any message: the subscription is live
            return iopub
    raise TimeoutError("no iopub message within 30 s")


@pytest.mark.parametrize("name", ["atrium", "atrium-scoped", "atrium-isolated"])
def test_every_reply_in_order_and_every_byte_under_load(name):
    with kernel_of(name, extra_arguments=["--warm-workers=4"] if name == "atrium-isolated" else []) as (km, kc):
        kc.stop_channels()  # only this test's sockets read; a silent subscriber would only queue up
        context = zmq.Context()
        try:
            iopub = subscribe(context, km)
            reader = Session(key=km.session.key, signature_scheme=km.session.signature_scheme)
            clients = [load_client(i, context, km) for i in range(CLIENTS)]
            expected = {}
            printed = {}
            idle = set()
            poller = zmq.Poller()
            poller.register(iopub, zmq.POLLIN)
            by_socket = {}
            for client in clients:
                poller.register(client.socket, zmq.POLLIN)
                by_socket[client.socket] = client
                for _ in range(IN_FLIGHT):
                    client.send_next(expected)
            total = CLIENTS * EXECUTES
            deadline = time.monotonic() + DEADLINE
            while len(idle) < total or sum(len(c.replies) for c in clients) < total:
                assert time.monotonic() < deadline, (
                    f"{sum(len(c.replies) for c in clients)} replies and {len(idle)} idles of {total}")
                for socket, _ in poller.poll(1000):
                    if socket is iopub:
                        _, frames = reader.feed_identities(iopub.recv_multipart())
                        msg = reader.deserialize(frames)
                        parent = msg["parent_header"].get("msg_id")
                        if msg["msg_type"] == "stream":
                            printed[parent] = printed.get(parent, "") + msg["content"]["text"]
                        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                            idle.add(parent)
                        continue
                    client = by_socket[socket]
                    client.receive()
                    if len(client.sent) < EXECUTES:
                        client.send_next(expected)
            for client in clients:
                assert client.replies == client.sent, f"client {client.number}: replies out of order"
                assert set(client.statuses) == {"ok"}, (client.number, client.statuses)
            lost = {msg_id: (printed.get(msg_id), text) for msg_id, text in expected.items()
                    if printed.get(msg_id) != text}
            assert not lost, f"{len(lost)} cells lost output, e.g. {list(lost.items())[:3]}"
        finally:
            context.destroy(linger=0)
