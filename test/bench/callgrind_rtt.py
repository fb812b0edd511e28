"""Instructions per `pass` round trip of Atrium kernels and their peers, counted by callgrind: a figure that,
unlike wall time, does not move with the load of a shared machine.

    .venv/bin/python test/bench/callgrind_rtt.py build [/path/to/other/build ...] [--peers xpython-raw,python3]
        [--cells 200] [--unique] [--store-history] [--keep DIR]

For each build directory, a kernel (its `share/jupyter/kernels/<--kernel>` spec) is started under
`valgrind --tool=callgrind --instr-atstart=no`, warmed up with 20 cells, then counted (`callgrind_control -i on`)
over --cells round trips (execute_request to its reply, iopub drained to idle), twice: in a context without an
IPython shell, and after `get_ipython();` made one. Every thread of the kernel is counted; the client is not.

--peers counts other kernels the same way, once each in their own mode, with the kernelspecs bench_kernels.py
uses (e.g. Debian's xpython-raw, with the IPython<9/jedi it borrows; ipykernel from the venv as `python3`).
--unique makes each counted cell's source new (`pass  # <n>`), so nothing compiled before is reused.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kernels  # noqa: E402  (kernelspecs of the peers, as the wall-time benchmark finds them)


def _run(client, code, store_history):
    msg_id = client.execute(code, store_history=store_history)
    reply = client.get_shell_msg(timeout=600)
    while reply["parent_header"].get("msg_id") != msg_id:  # kernel_info replies left by wait_for_ready
        reply = client.get_shell_msg(timeout=600)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code!r}: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    while True:
        msg = client.get_iopub_msg(timeout=600)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            return


def instructions_per_round_trip(spec_dir, kernel, cells, setup, store_history, unique=False, env=None, keep=None):
    with open(os.path.join(spec_dir, "kernel.json")) as spec_file:
        spec = json.load(spec_file)
    out = tempfile.mkdtemp(prefix="atrium-callgrind-")
    if spec["argv"][0] in ("python", "python3"):  # jupyter_client's own substitution, lost behind valgrind
        spec["argv"][0] = sys.executable
    spec["argv"] = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                    f"--callgrind-out-file={out}/callgrind.out.%p"] + spec["argv"]
    spec["env"] = {**spec.get("env", {}), **(env or {})}
    manager = KernelManager(kernel_name=kernel)
    manager._kernel_spec = KernelSpec(resource_dir=str(spec_dir), **spec)
    manager.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=600)
        for code in setup + ["pass"] * 20:
            _run(client, code, store_history)
        pid = str(manager.provisioner.process.pid)  # valgrind runs the kernel in its own process
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        for n in range(cells):
            _run(client, f"pass  # {n}" if unique else "pass", store_history)
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        time.sleep(1)
        total = 0
        for path in glob.glob(f"{out}/callgrind.out.*"):
            with open(path) as dump:
                # "totals:" is the dump's whole count (its "summary:" line reads 0 after -z).
                total += max([int(line.split()[1]) for line in dump if line.startswith("totals:")] or [0])
        return total / cells
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        if keep:
            os.makedirs(keep, exist_ok=True)
            for path in glob.glob(f"{out}/callgrind.out.*"):
                shutil.copy(path, keep)
        shutil.rmtree(out, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="*", help="Atrium build directories (each with share/jupyter/kernels)")
    parser.add_argument("--kernel", default="atrium", help="Atrium kernelspec name (default atrium)")
    parser.add_argument("--peers", default="", help="peer kernels to count too, e.g. xpython-raw,python3")
    parser.add_argument("--cells", type=int, default=200, help="counted round trips (default 200)")
    parser.add_argument("--unique", action="store_true", help="a new source for every counted cell")
    parser.add_argument("--store-history", action="store_true", help="store_history=True (default False)")
    parser.add_argument("--keep", metavar="DIR", help="copy the callgrind dumps here (for callgrind_annotate)")
    args = parser.parse_args()

    def count(label, spec_dir, kernel, setup, env=None):
        keep = args.keep and os.path.join(args.keep, label.replace(" ", "_").replace("/", "_"))
        try:
            n = instructions_per_round_trip(spec_dir, kernel, args.cells, setup, args.store_history, args.unique,
                                            env, keep)
        except RuntimeError as error:  # e.g. a build from before IPython shells
            print(f"{label}\tn/a ({error})", flush=True)
            return
        print(f"{label}\t{n / 1000:.0f}k instructions per round trip", flush=True)

    for build in args.builds:
        spec_dir = os.path.join(build, "share", "jupyter", "kernels", args.kernel)
        for label, setup in (("no shell", []), ("shell", ["get_ipython();"])):
            count(f"{build}\t{label}", spec_dir, args.kernel, setup)
    deps = bench_kernels.default_xpython_deps()
    for peer in filter(None, args.peers.split(",")):
        target = bench_kernels.resolve_target(peer, deps)
        if target.resource_dir is None:
            print(f"{peer}\t\tn/a ({target.missing})", flush=True)
            continue
        count(f"{peer}\t", target.resource_dir, peer, [], target.env)


if __name__ == "__main__":
    main()
