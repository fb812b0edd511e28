"""Jupyter Kernel Gateway 3 over its WebSocket API, two clients on one kernel: namespaces, outputs, REST
interrupt and restart. Each WebSocket is a session of its own, as each browser tab is."""

import json
import time
import uuid

import pytest
import websocket
from e2e_servers import running_server, server_env

TIMEOUT = 30
# A scoped context's KeyboardInterrupt arrives between bytecodes, so its long wait is a loop of short sleeps.
LONG_CELL = "import time\nfor i in range(600):\n    time.sleep(0.05)"


class Channels:
    """One WebSocket connection to /api/kernels/ID/channels, speaking the JSON message protocol."""

    def __init__(self, server, kernel_id):
        url = server.url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {server.token}"], timeout=TIMEOUT)
        self.ws.settimeout(1)
        self.session = uuid.uuid4().hex

    def send(self, msg_type, content, channel="shell"):
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "session": self.session, "username": "",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": []}))
        return msg_id

    def execute(self, code):
        return self.send("execute_request", {"code": code, "silent": False, "store_history": True,
                                             "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})

    def started(self, msg_id):
        """Waits for the cell's execute_input: it is running."""
        self.collect(msg_id, until=lambda m: m["msg_type"] == "execute_input")

    def collect(self, msg_id, until=None):
        """Messages answering msg_id until its reply and idle (or `until`); returns (reply content, iopub)."""
        reply, idle, iopub, others = None, False, [], []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            msg = self.receive()
            if msg is None:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                others.append((msg["channel"], msg["msg_type"], msg["content"].get("execution_state")))
                continue
            if until and until(msg):
                return None, iopub
            if msg["channel"] == "shell":
                reply = msg["content"]
            elif msg["channel"] == "iopub":
                iopub.append(msg)
                idle = idle or (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle")
            if reply is not None and idle:
                return reply, iopub
        raise TimeoutError(f"no reply and idle for {msg_id}: reply {reply}, {[m['msg_type'] for m in iopub]}; "
                           f"other messages: {others[-20:]}")

    def receive(self):
        """The next message, or None after a second: the server's pings would keep a longer recv waiting."""
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None

    def wait_ready(self):
        """After a restart, as jupyter_client's wait_for_ready: kernel_info_request until both its reply and its
        iopub status arrive. The server reconnects its ZeroMQ sockets to the new kernel in the background; until
        its iopub subscription is in place, what the kernel publishes is lost (ZeroMQ's slow joiner)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            msg_id = self.send("kernel_info_request", {})
            replied = heard = False
            while (msg := self.receive()) is not None:
                if msg["parent_header"].get("msg_id") == msg_id:
                    replied = replied or msg["channel"] == "shell"
                    heard = heard or msg["channel"] == "iopub"
                if replied and heard:
                    return
        raise TimeoutError("the kernel never answered kernel_info after the restart")

    def run(self, code):
        return self.collect(self.execute(code))

    def close(self):
        self.ws.close()


def stdout_of(iopub):
    return "".join(m["content"]["text"] for m in iopub if m["msg_type"] == "stream")


def result_of(iopub):
    return [m["content"]["data"] for m in iopub if m["msg_type"] == "execute_result"]


@pytest.mark.parametrize("kernel_name", ["atrium-scoped", "atrium-isolated", "atrium"])
def test_two_websocket_clients(kernel_name, client_env, venv_bin, tmp_path):
    env = server_env(client_env, tmp_path / "home")
    command = [str(venv_bin / "jupyter"), "kernelgateway", "--KernelGatewayApp.ip=127.0.0.1",
               "--KernelGatewayApp.port={port}", "--KernelGatewayApp.port_retries=0",
               "--KernelGatewayApp.auth_token={token}"]
    with running_server(command, env, tmp_path / "gateway.log") as gateway:
        kernel = gateway.request("POST", "/api/kernels", {"name": kernel_name})
        first, second = Channels(gateway, kernel["id"]), Channels(gateway, kernel["id"])
        try:
            # Outputs: a stream, a result, HTML.
            reply, iopub = first.run("print('hello'); x = 'first'\nx")
            assert reply["status"] == "ok", reply
            assert stdout_of(iopub) == "hello\n"
            assert result_of(iopub) == [{"text/plain": "'first'"}]
            reply, iopub = first.run("from IPython.display import HTML\nHTML('<b>bold</b>')")
            assert result_of(iopub)[0]["text/html"] == "<b>bold</b>"

            # Namespaces: one per connection on a per-note kernel, one for all on the shared kernel.
            assert second.run("x = 'second'")[0]["status"] == "ok"
            _, iopub = first.run("x")
            per_note = kernel_name != "atrium"
            assert result_of(iopub) == [{"text/plain": "'first'" if per_note else "'second'"}]

            # REST interrupt: jupyter_server sends interrupt_request from its own session (per-note kernels).
            msg_id = first.execute(LONG_CELL if kernel_name == "atrium-scoped" else "import time; time.sleep(30)")
            first.started(msg_id)
            time.sleep(1)  # past the cell's start-up, into its loop
            gateway.request("POST", f"/api/kernels/{kernel['id']}/interrupt")
            reply, _ = first.collect(msg_id)
            assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
            assert second.run("1 + 1")[0]["status"] == "ok"

            # Restart: a fresh kernel behind the same connections.
            gateway.request("POST", f"/api/kernels/{kernel['id']}/restart")
            first.wait_ready()
            _, iopub = first.run("'x' in dir()")
            assert result_of(iopub) == [{"text/plain": "False"}]
        finally:
            first.close()
            second.close()
        gateway.request("DELETE", f"/api/kernels/{kernel['id']}")
