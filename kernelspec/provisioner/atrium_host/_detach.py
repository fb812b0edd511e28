# SPDX-License-Identifier: MIT
"""Starts the host and exits at once, so the host is nobody's child but init's (run by starter.py, by path).

The host outlives the server that happened to start it; as the server's child it would stay a zombie in that
server's process table from the moment it exits (after its linger time) until the server waits for it, which
it never does. This in-between process exits right away: the host is re-parented, and init reaps it.

Reads {"cmd": [...], "env": {...}, "cwd": ..., "log": PATH} as JSON on stdin; prints the host's pid.
Stdlib only: it runs as `python -I -S`.
"""

import json
import os
import subprocess
import sys
import time


def main():
    spec = json.load(sys.stdin)
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    # A header per start, so the log's tail quoted in an error shows this start's lines, not an older host's.
    os.write(log, f"== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(spec['cmd'])}\n".encode())
    host = subprocess.Popen(spec["cmd"], env=spec["env"], cwd=spec.get("cwd") or None,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True)
    print(host.pid, flush=True)


if __name__ == "__main__":
    main()
