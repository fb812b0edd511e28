"""Isolated-mode benchmark: what a worker process per note costs, beside in-process Atrium, ipykernel and
xeus-python, all measured in this run.

    JUPYTER_PATH=build/share/jupyter .venv/bin/python test/bench/bench_isolated.py [--quick]

Rows:
- first cell of a new isolated note: a new client session's first `pass`, answered by a worker from the warm
  pool (--warm-workers=1, the pool refilled between samples) and without one (--warm-workers=0);
- execute round trip (`pass`, one client per kernel): through a worker (atrium-isolated) beside in-process Atrium
  (shared, scoped), ipykernel and xeus-python, all started together and taking turns request by request;
- stream throughput: 20 MB printed by one cell, in a worker, in-process, in ipykernel and in xeus-python, the
  text compared byte for byte;
- memory: resident set of an idle worker beside an idle ipykernel and xeus-python process;
- pool: a 100 MiB bytes object put by one isolated note and got by another (pickled through the kernel);
- worker template (issue 15): with workers spawned (--preload=none) and forked from a template that imported
  numpy and pandas (--preload=numpy,pandas), a new note's first cell (`pass`, warm pool), then
  `import numpy, pandas` in it, and the PSS (/proc/PID/smaps_rollup) of N notes after that import: the whole
  kernel process tree (kernel, template, workers, the warm one too) beside N ipykernel and N xeus-python
  processes that each ran the same import, all in this run (`--preload-only` runs these rows alone).
Targets (issue 4): first cell <= 50 ms with the warm pool; worker round trip <= 1.5x in-process; idle worker
memory <= 0.5x an idle ipykernel. Issue 15, numpy and pandas preloaded: first cell <= 30 ms on a warm pool,
the import in it <= 5 ms, PSS of 50 notes <= 0.3x that of 50 ipykernels. Benchmarks print; they never fail on
speed.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import psutil
from jupyter_client.manager import start_new_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))
from session_helpers import client as new_client  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import pss_kib  # noqa: E402

TIMEOUT = 120
PEERS = ["python3", "xpython"]


def send_execute(kc, code):
    return kc.execute(code, store_history=False, stop_on_error=False)


def wait_reply(kc, msg_id):
    while True:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def wait_idle(kc, msg_id):
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            return


def round_trip(kc, code="pass", settle=False):
    """Seconds from send to reply. With `settle`, its output up to idle is then read off the clock: the kernel
    has finished with the request before the next kernel's turn."""
    started = time.perf_counter()
    msg_id = send_execute(kc, code)
    reply = wait_reply(kc, msg_id)
    elapsed = time.perf_counter() - started
    assert reply["status"] == "ok", reply
    if settle:
        wait_idle(kc, msg_id)
    return elapsed


def value(kc, expression):
    msg_id = kc.execute(expression)
    wait_reply(kc, msg_id)
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_result":
            return eval(msg["content"]["data"]["text/plain"])


def start(kernel_name, *arguments):
    return start_new_kernel(kernel_name=kernel_name, startup_timeout=TIMEOUT, extra_arguments=list(arguments))


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def children(km):
    """The kernel's workers (the worker template, a child too, is none)."""
    return [c for c in psutil.Process(km.provisioner.process.pid).children() if c.name() != "atrium-template"]


def wait_warm(km, count):
    deadline = time.monotonic() + TIMEOUT
    while len(children(km)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the newest one has said hello


def bench_first_cell(samples):
    rows = {}
    for warm in (1, 0):
        km, kc = start("atrium-isolated", f"--warm-workers={warm}")
        times = []
        for notes in range(samples):
            wait_warm(km, notes + warm)  # every earlier note keeps its worker; the pool is full again
            note = new_client(km, "bench")
            times.append(round_trip(note) * 1000)
            note.stop_channels()
        stop(km, kc)
        rows[warm] = statistics.median(times)
    return rows


def bench_round_trips(kernel_names, runs):
    """Median round trip (µs) of each kernel. All run at once and take turns, one request each, so that a noisy
    moment of the machine falls on every kernel alike rather than on whichever was being measured."""
    started = {name: start(name) for name in kernel_names}
    try:
        for _, kc in started.values():
            for _ in range(50):
                round_trip(kc, settle=True)
        times = {name: [] for name in kernel_names}
        for _ in range(runs):
            for name, (_, kc) in started.items():
                times[name].append(round_trip(kc, settle=True) * 1e6)
    finally:
        for km, kc in started.values():
            stop(km, kc)
    return {name: statistics.median(samples) for name, samples in times.items()}


def bench_stream(kernel_name, megabytes):
    km, kc = start(kernel_name)
    lines = megabytes * 1024 * 1024 // 100
    code = f"for i in range({lines}):\n    print(f'{{i:09d}}' + 'x' * 90)"
    round_trip(kc)
    started = time.perf_counter()
    msg_id = send_execute(kc, code)
    chunks = []
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            chunks.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    elapsed = time.perf_counter() - started
    stop(km, kc)
    got = "".join(chunks)
    expected = "".join(f"{i:09d}" + "x" * 90 + "\n" for i in range(lines))
    if got == expected:
        return f"{megabytes / elapsed:.1f}", megabytes / elapsed
    # Reported, not asserted: xeus-python drops stream bytes under load, and the row still shows its speed.
    return f"{megabytes / elapsed:.1f} (LOST or changed: got {len(got)} of {len(expected)} bytes)", None


def idle_rss_mib(kernel_name):
    km, kc = start(kernel_name)
    round_trip(kc)
    if kernel_name == "atrium-isolated":
        pid = value(kc, "__import__('os').getpid()")
    else:
        pid = km.provisioner.process.pid
    time.sleep(1)
    rss = psutil.Process(pid).memory_info().rss / 2**20
    stop(km, kc)
    return rss


def bench_pool_across_workers(rounds):
    km, kc = start("atrium-isolated")
    a, b = new_client(km, "a"), new_client(km, "b")
    value(a, "import time; data = bytes(100 * 2**20); 1")
    puts, gets = [], []
    for _ in range(rounds):
        puts.append(value(a, "t = time.perf_counter(); pool.put('big', data); time.perf_counter() - t"))
        gets.append(value(b, "import time; t = time.perf_counter(); got = pool.get('big'); "
                             "(time.perf_counter() - t) if len(got) == 100 * 2**20 else -1"))
    a.stop_channels()
    b.stop_channels()
    stop(km, kc)
    return statistics.median(puts), statistics.median(gets)


def pss_mib(pids):
    return sum(pss_kib(pid) for pid in pids) / 1024


IMPORT = "import numpy, pandas"


def bench_template(preload, notes, samples):
    """Atrium isolated with `--preload=<preload>`: (first cell ms, import ms, PSS MiB of the tree after `notes`
    notes each imported numpy and pandas)."""
    km, kc = start("atrium-isolated", f"--preload={preload}", "--warm-workers=1")
    firsts, imports = [], []
    clients = []
    try:
        for index in range(notes):
            if index < samples:
                wait_warm(km, index + 1)  # each earlier note keeps its worker; the pool is full again
            note = new_client(km, f"bench{index}")
            clients.append(note)
            first = round_trip(note) * 1000
            imported = round_trip(note, IMPORT, settle=True) * 1000
            if index < samples:
                firsts.append(first)
                imports.append(imported)
        time.sleep(1)
        kernel = psutil.Process(km.provisioner.process.pid)
        pss = pss_mib([kernel.pid] + [c.pid for c in kernel.children()])
    finally:
        for note in clients:
            note.stop_channels()
        stop(km, kc)
    return statistics.median(firsts), statistics.median(imports), pss


def bench_peer_imports(kernel_name, notes, samples):
    """`notes` kernels of a peer, one per note: (first cell ms of the first `samples`, import ms, PSS MiB)."""
    started, firsts, imports = [], [], []
    try:
        for index in range(notes):
            km, kc = start(kernel_name)
            started.append((km, kc))
            first = round_trip(kc) * 1000
            imported = round_trip(kc, IMPORT, settle=True) * 1000
            if index < samples:
                firsts.append(first)
                imports.append(imported)
        time.sleep(1)
        pss = pss_mib([km.provisioner.process.pid for km, _ in started])
    finally:
        for km, kc in started:
            stop(km, kc)
    return statistics.median(firsts), statistics.median(imports), pss


def print_template_rows(notes, samples):
    rows = {"Atrium isolated, workers spawned (--preload=none)": bench_template("none", notes, samples),
            "Atrium isolated, forked from the template (--preload=numpy,pandas)":
                bench_template("numpy,pandas", notes, samples),
            "ipykernel (a kernel per note)": bench_peer_imports("python3", notes, samples),
            "xeus-python (a kernel per note)": bench_peer_imports("xpython", notes, samples)}
    print(f"\n| new note: first cell, then `{IMPORT}` in it ({samples} notes), and PSS of {notes} notes after the "
          f"import | first cell (ms) | import (ms) | PSS (MiB) |\n|---|---|---|---|")
    for name, (first, imported, pss) in rows.items():
        print(f"| {name} | {first:.1f} | {imported:.1f} | {pss:.0f} |")
    first, imported, pss = rows["Atrium isolated, forked from the template (--preload=numpy,pandas)"]
    ipykernel = rows["ipykernel (a kernel per note)"][2]
    print(f"targets: first cell {first:.1f} ms <= 30: {'met' if first <= 30 else 'missed'}; import {imported:.1f} ms "
          f"<= 5: {'met' if imported <= 5 else 'missed'}; PSS {pss / ipykernel:.2f}x ipykernel's <= 0.3x: "
          f"{'met' if pss <= 0.3 * ipykernel else 'missed'}")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--preload-only", action="store_true", help="only the worker template's rows")
    parser.add_argument("--notes", type=int, default=None, help="notes (and peer kernels) for the PSS row (50)")
    args = parser.parse_args(argv)
    samples, runs, megabytes, rounds = (3, 100, 5, 1) if args.quick else (10, 1000, 20, 3)
    notes = args.notes or (5 if args.quick else 50)
    if args.preload_only:
        print_template_rows(notes, min(samples, notes))
        return

    first = bench_first_cell(samples)
    print(f"\n| first cell of a new isolated note ({samples} notes) | median (ms) |\n|---|---|")
    print(f"| warm pool (1 worker) | {first[1]:.1f} |\n| no warm pool | {first[0]:.1f} |")
    print(f"target <= 50 ms with the warm pool: {'met' if first[1] <= 50 else 'missed'}")

    kernels = [("Atrium isolated (through a worker)", "atrium-isolated"), ("Atrium shared (in-process)", "atrium"),
               ("Atrium scoped (in-process)", "atrium-scoped"), ("ipykernel", "python3"),
               ("xeus-python", "xpython")]
    by_spec = bench_round_trips([spec for _, spec in kernels], runs)
    rtt = {name: by_spec[spec] for name, spec in kernels}
    print(f"\n| execute round trip, `pass` x {runs}, kernels taking turns | median (µs) |\n|---|---|")
    for name, _ in kernels:
        print(f"| {name} | {rtt[name]:.0f} |")
    in_process = min(rtt["Atrium shared (in-process)"], rtt["Atrium scoped (in-process)"])
    ratio = rtt["Atrium isolated (through a worker)"] / in_process
    print(f"worker / fastest in-process: {ratio:.2f}x (target <= 1.5x)")

    # Every kernel of the run, not only Atrium's two: the target (isolated >= 0.8x shared, issue 15) is read
    # beside the peers measured at the same moment on this shared machine.
    print(f"\n| stream, {megabytes} MB from one cell, every byte checked | MiB/s |\n|---|---|")
    stream = {name: bench_stream(spec, megabytes) for name, spec in kernels}
    for name, (text, _) in stream.items():
        print(f"| {name} | {text} |")
    isolated, shared = stream["Atrium isolated (through a worker)"][1], stream["Atrium shared (in-process)"][1]
    if isolated and shared:
        print(f"isolated / shared: {isolated / shared:.2f}x (target >= 0.8x, every byte)")

    memory = {name: idle_rss_mib(spec) for name, spec in
              [("idle isolated worker", "atrium-isolated"), ("idle ipykernel", "python3"), ("idle xeus-python", "xpython")]}
    print("\n| resident memory | MiB |\n|---|---|")
    for name, mib in memory.items():
        print(f"| {name} | {mib:.1f} |")
    print(f"worker / ipykernel: {memory['idle isolated worker'] / memory['idle ipykernel']:.2f}x (target <= 0.5x)")

    put, get = bench_pool_across_workers(rounds)
    print(f"\n| pool, 100 MiB bytes across isolated workers (by value) | median (ms) | MiB/s |\n|---|---|---|")
    print(f"| put (pickle, send to the kernel) | {put * 1000:.1f} | {100 / put:.0f} |")
    print(f"| get (from the kernel, unpickle) | {get * 1000:.1f} | {100 / get:.0f} |")

    print_template_rows(notes, min(samples, notes))


if __name__ == "__main__":
    main()
