"""Host-mode benchmark (issue 14): a notebook as a front of a warm Atrium host, beside ipykernel and beside today's
direct Atrium kernel, all measured in this run.

    JUPYTER_PATH=build/share/jupyter .venv/bin/python test/bench/bench_host.py [--quick]

Rows:
- new notebook kernel: jupyter_client's KernelManager.start_kernel (the provisioner's launch_kernel opens a front)
  until the kernel_info_reply, on a warm host (one front kept open), for atrium-host and atrium-host-isolated;
  a new ipykernel (python3) the same way;
- 50 notebooks open, each having run one cell: total PSS (/proc/PID/smaps_rollup) of the host's process tree
  (host, workers) beside that of 50 ipykernels; then `ctx.status()` in each of the 50: the scheduler addresses
  seen (one cluster) and the host tree's PSS with the cluster;
- `pass` round trip (median) through a front of the host beside today's direct `atrium-scoped` kernel, taking turns
  request by request; again with 49 other notebooks open on that host.
Targets (issue 14): new kernel <= 30 ms scoped, <= 60 ms isolated; PSS of 50 notebooks <= 0.05x that of 50
ipykernels scoped, <= 0.4x isolated; one cluster; round trip within 1.1x the direct kernel's. Benchmarks print;
they never fail on speed. Each run starts its hosts in a runtime directory of its own and stops them at the end.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import zmq
from jupyter_client.manager import KernelManager

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))
from bench_isolated import pss_mib  # noqa: E402
from bench_kernels import RTT_TIMEOUT, TRIVIAL_CELL, WireClient, process_tree  # noqa: E402
from e2e_host import host_pid, stop_hosts  # noqa: E402

TIMEOUT = 120
MODES = {"atrium-host": "scoped", "atrium-host-isolated": "isolated"}


class Kernel:
    """One notebook's kernel through jupyter_client: its manager and a blocking client."""

    def __init__(self, name, use=True):
        self.km = KernelManager(kernel_name=name)
        started = time.perf_counter()
        # A kernel process of its own (ipykernel, the direct Atrium kernel) would print into the report.
        quiet = {} if name in MODES else {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.km.start_kernel(**quiet)
        self.kc = self.km.client()
        self.kc.start_channels()
        msg_id = self.kc.kernel_info()
        while self.kc.get_shell_msg(timeout=TIMEOUT)["parent_header"].get("msg_id") != msg_id:
            pass
        self.ready_s = time.perf_counter() - started
        if use:
            # Untimed: until iopub is subscribed too (ZeroMQ's slow joiner), or a first cell's output is lost.
            self.kc.wait_for_ready(timeout=TIMEOUT)

    def run(self, code):
        """The cell's text/plain result (None without one), after its reply."""
        msg_id, result = self.kc.execute(code), None
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "execute_result":
                result = msg["content"]["data"]["text/plain"]
            elif msg["msg_type"] == "error":
                raise RuntimeError(f"{code!r}: {msg['content']['ename']}: {msg['content']['evalue']}")
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        self.kc.get_shell_msg(timeout=TIMEOUT)
        return result

    def pids(self):
        """The kernel's own process tree (an ipykernel); a front has no process of its own."""
        return process_tree(self.km.provisioner.process.pid)

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def bench_new_kernel(name, runs):
    """Seconds from start_kernel to kernel_info_reply, `runs` times, with one kernel of `name` kept open
    throughout (the warm host; for ipykernel it changes nothing)."""
    keep = Kernel(name)
    keep.run("pass")
    samples = []
    try:
        for _ in range(runs):
            kernel = Kernel(name, use=False)
            samples.append(kernel.ready_s)
            kernel.stop()
    finally:
        keep.stop()
    return samples


def bench_many(name, count, runtime_dir):
    """(PSS MiB of `count` open notebooks, scheduler addresses their ctx saw, PSS MiB with the cluster): a host's
    whole process tree for atrium-host*, the sum of every kernel's tree for ipykernel."""
    kernels = []
    try:
        for _ in range(count):
            kernels.append(Kernel(name))
            kernels[-1].run("x = 1")
        time.sleep(1)  # let the kernels settle (lazy imports, allocator trims)

        def pids():
            if name in MODES:
                return process_tree(host_pid(runtime_dir, MODES[name]))
            return [pid for kernel in kernels for pid in kernel.pids()]

        open_pss = pss_mib(pids())
        if name not in MODES:
            return open_pss, None, None
        schedulers = {kernel.run("ctx.status()['scheduler']") for kernel in kernels}
        time.sleep(1)
        return open_pss, schedulers, pss_mib(pids())
    finally:
        for kernel in kernels:
            kernel.stop()


def bench_round_trip(runs, idle_fronts=0):
    """Medians (s) of a `pass` round trip through a front (atrium-host) and on a direct atrium-scoped kernel,
    taking turns request by request, each client warmed up first; with `idle_fronts` more notebooks open on the
    host meanwhile (their clients connected, heartbeats running)."""
    front, direct = Kernel("atrium-host"), Kernel("atrium-scoped")
    idle = [Kernel("atrium-host") for _ in range(idle_fronts)]
    context = zmq.Context()
    clients = {"front": WireClient(front.km, context), "direct": WireClient(direct.km, context)}
    samples = {label: [] for label in clients}
    try:
        for i in range(runs + runs // 10):
            for label, client in clients.items():
                msg_id, frames = client.prepare_execute(TRIVIAL_CELL)
                deadline = time.monotonic() + RTT_TIMEOUT
                started = time.perf_counter()
                client.shell.send_multipart(frames)
                client.wait_reply(msg_id, deadline)
                took = time.perf_counter() - started
                client.wait_idle(msg_id, deadline)
                if i >= runs // 10:
                    samples[label].append(took)
    finally:
        for client in clients.values():
            client.close()
        context.term()
        for kernel in [front, direct, *idle]:
            kernel.stop()
    return {label: statistics.median(values) for label, values in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer kernels and runs: a smoke check")
    args = parser.parse_args(argv)
    runs, count, rtt_runs = (5, 10, 200) if args.quick else (20, 50, 1000)

    # A runtime directory of its own (short: a unix socket path holds 107 bytes): this run's hosts are its own.
    runtime_dir = pathlib.Path(tempfile.mkdtemp(prefix="ab-", dir="/tmp"))
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime_dir)
    print("Atrium host-mode benchmark", time.strftime("%Y-%m-%d %H:%M:%S"), f"({os.cpu_count()} cores)")
    try:
        print(f"\n| new notebook kernel: start_kernel -> kernel_info_reply, {runs} runs | median (ms) | min (ms) "
              f"| max (ms) | target |")
        print("|---|---|---|---|---|")
        targets = {"atrium-host": "<= 30 ms", "atrium-host-isolated": "<= 60 ms", "python3": "(~200-350 ms)"}
        for name in ("atrium-host", "atrium-host-isolated", "python3"):
            samples = [s * 1e3 for s in bench_new_kernel(name, runs)]
            label = name if name == "python3" else f"{name} (warm host)"
            print(f"| {label} | {statistics.median(samples):.1f} | {min(samples):.1f} | {max(samples):.1f} "
                  f"| {targets[name]} |")

        print(f"\n| {count} notebooks open, one cell run in each | total PSS (MiB) | x ipykernel | target | "
              f"schedulers seen by {count} `ctx` | PSS with the cluster (MiB) |")
        print("|---|---|---|---|---|---|")
        peer, _, _ = bench_many("python3", count, runtime_dir)
        print(f"| {count} ipykernels | {peer:.0f} | 1 | | | |")
        for name, target in (("atrium-host", "<= 0.05x"), ("atrium-host-isolated", "<= 0.4x")):
            pss, schedulers, with_cluster = bench_many(name, count, runtime_dir)
            print(f"| {name}: one host | {pss:.0f} | {pss / peer:.3f} | {target} | {len(schedulers)} "
                  f"(target 1) | {with_cluster:.0f} |")

        # The hosts above (their workers, their Dask clusters) would share the two cores with the round trips.
        stop_hosts(runtime_dir)
        print(f"\n| `pass` round trip, {rtt_runs} runs taking turns | median (µs) | x direct | target |")
        print("|---|---|---|---|")
        for idle_fronts in (0, count - 1):
            medians = bench_round_trip(rtt_runs, idle_fronts)
            beside = f", {idle_fronts} other notebooks open on the host" if idle_fronts else ""
            print(f"| direct atrium-scoped kernel{beside} | {medians['direct'] * 1e6:.0f} | 1 | |")
            print(f"| front of an atrium-host{beside} | {medians['front'] * 1e6:.0f} | "
                  f"{medians['front'] / medians['direct']:.3f} | <= 1.1x |")
    finally:
        leftovers = stop_hosts(runtime_dir)
        if leftovers:
            print("left running after the hosts' stop (killed):", leftovers, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
