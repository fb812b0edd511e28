"""Two notebooks on one Atrium host, side by side: the demo `bash scripts/install.sh` ends with.

examples/host_demo/alice.ipynb and bob.ipynb each get a kernel of their own on the `atrium-host` kernelspec,
started through jupyter_client as JupyterLab's server would. Both kernels are fronts of one long-lived Atrium host
(docs/host.md): one process, one Dask cluster (`ctx`) and one `pool`, each notebook with its own namespace, status
and restart. The cells run step by step, alice's cell then bob's; a cell tagged `side-by-side` keeps running while
the other notebook's cell of that step is answered; cells tagged `after-restart` run after alice's kernel restarted.
Every claim printed is checked; the demo exits 1 if one does not hold. At the end it stops its host (the `stop`
op) and checks that no process of it is left.

    .venv/bin/python examples/run_host_demo.py
"""

import os
import pathlib
import shutil
import sys
import tempfile
import time

import nbformat
import psutil
from atrium_host.control import call, ping
from jupyter_client.manager import KernelManager

HERE = pathlib.Path(__file__).parent / "host_demo"
KERNEL = "atrium-host"
TIMEOUT = 120
WIDTH = 57  # the longest cell source, so the results line up


class Notebook:
    """One notebook and its kernel: runs its cells and prints each with its result."""

    def __init__(self, name):
        self.name = name
        self.cells = [c for c in nbformat.read(HERE / f"{name}.ipynb", as_version=4).cells if c.cell_type == "code"]
        self.km = KernelManager(kernel_name=KERNEL)
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)

    def send(self, cell):
        return self.kc.execute(cell.source), time.perf_counter()

    def result(self, msg_id):
        """The cell's result (text/plain), stdout or error, once its kernel is idle again; the time it ended."""
        text = ""
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_result":
                text = content["data"]["text/plain"]
            elif kind == "stream":
                text += content["text"]
            elif kind == "error":
                text = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                return text.strip(), time.perf_counter()

    def show(self, cell, result, note=""):
        shown = f" -> {result}{note}" if result else ""
        print(f"  {self.name:>5} [{cell.execution_count or ''}] {cell.source:<{WIDTH}}{shown}".rstrip())

    def reply(self, cell):
        cell.execution_count = self.kc.get_shell_msg(timeout=TIMEOUT)["content"].get("execution_count")

    def run(self, cell):
        msg_id, _ = self.send(cell)
        result, _ = self.result(msg_id)
        self.reply(cell)
        self.show(cell, result)
        return result

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel()


def check(claim, holds):
    print(f"  => {claim}" if holds else f"  !! NOT TRUE: {claim}")
    if not holds:
        raise SystemExit(1)


def tagged(cells, tag, present=True):
    return [c for c in cells if (tag in c.metadata.get("tags", [])) == present]


def side_by_side(alice, bob, slow, quick):
    """alice's slow cell and bob's quick one at once; returns (alice's result, bob's, seconds each took)."""
    slow_id, sent = alice.send(slow)
    print(f"  alice [ ] {slow.source:<{WIDTH}} .. running")
    bob_result, bob_done = bob.result(bob.send(quick)[0])
    bob.reply(quick)
    bob.show(quick, bob_result, f"   after {bob_done - sent:.2f} s")
    alice_result, alice_done = alice.result(slow_id)
    alice.reply(slow)
    alice.show(slow, alice_result, f"   after {alice_done - sent:.2f} s")
    return bob_done - sent, alice_done - sent


def demo(runtime_dir):
    print(f"== Two notebooks on one Atrium host: kernelspec '{KERNEL}', started through jupyter_client")
    alice, bob = Notebook("alice"), Notebook("bob")
    host = call(str(runtime_dir / "atrium-host-scoped.sock"), {"op": "ping"}, 10)
    print(f"  alice.ipynb: kernel {alice.km.kernel_id[:8]}   bob.ipynb: kernel {bob.km.kernel_id[:8]}   "
          f"host pid {host['pid']}, {host['fronts']} fronts")
    try:
        steps = list(zip(tagged(alice.cells, "after-restart", False), tagged(bob.cells, "after-restart", False)))
        for number, (a, b) in enumerate(steps, 1):
            if "side-by-side" in a.metadata.get("tags", []):
                bob_took, alice_took = side_by_side(alice, bob, a, b)
                check("bob's cell was answered while alice's slept", bob_took < alice_took)
                continue
            results = alice.run(a), bob.run(b)
            if number == 1:
                check(f"one process for both notebooks: the host (pid {host['pid']})",
                      results == (str(host["pid"]),) * 2)
            elif number == 2:
                check("a namespace for each notebook", results == ("'alice'", "'bob'"))
            elif "ctx" in a.source:
                check("one Dask cluster (ctx) for both", results[0] == results[1] and results[0].startswith("'tcp:"))
            elif "pool" in a.source:
                check("alice's table handed to bob through pool", "'from': 'alice'" in results[1])

        print("== Restarting alice's kernel (jupyter_client's restart_kernel; bob's keeps running)")
        alice.km.restart_kernel()
        alice.kc.wait_for_ready(timeout=TIMEOUT)
        after = alice.run(tagged(alice.cells, "after-restart")[0]), bob.run(tagged(bob.cells, "after-restart")[0])
        check("alice's namespace is fresh; the pool kept the table bob appended to",
              after[0] == "(False, {'from': 'alice', 'rows': [1, 2, 3, 4]})")
        check("bob kept his namespace", after[1].startswith("('bob', "))
        pid_now = call(str(runtime_dir / "atrium-host-scoped.sock"), {"op": "ping"}, 10)["pid"]
        check("the same host process serves both", pid_now == host["pid"])
    finally:
        alice.close()
        bob.close()


def stop_host(runtime_dir, pid):
    """The `stop` op of docs/host.md, then a check that the host and every process it started are gone."""
    family = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    call(str(runtime_dir / "atrium-host-scoped.sock"), {"op": "stop"}, 10)
    _, alive = psutil.wait_procs(family, timeout=30)
    check(f"host stopped: {len(family)} processes (host, cluster) ended, none left", not alive)


def main():
    # A runtime directory of its own: the demo starts (and stops) its own host, never one the user's Jupyter has.
    runtime_dir = pathlib.Path(tempfile.mkdtemp(prefix="atrium-demo-"))
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime_dir)
    try:
        demo(runtime_dir)
    finally:
        host = ping(str(runtime_dir / "atrium-host-scoped.sock"), 10)
        if host:
            stop_host(runtime_dir, host["pid"])
        shutil.rmtree(runtime_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
