"""Jupyter Kernel Gateway 3 with `atrium-host` as its default kernel: two kernels asked for over its REST API and
used over its WebSocket API are two fronts of one Atrium host, each with its own namespace."""

import pathlib

from e2e_host import front_ids, host_pid, hosts_stopped, value, wait_until
from e2e_servers import running_server, server_env
from test_kernel_gateway import Channels


def test_two_gateway_kernels_land_in_one_host(client_env, venv_bin, tmp_path):
    runtime_dir = pathlib.Path(client_env["JUPYTER_RUNTIME_DIR"])
    env = server_env(client_env, tmp_path / "home")
    command = [str(venv_bin / "jupyter"), "kernelgateway", "--KernelGatewayApp.ip=127.0.0.1",
               "--KernelGatewayApp.port={port}", "--KernelGatewayApp.port_retries=0",
               "--KernelGatewayApp.auth_token={token}", "--KernelGatewayApp.default_kernel_name=atrium-host"]
    with hosts_stopped(runtime_dir), running_server(command, env, tmp_path / "gateway.log") as gateway:
        # No kernel name: the gateway's default.
        a, b = gateway.request("POST", "/api/kernels", {}), gateway.request("POST", "/api/kernels", {})
        assert a["name"] == b["name"] == "atrium-host", (a, b)
        a_id, b_id = a["id"], b["id"]
        a, b = Channels(gateway, a_id), Channels(gateway, b_id)
        try:
            pid = host_pid(runtime_dir)
            assert value(a, "import os\nos.getpid()") == value(b, "import os\nos.getpid()") == str(pid)
            assert front_ids(runtime_dir) == {a_id, b_id}
            assert a.run("x = 'a'")[0]["status"] == "ok"
            assert b.run("x = 'b'")[0]["status"] == "ok"
            assert value(a, "x") == "'a'" and value(b, "x") == "'b'"
        finally:
            a.close()
            b.close()
        gateway.request("DELETE", f"/api/kernels/{a_id}")
        assert value_after_delete(gateway, b_id) == "'b'"
        wait_until("a's front closed", lambda: front_ids(runtime_dir) == {b_id})
        gateway.request("DELETE", f"/api/kernels/{b_id}")


def value_after_delete(gateway, kernel_id):
    """The other kernel's namespace, over a new connection, after one kernel was deleted."""
    channels = Channels(gateway, kernel_id)
    try:
        return value(channels, "x")
    finally:
        channels.close()
