"""Compute-context and resource-pool benchmark (issue 5), on a real Atrium kernel and a real Dask cluster.

    JUPYTER_PATH=build/share/jupyter .venv/bin/python test/bench/bench_compute.py

Rows:
- first use of `ctx` (local cluster start, from the cell's view), median over fresh kernels;
- task round trip `ctx.submit(inc, 1).result()` beside the same call on a plain `distributed.Client` made in the
  cell and connected to the same cluster (so only the ctx layer differs), median over many tasks;
- pool put/get of a 100 MB object between two notes of one kernel (by reference): latency and throughput.
Target: ctx adds no more than 5% over a Dask client used directly. Benchmarks print; they never fail.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))
from session_helpers import client, kernel_of, run  # noqa: E402


def cell_value(kc, code, timeout=180):
    """The text/plain result of a cell that must succeed."""
    reply, msgs = run(kc, code, timeout=timeout)
    if reply["status"] != "ok":
        raise RuntimeError(f"{code!r} failed: {reply.get('ename')}: {reply.get('evalue')}")
    results = [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"]
    return results[0] if results else None


def first_use_seconds(runs):
    samples = []
    for _ in range(runs):
        with kernel_of("atrium") as (km, _):
            a = client(km)
            samples.append(float(cell_value(a, "import time\n_s = time.perf_counter()\nctx.client\n"
                                               "time.perf_counter() - _s")))
    return samples


def task_round_trips(tasks):
    with kernel_of("atrium") as (km, _):
        a = client(km)
        cell_value(a, "ctx.submit(lambda: 0).result()")
        cell_value(a, "from distributed import Client\nplain = Client(ctx.client.scheduler.address, set_as_default=False)\n"
                      "plain.submit(lambda: 0).result()")
        timing = ("import time, statistics\n"
                  "def inc(x):\n    return x + 1\n"
                  "def rtt(submit, n):\n"
                  "    samples = []\n"
                  "    for i in range(n):\n"
                  "        s = time.perf_counter()\n"
                  "        submit(inc, i, pure=False).result()\n"
                  "        samples.append(time.perf_counter() - s)\n"
                  "    return samples\n")
        cell_value(a, timing + "None")
        rounds = []
        for _ in range(3):  # alternate, so drift on a shared machine hits both alike
            ctx_ms = float(cell_value(a, f"statistics.median(rtt(ctx.submit, {tasks})) * 1e3"))
            plain_ms = float(cell_value(a, f"statistics.median(rtt(plain.submit, {tasks})) * 1e3"))
            rounds.append((ctx_ms, plain_ms))
        return rounds


def pool_100mb(repeats):
    with kernel_of("atrium-scoped") as (km, _):
        a, b = client(km), client(km)
        cell_value(a, "blob = bytearray(100 * 2**20)\nNone")
        put = [float(cell_value(a, "import time\n_s = time.perf_counter()\npool.put('blob', blob)\n"
                                   "(time.perf_counter() - _s) * 1e6")) for _ in range(repeats)]
        get = [float(cell_value(b, "import time\n_s = time.perf_counter()\n_b = pool.get('blob')\n"
                                   "(time.perf_counter() - _s) * 1e6")) for _ in range(repeats)]
        same = cell_value(b, "len(pool.get('blob'))")
        return put, get, same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    starts, tasks, repeats = (1, 100, 5) if args.quick else (3, 500, 20)

    print("Atrium compute benchmark", time.strftime("%Y-%m-%d %H:%M:%S"))
    first = first_use_seconds(starts)
    print(f"\nfirst use of ctx (local cluster start): median {statistics.median(first):.2f} s over {starts} kernels")

    rounds = task_round_trips(tasks)
    ctx_ms = statistics.median(r[0] for r in rounds)
    plain_ms = statistics.median(r[1] for r in rounds)
    print(f"\n| task round trip ({tasks} tasks x 3 rounds) | median (ms) |")
    print("|---|---|")
    print(f"| ctx.submit(...).result() | {ctx_ms:.3f} |")
    print(f"| plain distributed.Client in the cell | {plain_ms:.3f} |")
    print(f"| ctx overhead | {(ctx_ms / plain_ms - 1) * 100:+.1f}% (target <= +5%); per round "
          + ", ".join(f"{c:.3f}/{p:.3f}" for c, p in rounds) + " |")

    put, get, size = pool_100mb(repeats)
    mib = 100
    print(f"\n| pool, 100 MiB bytearray between two notes (by reference) | median (µs) | MiB/s |")
    print("|---|---|---|")
    print(f"| put | {statistics.median(put):.1f} | {mib / (statistics.median(put) / 1e6):.0f} |")
    print(f"| get | {statistics.median(get):.1f} | {mib / (statistics.median(get) / 1e6):.0f} |")
    print(f"(get returned {size} bytes; across isolated workers, by value: not available until worker processes exist)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
