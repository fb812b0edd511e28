"""Session-manager benchmark: what many notes on one Atrium kernel cost, beside ipykernel.

    JUPYTER_PATH=build/share/jupyter .venv/bin/python test/bench/bench_sessions.py [--quick]

Rows:
- contexts: N new scoped notes (N = 1, 10, 100, 1000), each created by one execute naming a new note in its
  metadata (`atrium_note`), all pipelined from one client: time per new context, contexts/s, and the
  kernel's resident memory growth per context.
- 10 clients: ten clients (own sessions) each run `pass` back to back; aggregate executions/s, for shared
  mode (one queue) and scoped mode (a context each, served side by side).
- head-of-line: client B's round trip while client A's cell sleeps, against B's idle round trip; Atrium
  scoped beside ipykernel (which serves one request at a time).
Targets (issue 3): a new scoped context in <= 2 ms and <= 1 MB; 1000 notes without failure; B's round trip
while A is busy within 2x its idle round trip. Benchmarks print; they never fail on speed.
"""

import argparse
import statistics
import sys
import threading
import time

from pathlib import Path

from jupyter_client.manager import start_new_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))
from session_helpers import client as new_client  # noqa: E402

TIMEOUT = 120


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def send_execute(kc, code, metadata=None):
    msg = kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                             "user_expressions": {}, "allow_stdin": False,
                                             "stop_on_error": False}, metadata=metadata or {})
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def wait_replies(kc, ids):
    pending, statuses = set(ids), []
    deadline = time.monotonic() + TIMEOUT
    while pending:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        parent = reply["parent_header"].get("msg_id")
        if parent in pending:
            pending.discard(parent)
            statuses.append(reply["content"]["status"])
    return statuses


def round_trip(kc, code="pass"):
    started = time.perf_counter()
    wait_replies(kc, [send_execute(kc, code)])
    return time.perf_counter() - started


def drain_iopub(kc):
    while True:
        try:
            kc.get_iopub_msg(timeout=0.05)
        except Exception:
            return


def bench_contexts(counts, first_cell="pass"):
    rows = []
    for n in counts:
        km, kc = start_new_kernel(kernel_name="atrium-scoped", startup_timeout=TIMEOUT)
        try:
            pid = km.provisioner.process.pid
            round_trip(kc)  # the client's own context exists; measure only new ones
            base_rtt = statistics.median(round_trip(kc) for _ in range(20))
            before = rss_mib(pid)
            started = time.perf_counter()
            ids = [send_execute(kc, first_cell, {"atrium_note": f"bench-{n}-{i}"}) for i in range(n)]
            statuses = wait_replies(kc, ids)
            elapsed = time.perf_counter() - started
            drain_iopub(kc)
            time.sleep(0.2)
            grown = rss_mib(pid) - before
            ok = statuses.count("ok")
            rows.append((n, elapsed / n * 1e3, n / elapsed, grown / n, ok, base_rtt * 1e3))
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return rows


def bench_shell_round_trip(kernel_name, samples=300):
    """`pass` round trips of one context before and after its IPython shell exists (its cells then run through
    IPython's run_cell)."""
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    try:
        for _ in range(20):
            round_trip(kc)
        plain = statistics.median(round_trip(kc) for _ in range(samples))
        round_trip(kc, "get_ipython()")
        for _ in range(20):
            round_trip(kc)
        shell = statistics.median(round_trip(kc) for _ in range(samples))
        drain_iopub(kc)
        return plain, shell
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def bench_clients(kernel_name, clients=10, runs=200):
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    try:
        kcs = [new_client(km, f"user{i}") for i in range(clients)]
        for c in kcs:
            round_trip(c)
        barrier = threading.Barrier(clients + 1)

        def work(c):
            barrier.wait()
            for _ in range(runs):
                round_trip(c)

        threads = [threading.Thread(target=work, args=(c,)) for c in kcs]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        for c in kcs:
            c.stop_channels()
        return clients * runs / elapsed
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def bench_head_of_line(kernel_name, busy_seconds=3.0, samples=20):
    km, kc = start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT)
    try:
        a, b = new_client(km, "a"), new_client(km, "b")
        for _ in range(5):
            round_trip(b)
        idle = statistics.median(round_trip(b) for _ in range(samples))
        busy_id = send_execute(a, f"import time; time.sleep({busy_seconds})")
        time.sleep(0.2)
        started = time.perf_counter()
        first = round_trip(b)  # ipykernel: waits for a's cell
        busy = [first]
        while time.perf_counter() - started < busy_seconds - 0.5 and len(busy) < samples:
            busy.append(round_trip(b))
        wait_replies(a, [busy_id])
        a.stop_channels()
        b.stop_channels()
        return idle, statistics.median(busy), first
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer notes and runs: a smoke check")
    args = parser.parse_args(argv)
    counts = [1, 10, 100] if args.quick else [1, 10, 100, 1000]
    runs = 50 if args.quick else 200

    print("Atrium session benchmark", time.strftime("%Y-%m-%d %H:%M:%S"))
    print("\n| new scoped notes | ms per new context | contexts/s | RSS per context (MiB) | ok replies | idle rtt (ms) |")
    print("|---|---|---|---|---|---|")
    for n, ms, rate, mib, ok, rtt in bench_contexts(counts):
        print(f"| {n} | {ms:.2f} | {rate:.0f} | {mib:.3f} | {ok}/{n} | {rtt:.2f} |")

    print("\n| new scoped notes, first cell `get_ipython()` (the note's IPython shell is made) | ms per new context "
          "| contexts/s | RSS per context (MiB) | ok replies | idle rtt (ms) |")
    print("|---|---|---|---|---|---|")
    for n, ms, rate, mib, ok, rtt in bench_contexts([c for c in counts if c <= 100], "get_ipython()"):
        print(f"| {n} | {ms:.2f} | {rate:.0f} | {mib:.3f} | {ok}/{n} | {rtt:.2f} |")

    print("\n| `pass` round trip, one context | without its shell, median (ms) | with its shell, median (ms) |")
    print("|---|---|---|")
    for label, name in (("Atrium shared", "atrium"), ("Atrium scoped", "atrium-scoped")):
        plain, shell = bench_shell_round_trip(name)
        print(f"| {label} | {plain * 1e3:.2f} | {shell * 1e3:.2f} |")

    print(f"\n| 10 clients x {runs} executes | aggregate executions/s |")
    print("|---|---|")
    for label, name in (("Atrium shared", "atrium"), ("Atrium scoped", "atrium-scoped"), ("ipykernel", "python3")):
        print(f"| {label} | {bench_clients(name, runs=runs):.0f} |")

    print("\n| head-of-line (A sleeps 3 s) | B idle rtt (ms) | B rtt while A busy, median (ms) | first (ms) | ratio |")
    print("|---|---|---|---|---|")
    for label, name in (("Atrium scoped", "atrium-scoped"), ("ipykernel", "python3")):
        idle, busy, first = bench_head_of_line(name)
        print(f"| {label} | {idle * 1e3:.2f} | {busy * 1e3:.2f} | {first * 1e3:.0f} | {busy / idle:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
