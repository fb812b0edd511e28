# SPDX-License-Identifier: MIT
"""Finds the host answering on a control socket, starting it first when nobody does (blocking; run on a thread)."""

import fcntl
import json
import os
import subprocess
import sys
import time

from .control import HostError, check_socket_path, ping

DETACH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_detach.py")
# A ping is answered by the host's control thread at once; a host that takes longer is not one to build on.
PING_TIMEOUT = 5.0
POLL_INTERVAL = 0.05
LOG_READ_BYTES = 64 * 1024
LOG_HEAD_CHARS = 1500
LOG_TAIL_CHARS = 1500


def host_command(argv, socket_path):
    """The kernelspec's argv made a host's: no connection file (a host has none), and the control socket."""
    cmd = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-f", "--connection-file"):
            skip = True
        elif arg.startswith(("--connection-file=", "--host-socket=")):
            pass
        else:
            cmd.append(arg)
    return cmd + [f"--host-socket={socket_path}"]


def ensure_host(socket_path, argv, binding, env, cwd, log_path, timeout):
    """The ping answer of the host on socket_path, after starting one from argv if nobody answered; binding is
    the (mode, scope) the kernelspec asks for, which the host must serve.

    Two launches at once (two notebooks opened together, in one server or two) start one host: the start is
    done under an flock on `<socket>.lock`, and whoever gets the lock second finds the first one's host.
    """
    check_socket_path(socket_path)
    answer = ping(socket_path, PING_TIMEOUT)
    if answer is None:
        deadline = time.monotonic() + timeout
        lock = os.open(socket_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(lock, socket_path, deadline)
            answer = ping(socket_path, PING_TIMEOUT)
            if answer is None:
                answer = _start(socket_path, host_command(argv, socket_path), env, cwd, log_path, deadline, timeout)
        finally:
            os.close(lock)  # releases the flock
    served = (answer.get("mode"), answer.get("scope"))
    if served != binding:
        raise HostError(f"[provisioner.wrong_mode] the Atrium host on {socket_path} (pid {answer.get('pid')}) "
                        f"serves {'/'.join(map(str, served))}, this kernelspec asks for {'/'.join(binding)}")
    return answer


def _lock(fd, socket_path, deadline):
    # Polled rather than blocking, so a launcher stuck elsewhere never holds us past our own deadline.
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise HostError(f"[provisioner.host_start_timeout] another launch has been starting the Atrium "
                                f"host on {socket_path} for too long (it holds {socket_path}.lock)") from None
            time.sleep(POLL_INTERVAL)


def _start(socket_path, cmd, env, cwd, log_path, deadline, timeout):
    pid = _spawn(cmd, env, cwd, log_path)
    while True:
        answer = ping(socket_path, PING_TIMEOUT)
        if answer is not None:
            return answer
        if not _alive(pid):
            # It may have refused because a host started by hand took the socket meanwhile: use that one.
            answer = ping(socket_path, PING_TIMEOUT)
            if answer is not None:
                return answer
            raise HostError(f"[provisioner.host_exited] the Atrium host (pid {pid}) exited before answering on "
                            f"{socket_path}; the end of {log_path}:\n{_log_tail(log_path)}")
        if time.monotonic() > deadline:
            raise HostError(f"[provisioner.host_start_timeout] the Atrium host (pid {pid}) did not answer on "
                            f"{socket_path} within {timeout:g} s (it is left running); the end of {log_path}:\n"
                            f"{_log_tail(log_path)}")
        time.sleep(POLL_INTERVAL)


def _spawn(cmd, env, cwd, log_path):
    spec = json.dumps({"cmd": cmd, "env": dict(env), "cwd": cwd, "log": log_path})
    try:
        done = subprocess.run([sys.executable, "-I", "-S", DETACH], input=spec.encode(), capture_output=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HostError(f"[provisioner.host_spawn] could not start the Atrium host {cmd[0]!r}: {error}") from None
    out = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not out.isdigit():
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise HostError(f"[provisioner.host_spawn] could not start the Atrium host {cmd[0]!r}: "
                        f"{why[-1] if why else out or 'no reason given'}")
    return int(out)


def _alive(pid):
    """Whether pid still runs (a zombie does not: the host is init's child, and some inits reap late)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


def _log_tail(log_path):
    """This start's part of the log (from its header line), its head and tail when long: a usage error comes
    first and the help text after it."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - LOG_READ_BYTES))
            text = log.read().decode(errors="replace")
    except OSError as error:
        return f"(cannot read it: {error.strerror})"
    start = text.rfind("\n== ")
    text = (text[start + 1:] if start >= 0 else text).rstrip()
    if len(text) > LOG_HEAD_CHARS + LOG_TAIL_CHARS:
        text = f"{text[:LOG_HEAD_CHARS]}\n[...]\n{text[-LOG_TAIL_CHARS:]}"
    return text or "(empty)"
