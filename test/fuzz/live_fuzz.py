"""Live-kernel protocol fuzzer: signed, mutated messages of every type on shell, control and stdin.

After every batch the kernel must still answer kernel_info and run a real cell *with its stream output*.
Any crash, hang (no answer within the timeout) or lost output ends the run with a non-zero status.

    python test/fuzz/live_fuzz.py --messages 2000                       # the bounded CI run, default kernels
    nice -n 19 python test/fuzz/live_fuzz.py --messages 50000 --kernels atrium atrium-scoped atrium-isolated

shutdown_request is always sent with a `restart` of the wrong type (never true, false or null), so a run never
shuts its kernel down on purpose; a kernel that exits anyway is a finding.
"""

import argparse
import json
import os
import pathlib
import random
import shutil
import tempfile
import sys
import time

import zmq
from jupyter_client.manager import start_new_kernel
from jupyter_client.session import Session

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_KERNELS = ["atrium", "atrium-scoped", "atrium-isolated", "atrium-host", "atrium-host-isolated"]
TIMEOUT = 60
DELIM = b"<IDS|MSG>"

# Code a fuzzed cell may run: nothing that waits for input, sleeps long or ends the process.
SAFE_CODE = ["1+1", "print('fuzz')", "", "x = 1", "raise ValueError('fuzz')", "for", "import sys; sys.stderr.write('e')",
             "display(1)", "%who", "[i for i in range(3)]", "def f(:", "'\\u00e9' * 3", "from comm import create_comm"]
TARGETS = ["jupyter.widget", "echo", "t", "", "jupyter.widget.control"]


def weird_value(rng, depth=0):
    """A value of a random type and size, including nesting and odd strings."""
    choice = rng.randrange(14)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 1, 2 ** 31, -(2 ** 63), 2 ** 64 - 1, 10 ** 30])
    if choice == 3:
        return rng.choice([0.5, -1e308, 1e-300])
    if choice == 4:
        return "x" * rng.choice([0, 1, 55, 56, 100, 1000, 10000, 100000])
    if choice == 5:
        return rng.choice(["\u0000", "\U0001f600" * 10, "<IDS|MSG>", "\n\r\t", "é" * 60])
    if choice == 6 and depth < 3:
        return [weird_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 7 and depth < 3:
        return {str(rng.randrange(100)): weird_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if choice == 8:
        nested = 0
        for _ in range(rng.choice([10, 100, 250, 300])):
            nested = [nested]
        return nested
    if choice == 9:
        return rng.choice(SAFE_CODE)
    if choice == 10:
        return "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(1, 40)))
    return rng.randrange(-5, 100)


def base_messages(rng):
    """(channel, msg_type, content) for every message type, with valid content."""
    comm_id = rng.choice(["c1", "c" * 55, "c" * 56, "c" * 100, "d" * rng.randrange(1, 80)])
    code = rng.choice(SAFE_CODE)
    return [
        ("shell", "execute_request", {"code": code, "silent": rng.random() < 0.2, "store_history": True,
                                      "user_expressions": {}, "allow_stdin": False,
                                      "stop_on_error": rng.random() < 0.5}),
        ("shell", "complete_request", {"code": code, "cursor_pos": len(code)}),
        ("shell", "inspect_request", {"code": "print", "cursor_pos": 3, "detail_level": rng.choice([0, 1])}),
        ("shell", "is_complete_request", {"code": code}),
        ("shell", "history_request", {"hist_access_type": rng.choice(["tail", "range", "search"]), "n": 5,
                                      "session": 0, "start": 0, "stop": 3, "pattern": "*", "raw": True,
                                      "output": False, "unique": False}),
        ("shell", "kernel_info_request", {}),
        ("control", "kernel_info_request", {}),
        ("shell", "comm_info_request", {"target_name": rng.choice(TARGETS)}),
        ("shell", "comm_open", {"comm_id": comm_id, "target_name": rng.choice(TARGETS), "data": {}}),
        ("shell", "comm_msg", {"comm_id": comm_id, "data": {"x": 1}}),
        ("shell", "comm_close", {"comm_id": comm_id, "data": {}}),
        ("control", "interrupt_request", {}),
        ("stdin", "input_reply", {"value": "fuzz"}),
        ("shell", "no_such_request", {"a": 1}),
        ("control", "debug_request", {"command": "initialize"}),
        ("shell", "atrium_reset_context_request", {}),
        # Never a valid restart: a shutdown with true/false/null would end the run on purpose.
        ("control", "shutdown_request", {"restart": "sometimes"}),
        ("shell", "shutdown_request", {"restart": 3}),
    ]


def mutate(rng, session, channel, msg_type, content):
    """A message dict, mutated in content, header or metadata, possibly moved to another channel."""
    content = json.loads(json.dumps(content))
    header_changes = {}
    metadata = {}
    for _ in range(rng.randrange(4)):
        what = rng.randrange(8)
        keys = list(content)
        if what <= 2 and keys:
            key = rng.choice(keys)
            if msg_type == "shutdown_request" and key == "restart":
                continue
            content[key] = weird_value(rng)
        elif what == 3 and keys:
            key = rng.choice(keys)
            if msg_type != "shutdown_request":
                del content[key]
        elif what == 4:
            content[rng.choice(["extra", "code", "comm_id", "target_name", "cursor_pos", "n"])] = weird_value(rng)
        elif what == 5:
            header_changes[rng.choice(["msg_id", "session", "username", "version", "date"])] = weird_value(rng)
        elif what == 6:
            metadata = rng.choice([{"atrium_note": weird_value(rng)}, {"deep": weird_value(rng)}, {}])
        else:
            channel = rng.choice(["shell", "control", "stdin"])
    if msg_type == "shutdown_request" and isinstance(content.get("restart"), bool) or content.get("restart", 0) is None:
        content["restart"] = "no"
    msg = session.msg(msg_type, content, metadata=metadata)
    msg["header"].update(header_changes)
    return channel, msg


def wire_frames(rng, session, msg):
    """Frames for `msg`, sometimes broken at the wire level (bad signature, missing or garbage frames)."""
    frames = session.serialize(msg)
    kind = rng.randrange(20)
    if kind == 0:
        frames[frames.index(DELIM) + 1] = b"0" * 64
    elif kind == 1:
        frames = frames[: rng.randrange(1, len(frames))]
    elif kind == 2:
        body = [rng.choice([b"{", b"[]", b"null", b"{\"a\": \"\\ud800\"}", b'{"msg_type": 5}', json.dumps(weird_value(rng)).encode()])
                for _ in range(4)]
        frames = [DELIM, session.sign(body)] + body
    elif kind == 3:
        frames = [bytes([rng.randrange(256)]) * rng.choice([1, 55, 56, 300])] + frames
    elif kind == 4:
        frames = frames + [b"buffer" * rng.randrange(100)]
    return frames


class kernel_under_fuzz:
    def __init__(self, name):
        self.name = name
        self.km, self.kc = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT)
        info = self.km.get_connection_info()
        self.session = Session(key=info["key"], signature_scheme=info["signature_scheme"], username="fuzz")
        self.ctx = zmq.Context()
        self.sockets = {}
        for channel in ("shell", "control", "stdin"):
            sock = self.ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.connect(f"{info['transport']}://{info['ip']}:{info[channel + '_port']}")
            self.sockets[channel] = sock

    def drain(self):
        for sock in self.sockets.values():
            while sock.poll(0):
                sock.recv_multipart()
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.01)
            except Exception:
                return

    def control_barrier(self):
        """Waits until the kernel has handled every control message of the batch: control is served in order, so
        the answer to one more request sent there comes after theirs. The batch's interrupt_requests, which a
        kernel rightly applies to every running cell its sender may reach, are then done before the check cell."""
        control = self.sockets["control"]
        msg = self.session.msg("kernel_info_request", {})
        self.session.send(control, msg)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if not control.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
                break
            _, frames = self.session.feed_identities(control.recv_multipart())
            try:
                reply = self.session.deserialize(frames)
            except Exception:
                continue  # a reply to a mangled request, signed: still not the one awaited
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return
        raise RuntimeError(f"{self.name}: no answer on control within {TIMEOUT} s")

    def check_alive(self, serial):
        """kernel_info answered, and a cell's stream output delivered (retrying a cell aborted by stop_on_error)."""
        if not self.km.is_alive():
            process = getattr(self.km.provisioner, "process", None)  # a host's front has none of its own
            raise RuntimeError(f"{self.name}: kernel process died (exit {process.poll() if process else None})")
        self.control_barrier()
        msg_id = self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        for attempt in range(3):
            msg_id = self.kc.execute(f"print('alive', {serial})", stop_on_error=False)
            text, status = "", None
            deadline = time.monotonic() + TIMEOUT
            while status is None:
                msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream" and msg["content"].get("name") == "stdout":
                    text += msg["content"]["text"]
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    status = "idle"
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            if reply["content"]["status"] == "aborted":
                continue
            if reply["content"]["status"] != "ok" or text != f"alive {serial}\n":
                raise RuntimeError(f"{self.name}: lost output after batch {serial}: {reply['content']} {text!r}")
            return
        raise RuntimeError(f"{self.name}: every check cell was aborted after batch {serial}")

    def close(self):
        for sock in self.sockets.values():
            sock.close()
        self.ctx.term()
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def fuzz_kernel(name, messages, batch, seed, findings):
    rng = random.Random(seed)
    kernel = kernel_under_fuzz(name)
    sent = 0
    started = time.monotonic()
    try:
        serial = 0
        while sent < messages:
            sent_in_batch = []
            for _ in range(min(batch, messages - sent)):
                channel, msg_type, content = rng.choice(base_messages(rng))
                channel, msg = mutate(rng, kernel.session, channel, msg_type, content)
                frames = wire_frames(rng, kernel.session, msg)
                kernel.sockets[channel].send_multipart(frames)
                sent_in_batch.append({"channel": channel, "frames": [f.hex() for f in frames]})
                sent += 1
            serial += 1
            try:
                kernel.check_alive(serial)
            except Exception as error:
                # The batch, replayable with --replay (re-signed with the new kernel's key).
                findings.write_text("\n".join(json.dumps(m) for m in sent_in_batch) + "\n")
                # A host's front has no process of its own (its provisioner has none).
                process = getattr(kernel.km.provisioner, "process", None)
                code = process.poll() if process else None
                raise RuntimeError(f"{name}: {error!r} after {sent} messages (kernel exit status {code}); "
                                   f"batch saved to {findings}") from error
            kernel.drain()
    finally:
        kernel.close()
    elapsed = time.monotonic() - started
    print(f"{name}: {sent} messages in {serial} batches, {elapsed:.1f} s ({sent / elapsed:.0f}/s), "
          f"no crash, hang or lost output", flush=True)
    return sent


def replay(name, path):
    """Sends a saved batch one message at a time, checking the kernel after each: names the message that kills it."""
    kernel = kernel_under_fuzz(name)
    try:
        for number, line in enumerate(path.read_text().splitlines()):
            saved = json.loads(line)
            frames = [bytes.fromhex(f) for f in saved["frames"]]
            if DELIM in frames:
                at = frames.index(DELIM)
                if len(frames) >= at + 6:
                    frames[at + 1] = kernel.session.sign(frames[at + 2:at + 6])
            kernel.sockets[saved["channel"]].send_multipart(frames)
            try:
                kernel.check_alive(number)
            except Exception as error:
                print(f"message {number} on {saved['channel']}: {error!r}")
                print([f[:300] for f in frames])
                return 1
            kernel.drain()
        print("the batch replayed without a failure")
        return 0
    finally:
        kernel.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", nargs="+", default=DEFAULT_KERNELS)
    parser.add_argument("--messages", type=int, default=2000, help="messages per kernelspec")
    parser.add_argument("--batch", type=int, default=100, help="messages between health checks")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--findings", default=str(REPO / "build" / "live_fuzz_finding.jsonl"),
                        help="where the batch before a failed check is saved")
    parser.add_argument("--replay", help="send a saved batch (one message at a time) to the first kernel")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2 ** 32)
    print(f"live fuzz seed {seed}", flush=True)
    os.environ.setdefault("JUPYTER_PATH", str(REPO / "build" / "share" / "jupyter"))
    findings = pathlib.Path(args.findings)
    # Connection files and the hosts of atrium-host kernels in a runtime dir of this run's own (short: a host's
    # control socket path must fit a unix socket address); its hosts are stopped at the end.
    runtime = tempfile.mkdtemp(prefix="lf-")
    os.environ["JUPYTER_RUNTIME_DIR"] = runtime
    try:
        if args.replay:
            return replay(args.kernels[0], pathlib.Path(args.replay))
        for name in args.kernels:
            fuzz_kernel(name, args.messages, args.batch, seed, findings)
    except Exception as error:
        import traceback
        traceback.print_exc()
        print(f"FINDING (seed {seed}): {error}", file=sys.stderr)
        return 1
    finally:
        stop_hosts(runtime)
        shutil.rmtree(runtime, ignore_errors=True)
    return 0


def stop_hosts(runtime):
    from atrium_host.control import call

    for sock in pathlib.Path(runtime).glob("atrium-host-*.sock"):
        try:
            call(str(sock), {"op": "stop"}, TIMEOUT)
        except Exception as error:
            print(f"stopping the host on {sock}: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
