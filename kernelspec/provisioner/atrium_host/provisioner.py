# SPDX-License-Identifier: MIT
"""The `atrium-host` kernel provisioner: each Jupyter kernel is a front of one long-lived Atrium host.

jupyter_client calls it as it would call LocalProvisioner, whose port choice and connection file it keeps
(pre_launch, cleanup). What differs: launch_kernel opens a front on the host (docs/host.md) instead of
starting a process, and every "process" operation acts on that front. The host itself is never signalled:
it serves other kernels, and it ends on its own (its linger time) or by its `stop` request.
"""

import asyncio
import getpass
import os
import signal

from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Float, Unicode

from .control import HostError, HostRefused, HostUnreachable, call
from .starter import ensure_host

# Bounds on what the host may take: starting it (Python, the kernel's imports), then any one request.
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
# poll() is called every few seconds by a server's restarter; a host that cannot say within this is hung.
ALIVE_TIMEOUT = 10.0
CONNECTION_FIELDS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port", "ip", "transport",
                     "key", "signature_scheme")
PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
# What the launch env says about the one kernel that started the host; the host outlives that kernel.
PER_KERNEL_ENV = ("JPY_PARENT_PID", "JPY_SESSION_NAME")


def flag_value(argv, name, default):
    """The value of `--name=V` or `--name V` in the kernelspec's argv (the kernel's own default without it)."""
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(argv):
            return argv[i + 1]
    return default


def host_binding(argv, env):
    """(mode, scope) of the host the kernelspec's argv starts, as its ping says them: a flag not given is read
    from the environment, as the kernel does (docs/sessions.md)."""
    return (flag_value(argv, "mode", env.get("ATRIUM_MODE") or "shared"),
            flag_value(argv, "scope", env.get("ATRIUM_SCOPE") or "note"))


def front_user(env):
    """Who opens the front: the server's user as the launch env names it, else the OS user."""
    for name in ("KERNEL_USERNAME", "JUPYTERHUB_USER"):
        if env.get(name):
            return env[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return str(os.getuid())


class AtriumHostProvisioner(LocalProvisioner):
    """Opens, watches and closes this kernel's front on the Atrium host of its mode."""

    start_timeout = Float(START_TIMEOUT, config=True,
                          help="Seconds a host started for a launch may take to answer (kernelspec: "
                               "metadata.kernel_provisioner.config.start_timeout)")
    host_socket = Unicode("", config=True,
                          help="The control socket of the host to use (and start there when nobody answers), "
                               "e.g. a team's host run as a service; default <runtime dir>/atrium-host-<mode>.sock")
    socket_path = None
    host_pid = None
    _front_open = False

    @property
    def has_process(self):
        return self._front_open

    async def launch_kernel(self, cmd, **kwargs):
        env = dict(kwargs.get("env") or os.environ)
        binding = host_binding(cmd, env)
        mode = binding[0]
        if self.host_socket:
            self.socket_path = os.path.abspath(os.path.expanduser(self.host_socket))
            log_path = os.path.splitext(self.socket_path)[0] + ".log"
        else:
            runtime_dir = jupyter_runtime_dir()
            os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
            self.socket_path = os.path.join(runtime_dir, f"atrium-host-{mode}.sock")
            log_path = os.path.join(runtime_dir, f"atrium-host-{mode}.log")
        user = front_user(env)
        for name in PER_KERNEL_ENV:
            env.pop(name, None)
        cwd = kwargs.get("cwd")
        self.cwd = cwd

        request = {"op": "open", "kernel_id": self.kernel_id, "user": user,
                   "ip": self.connection_info.get("ip") or "127.0.0.1",
                   "ports": {name: self.connection_info[name] for name in PORT_NAMES
                             if self.connection_info.get(name)}}
        key = getattr(getattr(self.parent, "session", None), "key", None)
        if key:
            request["key"] = key.decode() if isinstance(key, bytes) else key

        def open_front():
            ensure_host(self.socket_path, cmd, binding, env, cwd, log_path, self.start_timeout)
            return call(self.socket_path, request, REQUEST_TIMEOUT)

        answer = await asyncio.to_thread(open_front)
        self.connection_info = self._connection_from(answer)
        self.host_pid = answer.get("pid")
        self._front_open = True
        self.log.debug("atrium-host: kernel %s is a front of host %s on %s", self.kernel_id, self.host_pid,
                       self.socket_path)
        return self.connection_info

    def _connection_from(self, answer):
        connection = answer.get("connection")
        missing = [f for f in CONNECTION_FIELDS if not isinstance(connection, dict) or f not in connection]
        if missing:
            raise HostError(f"[provisioner.bad_answer] the Atrium host on {self.socket_path} opened kernel "
                            f"{self.kernel_id} without saying its {', '.join(missing)}: {answer}")
        info = {f: connection[f] for f in CONNECTION_FIELDS}
        # jupyter_client compares this with its own connection info, where the key is bytes.
        info["key"] = info["key"].encode()
        return info

    async def poll(self):
        if not self._front_open:
            return 0
        try:
            answer = await self._request({"op": "alive", "kernel_id": self.kernel_id}, ALIVE_TIMEOUT)
        except HostUnreachable:
            return 1  # the host is gone, and with it every front: jupyter_server's restarter starts a new one
        return None if answer.get("alive") else 0

    async def wait(self):
        status = None
        while status is None:
            status = await self.poll()
            if status is None:
                await asyncio.sleep(0.1)
        self._front_open = False
        return status

    async def send_signal(self, signum):
        if not self._front_open or signum == 0:  # 0 only asks whether it exists, as kill(2) does
            return
        if signum == signal.SIGINT:
            try:
                await self._request({"op": "interrupt", "kernel_id": self.kernel_id})
            except HostUnreachable:
                pass  # nothing runs there any more
        else:
            await self._close_front()

    async def kill(self, restart=False):
        await self._close_front()

    async def terminate(self, restart=False):
        await self._close_front()

    async def shutdown_requested(self, restart=False):
        # The front closes on the shutdown_request jupyter_client has just sent; closing it here as well makes
        # that certain (and the context freed) even if that message is lost. A restart then opens it afresh.
        await self._close_front()

    async def _close_front(self):
        if not self._front_open:
            return
        try:
            await self._request({"op": "close", "kernel_id": self.kernel_id})
        except HostUnreachable:
            pass  # the host is gone, and the front with it
        except HostRefused:
            # Already closed (by the client's shutdown_request, which may have won the race) is what we wanted.
            if await self.poll() is None:
                raise

    async def _request(self, message, timeout=REQUEST_TIMEOUT):
        if self.socket_path is None:
            raise HostError(f"[provisioner.no_front] kernel {self.kernel_id} was never launched on an Atrium host")
        return await asyncio.to_thread(call, self.socket_path, message, timeout)

    async def get_provisioner_info(self):
        info = await super(LocalProvisioner, self).get_provisioner_info()
        info.update({"socket_path": self.socket_path, "host_pid": self.host_pid, "front_open": self._front_open})
        return info

    async def load_provisioner_info(self, provisioner_info):
        await super(LocalProvisioner, self).load_provisioner_info(provisioner_info)
        self.socket_path = provisioner_info["socket_path"]
        self.host_pid = provisioner_info.get("host_pid")
        self._front_open = bool(provisioner_info.get("front_open", True))
