"""Real Jupyter servers for the end-to-end tests: started on 127.0.0.1 by the test, always stopped."""

import contextlib
import json
import os
import pathlib
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request

import nbformat
import psutil

START_TIMEOUT = 90
BROWSER_DIR = pathlib.Path(__file__).parent / "browser"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A running server: its base URL, token and log."""

    def __init__(self, url, token, log_path):
        self.url, self.token, self.log_path = url, token, log_path

    def request(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            text = answer.read().decode()
        return json.loads(text) if text else None

    def log(self):
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running_server(command, env, log_path, ready_path="/api"):
    """Starts `command` (with {port} and {token} filled in), waits until `ready_path` answers, yields a Server;
    afterwards stops it and every process it started (kernels, workers)."""
    port, token = free_port(), secrets.token_hex(16)
    argv = [arg.format(port=port, token=token) for arg in command]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", token, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                server.request("GET", ready_path, timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} did not start:\n{server.log()}")
                time.sleep(0.2)
        yield server
    finally:
        stop_tree(process)


def stop_tree(process):
    """SIGTERM to the server (it shuts its kernels down), then SIGKILL to anything of it still alive."""
    try:
        family = [process_of(process.pid)] + process_of(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(family, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def process_of(pid):
    return psutil.Process(pid)


def server_env(client_env, home):
    """The e2e client environment plus a private HOME, config and data dirs (no user settings leak in)."""
    env = dict(client_env)
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               IPYTHONDIR=str(home / "ipython"))
    os.makedirs(home, exist_ok=True)
    return env


def notebook(server, name, kernel_name):
    """Creates notebook `name` (one empty cell) on `kernel_name` through the server's contents API."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name, "language": "python"}
    server.request("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json", "content": nb})


def drive(server, scenario, extra_env=None):
    """Runs one browser scenario of browser/lab.mjs against `server`; fails with its error and the server log."""
    env = dict(server.env, **(extra_env or {}))
    result = subprocess.run(["node", str(BROWSER_DIR / "lab.mjs"), scenario, server.url, server.token,
                             str(server.artifacts)], cwd=BROWSER_DIR, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, (f"{scenario} failed (screenshots in {server.artifacts}):\n{result.stderr}\n"
                                    f"--- server log tail ---\n{server.log()[-3000:]}")
