"""Benchmark Atrium against peer Jupyter kernels.

Run from the repository root:

    JUPYTER_PATH=build/share/jupyter .venv/bin/python test/bench/bench_kernels.py
    .venv/bin/python test/bench/bench_kernels.py --quick --kernels python3,xpython
    .venv/bin/python test/bench/bench_kernels.py --json out.json

Measures, one kernel at a time on 127.0.0.1: startup (launch -> first
kernel_info_reply), execute round trip (median and p99), pipelined
executions/s, stdout stream throughput with byte-exact verification, and
resident memory.  Prints one table (row per metric, column per kernel, then
the Atrium / best-peer ratio, the target and whether Atrium meets it).
A benchmark, not a test: it never fails on speed; it exits non-zero only
on bad usage.  Kernels are launched with jupyter_client's KernelManager;
all traffic goes over one thin zmq client (jupyter_client's Session for
signing, hand-rolled framing and parsing) shared by every kernel, so the
client's cost is identical for all of them (its size is printed).
"""
from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import jupyter_client
import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_client.manager import KernelManager

REPO = Path(__file__).resolve().parents[2]
DEFAULT_KERNELS = ["atrium", "atrium-isolated", "python3", "xeus-python-wheel", "xpython", "xpython-raw"]
ATRIUM_KERNELS = ("atrium", "atrium-isolated")  # ours: never a "peer"
KNOWN_KERNELS = DEFAULT_KERNELS + ["xeus-python-wheel-raw"]
TRIVIAL_CELL = "pass"
DELIM = b"<IDS|MSG>"
LINE_PAYLOAD = 1015  # 8-digit index + 1015 'x' + '\n' = 1024 bytes per line

STARTUP_TIMEOUT = 60.0
RTT_TIMEOUT = 30.0  # per execute
PIPELINE_TIMEOUT = 120.0
STREAM_TIMEOUT = 120.0
LATE_GRACE = 0.5  # seconds to keep listening after idle for late stream bytes

# metric key -> (row label, unit format, lower_is_better, target op, target factor)
METRICS = [
    ("startup_ms", "startup, median (ms)", "{:.0f}", True, "<=", 0.5),
    ("rtt_median_us", "execute round trip, median (µs)", "{:.0f}", True, "<=", 0.8),
    ("rtt_p99_us", "execute round trip, p99 (µs)", "{:.0f}", True, "<=", 0.8),
    ("pipeline_eps", "pipelined executes (exec/s)", "{:.0f}", False, ">=", 1.5),
    ("stream_mibps", "stream throughput (MiB/s)", "{:.1f}", False, ">=", 3.0),
    ("rss_mib", "resident memory (MiB)", "{:.1f}", True, "<=", 1.0),
    # PSS splits pages shared between processes among them: an isolated kernel's workers share the template's
    # pages, which RSS counts once per process.
    ("pss_mib", "proportional memory, PSS (MiB)", "{:.1f}", True, "<=", 1.0),
    # --callgrind-cells: instructions the kernel process spends per `pass` round trip (callgrind_rtt.py), a figure
    # the machine's load does not move. Issue 15's target is <= 350k, about 0.35x xpython-raw's count.
    ("callgrind_kinstr", "instructions per round trip (callgrind, k)", "{:.0f}", True, "<=", 0.35),
]


class BenchError(Exception):
    """A measurement failed; `short` goes into the table cell, `detail` into the notes."""

    def __init__(self, short: str, detail: str = ""):
        super().__init__(short)
        self.short = short
        self.detail = detail


# --------------------------------------------------------------------------
# Locating kernelspecs
# --------------------------------------------------------------------------


@dataclass
class KernelTarget:
    name: str
    resource_dir: Path | None
    missing: str = ""  # reason when resource_dir is None
    missing_short: str = "not found"  # the same, for the table cell
    env: dict = field(default_factory=dict)  # extra environment for the kernel process
    note: str = ""  # how this kernel was run, when not plainly from its kernelspec


def atrium_spec_dir(name: str = "atrium") -> Path | None:
    """Atrium's kernelspec (`atrium`, or `atrium-isolated`: a worker process per note): $ATRIUM_BUILD_DIR, then
    $JUPYTER_PATH, then ./build."""
    if os.environ.get("ATRIUM_BUILD_DIR"):
        cands = [Path(os.environ["ATRIUM_BUILD_DIR"]) / "share/jupyter"]
    else:
        cands = [Path(p) for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
        cands.append(REPO / "build/share/jupyter")
    for base in cands:
        d = (base / "kernels" / name).resolve()
        if (d / "kernel.json").is_file():
            return d
    return None


def venv_prefix() -> Path:
    """The venv we run from, else the repository's .venv."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix)
    return REPO / ".venv"


def wheel_xpython_spec_dir(name: str) -> Path | None:
    """The xeus-python wheel's kernelspec in the venv; generated if the wheel shipped none."""
    d = venv_prefix() / "share/jupyter/kernels" / name
    if (d / "kernel.json").is_file():
        return d
    binary = venv_prefix() / "bin/xpython"
    if not binary.exists():
        return None
    gen = Path(tempfile.mkdtemp(prefix="bench-kspec-")) / name
    gen.mkdir(parents=True)
    argv = [str(binary), "-f", "{connection_file}"] + (["--raw"] if name.endswith("raw") else [])
    (gen / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}))
    return gen


def debian_python_lacks(modules: list[str]) -> list[str]:
    """Which of modules /usr/bin/python3 (the interpreter Debian's xpython embeds) cannot import."""
    code = "import importlib.util,sys;print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    try:
        out = subprocess.run(["/usr/bin/python3", "-c", code, *modules], capture_output=True, text=True, timeout=30)
        return out.stdout.split()
    except (OSError, subprocess.SubprocessError):
        return []


def default_xpython_deps() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "atrium-bench/xpython-deps"


def install_xpython_deps(deps: Path) -> None:
    """pip-install IPython<9 (what Debian's xeus-python-shell 0.5 accepts) and jedi into deps."""
    log(f"installing IPython<9 and jedi into {deps}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(deps),
                    "ipython>=7.21,<9", "jedi"], check=True)


def xpython_bridge(target: KernelTarget, deps: Path) -> None:
    """Debian's xpython embeds /usr/bin/python3, which may lack IPython (xpython) or jedi (both).
    The venv's IPython 9 is too new for it, so borrow a private IPython<9 + jedi from deps,
    after dist-packages so that Debian's own xeus_python_shell still wins."""
    needed = ["jedi"] if target.name.endswith("raw") else ["IPython", "jedi"]
    missing = debian_python_lacks(needed)
    if not missing:
        return
    if not all((deps / m).is_dir() for m in missing):
        target.resource_dir = None
        target.missing_short = f"Debian python3 lacks {', '.join(missing)}"
        target.missing = f"{target.missing_short}; {deps} lacks them too: rerun with --install-xpython-deps"
        return
    target.env["PYTHONPATH"] = os.pathsep.join(["/usr/lib/python3/dist-packages", str(deps)])
    target.note = f"Debian python3 lacks {', '.join(missing)}: borrowed from {deps} via PYTHONPATH"


def resolve_target(name: str, xpython_deps: Path | None) -> KernelTarget:
    """Map a benchmark kernel name to the kernelspec directory it uses."""
    if name in ATRIUM_KERNELS:
        d = atrium_spec_dir(name)
        why = "no kernelspec: set JUPYTER_PATH=build/share/jupyter or ATRIUM_BUILD_DIR"
    elif name == "python3":
        d = venv_prefix() / "share/jupyter/kernels/python3"
        d = d if (d / "kernel.json").is_file() else None
        why = "ipykernel kernelspec not in the venv"
    elif name in ("xeus-python-wheel", "xeus-python-wheel-raw"):
        d = wheel_xpython_spec_dir("xpython-raw" if name.endswith("raw") else "xpython")
        why = "xeus-python wheel kernelspec/binary not in the venv"
    elif name in ("xpython", "xpython-raw"):
        d = Path("/usr/share/jupyter/kernels") / name
        d = d if (d / "kernel.json").is_file() else None
        why = f"/usr/share/jupyter/kernels/{name} missing"
    else:
        raise SystemExit(f"unknown kernel {name!r}; known: {', '.join(KNOWN_KERNELS)}")
    target = KernelTarget(name, d, "" if d else why)
    if d and name in ATRIUM_KERNELS:
        target.env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(d.parents[1]), os.environ.get("JUPYTER_PATH")]))
    if d and xpython_deps and name in ("xpython", "xpython-raw"):
        xpython_bridge(target, xpython_deps)
    return target


class DirSpecManager(KernelSpecManager):
    """Serves exactly one kernelspec from an explicit directory (names collide across prefixes)."""

    def __init__(self, name: str, resource_dir: Path, **kw):
        super().__init__(**kw)
        self._name, self._dir = name, resource_dir

    def find_kernel_specs(self) -> dict[str, str]:
        return {self._name: str(self._dir)}

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name != self._name:
            raise NoSuchKernel(kernel_name)
        return KernelSpec.from_resource_dir(str(self._dir))


# --------------------------------------------------------------------------
# Wire client: one thin zmq client shared by every kernel
# --------------------------------------------------------------------------


@dataclass
class Msg:
    msg_type: str
    parent_id: str
    content: dict


def split_frames(frames: list[bytes]) -> tuple[bytes, bytes, bytes]:
    """(header, parent_header, content) frames of one wire message (signature not checked)."""
    i = frames.index(DELIM)
    return frames[i + 2], frames[i + 3], frames[i + 5]


def parent_id(parent: bytes) -> str:
    """msg_id of a parent_header frame (some kernels send null instead of {})."""
    return (json.loads(parent) or {}).get("msg_id", "")


def parse_msg(frames: list[bytes]) -> Msg:
    header, parent, content = split_frames(frames)
    return Msg(json.loads(header)["msg_type"], parent_id(parent), json.loads(content) or {})


class WireClient:
    """Shell + iopub sockets on one kernel, signing with the kernel's Session key."""

    def __init__(self, km: KernelManager, ctx: zmq.Context):
        self.km = km
        self.session = km.session
        self.shell = ctx.socket(zmq.DEALER)
        self.iopub = ctx.socket(zmq.SUB)
        for s in (self.shell, self.iopub):
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVHWM, 0)  # never drop on our side
            s.setsockopt(zmq.SNDHWM, 0)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.shell.connect(f"tcp://{km.ip}:{km.shell_port}")
        self.iopub.connect(f"tcp://{km.ip}:{km.iopub_port}")

    def close(self) -> None:
        self.shell.close(0)
        self.iopub.close(0)

    def prepare(self, msg_type: str, content: dict) -> tuple[str, list[bytes]]:
        """(msg_id, signed wire frames) of a shell request, ready to send."""
        msg = self.session.msg(msg_type, content)
        return msg["header"]["msg_id"], self.session.serialize(msg)

    def prepare_execute(self, code: str) -> tuple[str, list[bytes]]:
        return self.prepare("execute_request", {
            "code": code, "silent": False, "store_history": False,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})

    def send(self, msg_type: str, content: dict) -> str:
        mid, frames = self.prepare(msg_type, content)
        self.shell.send_multipart(frames)
        return mid

    def execute(self, code: str) -> str:
        mid, frames = self.prepare_execute(code)
        self.shell.send_multipart(frames)
        return mid

    def _poll(self, sock: zmq.Socket, deadline: float, what: str) -> None:
        """Wait until sock is readable; raise BenchError on timeout or kernel death."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"timeout waiting for {what}")
            if sock.poll(min(left, 1.0) * 1000):
                return
            check_alive(self.km)

    def recv_shell(self, deadline: float, what: str = "shell reply") -> Msg:
        if not self.shell.poll(0):
            self._poll(self.shell, deadline, what)
        return parse_msg(self.shell.recv_multipart())

    def wait_reply(self, msg_id: str, deadline: float, what: str = "reply") -> Msg:
        while True:
            m = self.recv_shell(deadline, what)
            if m.parent_id == msg_id:
                return m

    def wait_idle(self, msg_id: str, deadline: float) -> None:
        """Drain iopub until status idle for msg_id."""
        while True:
            if not self.iopub.poll(0):
                self._poll(self.iopub, deadline, "iopub idle")
            m = parse_msg(self.iopub.recv_multipart())
            if m.msg_type == "status" and m.parent_id == msg_id and m.content.get("execution_state") == "idle":
                return

    def drain_iopub(self) -> None:
        while self.iopub.poll(0):
            self.iopub.recv_multipart()


def check_alive(km: KernelManager) -> None:
    if not km.is_alive():
        proc = getattr(km.provisioner, "process", None)
        rc = proc.poll() if proc is not None else None
        how = f"signal {-rc}" if isinstance(rc, int) and rc < 0 else f"exit {rc}"
        raise BenchError(f"kernel died ({how})")


# --------------------------------------------------------------------------
# Kernel lifecycle
# --------------------------------------------------------------------------

_ACTIVE: list["RunningKernel"] = []


class RunningKernel:
    """One launched kernel plus its wire client; always shut down via stop()."""

    def __init__(self, target: KernelTarget, ctx: zmq.Context, log_dir: Path):
        self.target = target
        spec_mgr = DirSpecManager(target.name, target.resource_dir)
        self.km = KernelManager(kernel_name=target.name, kernel_spec_manager=spec_mgr)
        self.km.ip = "127.0.0.1"
        self.km.transport = "tcp"
        self.log_path = log_dir / f"{target.name}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.ctx = ctx
        self.client: WireClient | None = None

    def start(self) -> None:
        env = {**os.environ, **self.target.env}
        _ACTIVE.append(self)
        try:
            self.km.start_kernel(stdout=self._log, stderr=self._log, env=env)
        except Exception as e:  # bad argv, missing binary, ...
            raise BenchError("launch failed", f"{type(e).__name__}: {e}") from e
        self.client = WireClient(self.km, self.ctx)

    def pid(self) -> int | None:
        proc = getattr(self.km.provisioner, "process", None)
        return proc.pid if proc is not None else None

    def log_tail(self, n: int = 600) -> str:
        try:
            self._log.flush()
            return self.log_path.read_bytes()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.client:
            self.client.close()
            self.client = None
        try:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        except Exception:
            pid = self.pid()
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._log.close()
        if self in _ACTIVE:
            _ACTIVE.remove(self)


def kill_all_kernels() -> None:
    for rk in list(_ACTIVE):
        rk.stop()


def kernel_info(client: WireClient, deadline: float) -> dict:
    """Send kernel_info_request (re-sent every 2 s) until a reply arrives; return its content."""
    sent = set()
    while True:
        sent.add(client.send("kernel_info_request", {}))
        resend = min(deadline, time.monotonic() + 2.0)
        try:
            while True:
                m = client.recv_shell(resend, "kernel_info_reply")
                if m.parent_id in sent and m.msg_type == "kernel_info_reply":
                    return m.content
        except BenchError as e:
            if not e.short.startswith("timeout") or time.monotonic() >= deadline:
                raise


def warm_execute(client: WireClient, deadline: float) -> None:
    """Trivial executes until one's iopub idle is seen (iopub subscription is live)."""
    for _ in range(20):
        mid = client.execute(TRIVIAL_CELL)
        reply = client.wait_reply(mid, deadline, "execute_reply")
        if reply.content.get("status") != "ok":
            raise BenchError("trivial execute failed", json.dumps(reply.content)[:300])
        try:
            client.wait_idle(mid, min(deadline, time.monotonic() + 1.0))
            return
        except BenchError as e:
            if not e.short.startswith("timeout"):
                raise
    raise BenchError("no iopub traffic")


def launch_ready(target: KernelTarget, ctx: zmq.Context, log_dir: Path) -> tuple[RunningKernel, dict]:
    """Launch a kernel, wait for kernel_info and a trivial execute with iopub idle."""
    rk = RunningKernel(target, ctx, log_dir)
    try:
        rk.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        info = kernel_info(rk.client, deadline)
        warm_execute(rk.client, deadline)
        return rk, info
    except BaseException as e:
        if isinstance(e, BenchError) and not e.detail:
            e.detail = rk.log_tail()
        rk.stop()
        raise


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def measure_startup_once(target: KernelTarget, ctx: zmq.Context, log_dir: Path) -> tuple[float, float, dict]:
    """(seconds from start_kernel() to the first kernel_info_reply, of which in start_kernel(), info)."""
    rk = RunningKernel(target, ctx, log_dir)
    try:
        t0 = time.perf_counter()
        rk.start()
        spawned = time.perf_counter() - t0
        info = kernel_info(rk.client, time.monotonic() + STARTUP_TIMEOUT)
        elapsed = time.perf_counter() - t0
        return elapsed, spawned, info
    except BenchError as e:
        e.detail = e.detail or rk.log_tail()
        raise
    finally:
        rk.stop()


def measure_startup(target: KernelTarget, ctx: zmq.Context, log_dir: Path, runs: int) -> tuple[list, list, dict]:
    """Startup samples, the start_kernel() part of each, and the last kernel_info."""
    samples, spawn, info = [], [], {}
    for _ in range(runs):
        t, sp, info = measure_startup_once(target, ctx, log_dir)
        samples.append(t)
        spawn.append(sp)
    return samples, spawn, info


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def proc_kib(pid: int, name: str, field_name: str) -> int:
    """A `Field:  N kB` line of /proc/PID/<name>; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def vm_rss_kib(pid: int) -> int:
    return proc_kib(pid, "status", "VmRSS")


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages count once in all, split between the processes sharing them."""
    return proc_kib(pid, "smaps_rollup", "Pss")


def measure_memory(rk: RunningKernel) -> tuple[float, float, list[int]]:
    """MiB of VmRSS and of PSS, each summed over the kernel process and its children."""
    pid = rk.pid()
    if pid is None:
        raise BenchError("no kernel pid")
    pids = process_tree(pid)
    return sum(vm_rss_kib(p) for p in pids) / 1024.0, sum(pss_kib(p) for p in pids) / 1024.0, pids


def measure_rtt(client: WireClient, runs: int, warmup: int) -> list[float]:
    """Seconds from execute_request sent to execute_reply received; iopub drained untimed."""
    samples = []
    for i in range(warmup + runs):
        mid, frames = client.prepare_execute(TRIVIAL_CELL)
        deadline = time.monotonic() + RTT_TIMEOUT
        t0 = time.perf_counter()
        client.shell.send_multipart(frames)
        reply = client.wait_reply(mid, deadline, "execute_reply")
        t1 = time.perf_counter()
        if reply.content.get("status") != "ok":
            raise BenchError("execute error", json.dumps(reply.content)[:300])
        client.wait_idle(mid, deadline)
        if i >= warmup:
            samples.append(t1 - t0)
    return samples


def measure_pipeline(client: WireClient, n: int) -> dict:
    """Send n (pre-signed) execute_requests back to back, then collect the n replies."""
    prepared = [client.prepare_execute(TRIVIAL_CELL) for _ in range(n)]
    ids = [mid for mid, _ in prepared]
    deadline = time.monotonic() + PIPELINE_TIMEOUT
    t0 = time.perf_counter()
    for _, frames in prepared:
        client.shell.send_multipart(frames)
    replies = []
    wanted = set(ids)
    while len(replies) < n:
        m = client.recv_shell(deadline, f"execute_reply {len(replies) + 1}/{n}")
        if m.parent_id in wanted:
            replies.append(m)
    elapsed = time.perf_counter() - t0
    client.wait_idle(ids[-1], time.monotonic() + PIPELINE_TIMEOUT)
    client.drain_iopub()
    in_order = [m.parent_id for m in replies] == ids
    errors = sum(1 for m in replies if m.content.get("status") != "ok")
    return {"n": n, "seconds": elapsed, "eps": n / elapsed, "in_order": in_order, "errors": errors}


def stream_code(lines: int) -> str:
    return f"for i in range({lines}): print(f'{{i:08d}}' + 'x'*{LINE_PAYLOAD})"


def expected_stream(lines: int) -> str:
    tail = "x" * LINE_PAYLOAD + "\n"
    return "".join(f"{i:08d}{tail}" for i in range(lines))


def verify_stream(expected: str, got: str) -> list[str]:
    """Problems with the received stdout text; empty when byte-exact."""
    if got == expected:
        return []
    problems = []
    if len(got) < len(expected):
        problems.append(f"LOST {len(expected) - len(got)} bytes")
    elif len(got) > len(expected):
        problems.append(f"EXTRA {len(got) - len(expected)} bytes")
    good_tail = "x" * LINE_PAYLOAD
    indices, corrupt = [], 0
    for line in got.split("\n")[:-1] if got.endswith("\n") else got.split("\n"):
        head = line[:8]
        if len(line) == 8 + LINE_PAYLOAD and head.isdigit() and line[8:] == good_tail:
            indices.append(int(head))
        else:
            corrupt += 1
    if any(b <= a for a, b in zip(indices, indices[1:])):
        problems.append("OUT OF ORDER")
    if corrupt:
        problems.append(f"CORRUPT {corrupt} lines")
    if not problems:
        problems.append("MISMATCH")
    return problems


def collect_stream(client: WireClient, mid: str, deadline: float) -> tuple[list[tuple[bytes, bytes]], float, Msg | None]:
    """(parent, content) frames of iopub stream messages until idle, the idle time, and the reply.
    Only headers are parsed while the clock runs; stream contents are decoded afterwards."""
    poller = zmq.Poller()
    poller.register(client.iopub, zmq.POLLIN)
    poller.register(client.shell, zmq.POLLIN)
    chunks: list[tuple[bytes, bytes]] = []
    reply = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError("timeout waiting for idle")
        ready = dict(poller.poll(min(left, 1.0) * 1000))
        if not ready:
            check_alive(client.km)
            continue
        if client.shell in ready:
            m = parse_msg(client.shell.recv_multipart())
            if m.parent_id == mid:
                reply = m
        if client.iopub in ready:
            while client.iopub.poll(0):
                header, parent, content = split_frames(client.iopub.recv_multipart())
                mtype = json.loads(header)["msg_type"]
                if mtype == "stream":
                    chunks.append((parent, content))
                elif mtype == "status" and parent_id(parent) == mid \
                        and json.loads(content).get("execution_state") == "idle":
                    return chunks, time.perf_counter(), reply


def stream_text(chunks: list[tuple[bytes, bytes]], mid: str) -> tuple[str, int]:
    """stdout text for msg_id mid, plus bytes seen on other stream names."""
    out, other = [], 0
    for parent, content in chunks:
        if parent_id(parent) != mid:
            continue
        c = json.loads(content)
        if c.get("name") == "stdout":
            out.append(c.get("text", ""))
        else:
            other += len(c.get("text", ""))
    return "".join(out), other


def late_stream(client: WireClient, mid: str) -> int:
    """stdout bytes for mid arriving within LATE_GRACE after idle (they should be none)."""
    late = 0
    end = time.monotonic() + LATE_GRACE
    while (left := end - time.monotonic()) > 0:
        if not client.iopub.poll(left * 1000):
            break
        m = parse_msg(client.iopub.recv_multipart())
        if m.msg_type == "stream" and m.parent_id == mid:
            late += len(m.content.get("text", ""))
    return late


def measure_stream(client: WireClient, mib: int) -> dict:
    """Print mib MiB as 1 KiB numbered lines; MiB/s from send to idle, byte-exact check."""
    lines = mib * 1024
    expected = expected_stream(lines)
    client.drain_iopub()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    mid = client.execute(stream_code(lines))
    chunks, t_idle, reply = collect_stream(client, mid, time.monotonic() + STREAM_TIMEOUT)
    client_cpu = time.process_time() - cpu0
    if reply is None:
        reply = client.wait_reply(mid, time.monotonic() + 10, "execute_reply")
    late = late_stream(client, mid)
    got, other = stream_text(chunks, mid)
    problems = verify_stream(expected, got)
    if late:
        problems.append(f"LATE {late} bytes after idle")
    if reply.content.get("status") != "ok":
        problems.append(f"reply status {reply.content.get('status')}")
    seconds = t_idle - t0
    return {"bytes_expected": len(expected), "bytes_received": len(got), "messages": len(chunks),
            "other_stream_bytes": other, "late_bytes": late, "seconds": seconds, "client_cpu_s": client_cpu,
            "mibps": len(got) / seconds / 2**20, "problems": problems}


def client_overhead_us(session) -> float:
    """Median µs this client spends, inside a timed round trip, parsing one reply
    (requests are signed before the clock starts)."""
    reply = session.serialize(session.msg("execute_reply", {"status": "ok", "execution_count": 1}))
    samples = []
    for _ in range(2000):
        t0 = time.perf_counter()
        parse_msg(reply)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e6


# --------------------------------------------------------------------------
# Running one kernel
# --------------------------------------------------------------------------


@dataclass
class KernelResult:
    name: str
    values: dict = field(default_factory=dict)  # metric -> float
    cells: dict = field(default_factory=dict)  # metric -> override cell text (n/a, LOST...)
    notes: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def fail(self, metrics: list[str], err: BenchError) -> None:
        for k in metrics:
            self.cells[k] = f"n/a ({err.short})"
        detail = "".join(f"\n      {line}" for line in err.detail.splitlines())
        self.notes.append(f"{self.name}: {', '.join(metrics)}: {err.short}{detail}")


def merge_rounds(name: str, rounds: list[KernelResult]) -> KernelResult:
    """One result per kernel: each metric's median over the rounds that measured it. A problem seen in any
    round (n/a, LOST bytes, out of order) stays visible in the cell, since one lost byte is a failure."""
    merged = KernelResult(name, info=next((r.info for r in rounds if r.info), {}))
    metrics = {k for r in rounds for k in r.values} | {k for r in rounds for k in r.cells}
    for k in metrics:
        values = [r.values[k] for r in rounds if k in r.values]
        if values:
            merged.values[k] = statistics.median(values)
        problems = [r.cells[k] for r in rounds if k in r.cells]
        if problems:
            merged.cells[k] = problems[0] if not values else f"{problems[0]} [in {len(problems)}/{len(rounds)} rounds]"
    per_round: dict[str, list[float]] = {}
    for r in rounds:
        merged.notes.extend(r.notes)
        for k, v in r.values.items():
            per_round.setdefault(k, []).append(v)
    # The details section describes the last round's samples; per_round keeps every round's figure.
    merged.raw = {**rounds[-1].raw, "per_round": per_round}
    return merged


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_phase(res: KernelResult, metrics: list[str], fn) -> bool:
    """Run fn(); on BenchError mark metrics n/a and return False."""
    try:
        fn()
        return True
    except Exception as e:  # any failure of a peer (or of our parsing of it) is reported, not fatal
        err = e if isinstance(e, BenchError) else BenchError(f"client error: {type(e).__name__}", repr(e))
        log(f"  {res.name}: {metrics[0]} failed: {err.short}")
        res.fail(metrics, err)
        return False


def bench_kernel(target: KernelTarget, args, ctx: zmq.Context, log_dir: Path, res: KernelResult) -> KernelResult:
    """All measurements of one kernel into res; a fresh kernel after any failed phase."""
    all_metrics = [m[0] for m in METRICS]
    if target.resource_dir is None:
        res.fail(all_metrics, BenchError(target.missing_short, target.missing))
        return res
    res.raw["kernelspec"] = str(target.resource_dir)
    if target.note:
        res.raw["run_note"] = target.note

    def startup():
        samples, spawn, res.info = measure_startup(target, ctx, log_dir, args.startup_runs)
        res.raw["startup_s"] = samples
        res.raw["startup_spawn_s"] = spawn
        res.values["startup_ms"] = statistics.median(samples) * 1e3

    log(f"{target.name}: startup x{args.startup_runs}")
    if not run_phase(res, ["startup_ms"], startup):
        res.fail([k for k in all_metrics if k != "startup_ms"], BenchError("did not start"))
        return res

    kernel: list[RunningKernel] = []  # the live kernel of the phases below, at most one

    def launch():
        rk, info = launch_ready(target, ctx, log_dir)
        kernel.append(rk)
        res.info = res.info or info

    phases = [
        (["rss_mib", "pss_mib"], lambda: phase_rss(kernel[0], res)),
        (["rtt_median_us", "rtt_p99_us"], lambda: phase_rtt(kernel[0], res, args)),
        (["pipeline_eps"], lambda: phase_pipeline(kernel[0], res, args)),
        (["stream_mibps"], lambda: phase_stream(kernel[0], res, args)),
    ]
    try:
        for i, (metrics, fn) in enumerate(phases):
            if not kernel and not run_phase(res, metrics, launch):
                rest = [k for later, _ in phases[i + 1:] for k in later]
                if rest:
                    res.fail(rest, BenchError("relaunch failed"))
                break
            log(f"{target.name}: {metrics[0]}")
            if not run_phase(res, metrics, fn):
                kernel.pop().stop()  # possibly hung or dead: fresh kernel for the next phase
    finally:
        for rk in kernel:
            rk.stop()
    return res


def phase_rss(rk: RunningKernel, res: KernelResult) -> None:
    rss, pss, pids = measure_memory(rk)
    res.values["rss_mib"] = rss
    res.values["pss_mib"] = pss
    res.raw["rss_pids"] = pids


def phase_rtt(rk: RunningKernel, res: KernelResult, args) -> None:
    samples = measure_rtt(rk.client, args.rtt_runs, warmup=min(50, args.rtt_runs // 10))
    res.raw["rtt_s"] = samples
    res.values["rtt_median_us"] = statistics.median(samples) * 1e6
    res.values["rtt_p99_us"] = percentile(samples, 0.99) * 1e6


def phase_pipeline(rk: RunningKernel, res: KernelResult, args) -> None:
    r = measure_pipeline(rk.client, args.pipeline_n)
    res.raw["pipeline"] = r
    res.values["pipeline_eps"] = r["eps"]
    bad = ([] if r["in_order"] else ["OUT OF ORDER"]) + ([f"{r['errors']} errors"] if r["errors"] else [])
    if bad:
        res.cells["pipeline_eps"] = f"{r['eps']:.0f} ({', '.join(bad)})"


def phase_stream(rk: RunningKernel, res: KernelResult, args) -> None:
    r = measure_stream(rk.client, args.stream_mib)
    res.raw["stream"] = r
    res.values["stream_mibps"] = r["mibps"]
    if r["problems"]:
        res.cells["stream_mibps"] = f"{r['mibps']:.1f} ({', '.join(r['problems'])})"
        res.notes.append(f"{res.name}: stream: {', '.join(r['problems'])}; got {r['bytes_received']} of "
                         f"{r['bytes_expected']} bytes in {r['messages']} messages")


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def valid(res: KernelResult, key: str) -> bool:
    """A figure counts for comparison only if measured and not flagged (lost bytes, errors)."""
    return key in res.values and key not in res.cells


def best_peer(results: list[KernelResult], key: str, lower: bool) -> KernelResult | None:
    peers = [r for r in results if r.name not in ATRIUM_KERNELS and valid(r, key)]
    if not peers:
        return None
    pick = min if lower else max
    return pick(peers, key=lambda r: r.values[key])


def compare_row(results: list[KernelResult], metric) -> tuple[str, str, str]:
    """(ratio text, target text, meets text) for one metric row."""
    key, _, _, lower, op, factor = metric
    target = f"{op} {factor:g}x" + (" + all bytes" if key == "stream_mibps" else "")
    atrium = next((r for r in results if r.name == "atrium"), None)
    best = best_peer(results, key, lower)
    if atrium is None or key not in atrium.values:
        return "n/a", target, "n/a"
    if best is None:
        return "n/a (no peer)", target, "n/a"
    ratio = atrium.values[key] / best.values[key]
    ok = ratio <= factor if op == "<=" else ratio >= factor
    ok = ok and valid(atrium, key)
    return f"{ratio:.2f}x vs {best.name}", target, "yes" if ok else "no"


def cell(res: KernelResult, metric) -> str:
    key, _, fmt = metric[:3]
    if key in res.cells:
        return res.cells[key]
    return fmt.format(res.values[key]) if key in res.values else "n/a (not run)"


def isolated_ratio(results: list[KernelResult], metric) -> str:
    """atrium-isolated beside the best peer (issue 15's targets: round trip <= 1.0x, pipelined >= 1.5x)."""
    key, lower = metric[0], metric[3]
    isolated = next((r for r in results if r.name == "atrium-isolated"), None)
    best = best_peer(results, key, lower)
    if isolated is None or not valid(isolated, key) or best is None:
        return "n/a"
    return f"{isolated.values[key] / best.values[key]:.2f}x vs {best.name}"


def format_table(results: list[KernelResult]) -> str:
    with_isolated = any(r.name == "atrium-isolated" for r in results)
    header = (["metric"] + [r.name for r in results] + ["atrium / best peer", "target", "meets"]
              + (["atrium-isolated / best peer"] if with_isolated else []))
    rows = []
    for metric in METRICS:
        ratio, target, meets = compare_row(results, metric)
        rows.append([metric[1]] + [cell(r, metric) for r in results] + [ratio, target, meets]
                    + ([isolated_ratio(results, metric)] if with_isolated else []))
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def kernel_version(info: dict) -> str:
    if not info:
        return "?"
    lang = info.get("language_info", {})
    return (f"{info.get('implementation', '?')} {info.get('implementation_version', '?')}, "
            f"{lang.get('name', '?')} {lang.get('version', '?')}, protocol {info.get('protocol_version', '?')}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_info(args, overhead_us: float, started: str) -> dict:
    return {
        "date": started,
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "loadavg": os.getloadavg(),
        "kernel_os": platform.release(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "jupyter_client": jupyter_client.__version__,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "client_overhead_us": overhead_us,
        "trivial_cell": TRIVIAL_CELL,
        "startup_runs": args.startup_runs,
        "rtt_runs": args.rtt_runs,
        "pipeline_n": args.pipeline_n,
        "stream_mib": args.stream_mib,
    }


def format_header(machine: dict, results: list[KernelResult]) -> str:
    m = machine
    out = [
        f"Atrium kernel benchmark  {m['date']}",
        f"machine: {m['nproc']} cpus, {m['cpu']}, load {', '.join(f'{x:.2f}' for x in m['loadavg'])}",
        f"client: python {m['python']}, jupyter_client {m['jupyter_client']}, pyzmq {m['pyzmq']} "
        f"(libzmq {m['libzmq']}); client parses a reply in ~{m['client_overhead_us']:.0f} µs "
        f"(requests are signed before the clock starts)",
        f"runs: startup x{m['startup_runs']}, round trip x{m['rtt_runs']} of {m['trivial_cell']!r}, "
        f"pipeline x{m['pipeline_n']}, stream {m['stream_mib']} MiB in 1 KiB lines",
        "kernels:",
    ]
    for r in results:
        out.append(f"  {r.name:<22} {kernel_version(r.info)}  [{r.raw.get('kernelspec', '-')}]")
        if r.raw.get("run_note"):
            out.append(f"  {'':<22} note: {r.raw['run_note']}")
    return "\n".join(out)


def format_details(res: KernelResult) -> str:
    """One line of supporting figures for a kernel (spread, message counts, client load)."""
    raw, parts = res.raw, []
    if raw.get("startup_s"):
        parts.append(f"startup {min(raw['startup_s']) * 1e3:.0f}-{max(raw['startup_s']) * 1e3:.0f} ms "
                     f"({statistics.median(raw['startup_spawn_s']) * 1e3:.0f} ms in start_kernel)")
    if raw.get("rtt_s"):
        parts.append(f"rtt mean {statistics.fmean(raw['rtt_s']) * 1e6:.0f} µs, max {max(raw['rtt_s']) * 1e6:.0f} µs")
    if raw.get("pipeline"):
        p = raw["pipeline"]
        parts.append(f"pipeline {p['n']} in {p['seconds']:.2f} s, "
                     f"{'in order' if p['in_order'] else 'OUT OF ORDER'}, {p['errors']} errors")
    if raw.get("stream"):
        st = raw["stream"]
        parts.append(f"stream {st['bytes_received']}/{st['bytes_expected']} B in {st['messages']} msgs, "
                     f"{st['seconds']:.2f} s (client CPU {st['client_cpu_s']:.2f} s)")
    if raw.get("rss_pids"):
        parts.append(f"rss over pids {raw['rss_pids']}")
    rounds = raw.get("per_round", {})
    if any(len(v) > 1 for v in rounds.values()):
        parts.append("per round: " + ", ".join(f"{k} " + "/".join(f"{x:.0f}" for x in v) for k, v in rounds.items()))
    return f"  {res.name}: " + ("; ".join(parts) if parts else "-")


def to_json(machine: dict, results: list[KernelResult]) -> dict:
    return {"machine": machine, "kernels": {r.name: {
        "values": r.values, "cells": r.cells, "notes": r.notes, "raw": r.raw,
        "kernel_info": r.info} for r in results},
        "comparison": {m[0]: dict(zip(("ratio", "target", "meets"), compare_row(results, m))) for m in METRICS}}


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernels", default=",".join(DEFAULT_KERNELS),
                   help="comma list from: " + ", ".join(KNOWN_KERNELS))
    p.add_argument("--quick", action="store_true", help="few runs, 2 MiB stream: a smoke check")
    p.add_argument("--startup-runs", type=int, help="launches for the startup median (default 5)")
    p.add_argument("--rtt-runs", type=int, help="timed round trips (default 1000)")
    p.add_argument("--pipeline-n", type=int, help="pipelined executes (default 1000)")
    p.add_argument("--stream-mib", type=int, help="MiB printed in the stream test (default 20)")
    p.add_argument("--rounds", type=int, help="rounds over all kernels, in rotating order; each row reports the "
                   "median across rounds, so a noisy moment on a shared machine does not decide a ratio "
                   "(default 3, --quick 1)")
    p.add_argument("--json", metavar="OUT", help="write raw numbers to this JSON file")
    p.add_argument("--callgrind-cells", type=int, default=0, metavar="N",
                   help="also count instructions per `pass` round trip under callgrind over N cells (slow; "
                   "default 0: row not measured)")
    p.add_argument("--xpython-deps", type=Path, default=default_xpython_deps(), metavar="DIR",
                   help="IPython<9 + jedi for Debian's xpython when its python3 lacks them (default %(default)s)")
    p.add_argument("--install-xpython-deps", action="store_true", help="pip-install those into --xpython-deps first")
    p.add_argument("--no-xpython-deps", action="store_true", help="run Debian's xpython exactly as installed")
    args = p.parse_args(argv)
    quick = dict(startup_runs=2, rtt_runs=100, pipeline_n=100, stream_mib=2, rounds=1)
    full = dict(startup_runs=5, rtt_runs=1000, pipeline_n=1000, stream_mib=20, rounds=3)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.kernels = [k.strip() for k in args.kernels.split(",") if k.strip()]
    for k in ("startup_runs", "rtt_runs", "pipeline_n", "stream_mib", "rounds"):
        if getattr(args, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1")
    return args


def install_cleanup() -> None:
    """Kernels die with us: at exit, and SIGTERM/SIGHUP act like Ctrl-C (partial table, then exit)."""
    atexit.register(kill_all_kernels)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    if args.install_xpython_deps:
        install_xpython_deps(args.xpython_deps)
    deps = None if args.no_xpython_deps else args.xpython_deps
    targets = [resolve_target(k, deps) for k in args.kernels]
    install_cleanup()
    ctx = zmq.Context()
    log_dir = Path(tempfile.mkdtemp(prefix="atrium-bench-"))
    overhead = client_overhead_us(KernelManager().session)
    rounds: dict[str, list[KernelResult]] = {t.name: [] for t in targets}
    interrupted = False
    try:
        for r in range(args.rounds):
            # Rotating the order spreads slow moments of a shared machine over all kernels.
            order = targets[r % len(targets):] + targets[:r % len(targets)]
            for t in order:
                log(f"round {r + 1}/{args.rounds}")
                rounds[t.name].append(KernelResult(t.name))  # filled in place: an interrupt keeps what was measured
                bench_kernel(t, args, ctx, log_dir, rounds[t.name][-1])
    except KeyboardInterrupt:
        log("interrupted: partial results")
        interrupted = True
    finally:
        kill_all_kernels()
    results = [merge_rounds(t.name, rounds[t.name]) for t in targets if rounds[t.name]]
    if args.callgrind_cells > 0 and not interrupted:
        count_instructions(targets, results, args.callgrind_cells)
    ctx.term()
    machine = machine_info(args, overhead, started)
    if args.json:  # before printing, so a closed stdout cannot lose it
        Path(args.json).write_text(json.dumps(to_json(machine, results), indent=1, default=str))
    print(format_report(machine, results, log_dir, args.json))
    return 130 if interrupted else 0


def count_instructions(targets: list[KernelTarget], results: list[KernelResult], cells: int) -> None:
    """The callgrind row: each kernel started under valgrind on its own, after the wall-time rounds."""
    import callgrind_rtt  # here: it imports this module

    by_name = {r.name: r for r in results}
    for t in targets:
        res = by_name.get(t.name)
        if res is None or t.resource_dir is None:
            continue
        log(f"{t.name}: callgrind over {cells} cells")
        try:
            count = callgrind_rtt.instructions_per_round_trip(str(t.resource_dir), t.name, cells, [], False,
                                                              env=t.env)
            res.values["callgrind_kinstr"] = count / 1000
        except Exception as e:  # reported in the cell, like any other failed measurement
            res.cells["callgrind_kinstr"] = f"n/a ({type(e).__name__})"
            res.notes.append(f"{t.name}: callgrind: {e!r}")


def isolated_ratios(results: list[KernelResult]) -> list[str]:
    """Issue 15's isolated targets, measured against the in-process kernel of the same run."""
    by_name = {r.name: r for r in results}
    shared, isolated = by_name.get("atrium"), by_name.get("atrium-isolated")
    if not shared or not isolated or not valid(shared, "stream_mibps") or "stream_mibps" not in isolated.values:
        return []
    ratio = isolated.values["stream_mibps"] / shared.values["stream_mibps"]
    exact = "every byte" if valid(isolated, "stream_mibps") else "BYTES LOST"
    return ["", f"atrium-isolated / atrium stream: {ratio:.2f}x ({exact}; target >= 0.8x + all bytes)"]


def format_report(machine: dict, results: list[KernelResult], log_dir: Path, json_path: str | None) -> str:
    out = [format_header(machine, results), "", format_table(results)]
    out += isolated_ratios(results) + ["", "details:"]
    out += [format_details(r) for r in results]
    notes = [n for r in results for n in r.notes]
    if notes:
        out += ["", "notes:"] + [f"  - {n}" for n in notes]
    out += ["", f"kernel logs: {log_dir}"] + ([f"raw numbers: {json_path}"] if json_path else [])
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
