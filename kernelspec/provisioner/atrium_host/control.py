# SPDX-License-Identifier: MIT
"""The client side of a host's control socket: one JSON object per line each way (docs/host.md).

Blocking calls with a timeout each; the provisioner runs them on a thread so a server's event loop never waits.
Every failure is a HostError whose message starts with an [area.reason] id: the host's own ([host.*]) when it
refused, the provisioner's ([provisioner.*]) when nobody answered or the answer made no sense.
"""

import json
import socket

# The host reads and writes lines of at most 64 KiB; an answer that grows past that is not the host talking.
MAX_LINE = 64 * 1024
# Linux's sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


class HostError(RuntimeError):
    """The host refused a request, or could not be asked."""


class HostUnreachable(HostError):
    """Nobody answers on the control socket: no file, nobody listening, or the host hung up."""


class HostRefused(HostError):
    """The host answered "ok": false; `error` is its own "[host.reason] text"."""

    def __init__(self, message, error):
        super().__init__(message)
        self.error = error


def check_socket_path(path):
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise HostError(f"[provisioner.socket_path_too_long] the control socket path {path!r} is longer than the "
                        f"{MAX_SOCKET_PATH} bytes a unix socket address holds; set JUPYTER_RUNTIME_DIR to a shorter "
                        f"directory")


def request(path, message, timeout):
    """Sends one request on a connection of its own; returns the host's answer (a dict with a boolean "ok")."""
    check_socket_path(path)
    op = message.get("op")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            raise HostUnreachable(f"[provisioner.host_unreachable] no Atrium host answers on {path} "
                                  f"({error.strerror})") from None
        sock.sendall(json.dumps(message).encode() + b"\n")
        line = _read_line(sock, path, op)
    except socket.timeout:
        raise HostError(f"[provisioner.host_timeout] the Atrium host on {path} did not answer '{op}' "
                        f"within {timeout:g} s") from None
    except (BrokenPipeError, ConnectionResetError) as error:
        raise HostUnreachable(f"[provisioner.host_unreachable] the Atrium host on {path} dropped the connection "
                              f"during '{op}' ({error.strerror})") from None
    finally:
        sock.close()
    try:
        answer = json.loads(line)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        raise HostError(f"[provisioner.bad_answer] the Atrium host on {path} answered '{op}' with "
                        f"{line[:200]!r}, not a JSON object with a boolean \"ok\"")
    return answer


def _read_line(sock, path, op):
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise HostUnreachable(f"[provisioner.host_unreachable] the Atrium host on {path} closed the "
                                  f"connection without answering '{op}'")
        data += chunk
        if len(data) > MAX_LINE + 1:
            raise HostError(f"[provisioner.bad_answer] the Atrium host on {path} answered '{op}' with a line "
                            f"longer than {MAX_LINE} bytes")
    return data.split(b"\n", 1)[0].decode("utf-8", errors="replace")


def call(path, message, timeout):
    """request(), and a refusal raised as HostRefused quoting the host's own error."""
    answer = request(path, message, timeout)
    if not answer["ok"]:
        error = answer.get("error")
        if not isinstance(error, str) or not error:
            error = f"(no error text in {json.dumps(answer)[:200]})"
        raise HostRefused(f"{error} (the Atrium host on {path} refused '{message.get('op')}')", error)
    return answer


def ping(path, timeout):
    """The ping answer, or None when nobody answers (a missing or stale socket)."""
    try:
        return call(path, {"op": "ping"}, timeout)
    except HostUnreachable:
        return None
