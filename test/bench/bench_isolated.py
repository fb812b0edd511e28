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
- pool: a 100 MiB bytes object put by one isolated note and got by another (pickled through the kernel).
Targets (issue 4): first cell <= 50 ms with the warm pool; worker round trip <= 1.5x in-process; idle worker
memory <= 0.5x an idle ipykernel. Benchmarks print; they never fail on speed.
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
    return psutil.Process(km.provisioner.process.pid).children()


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


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    args = parser.parse_args(argv)
    samples, runs, megabytes, rounds = (3, 100, 5, 1) if args.quick else (10, 1000, 20, 3)

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


if __name__ == "__main__":
    main()
