"""Kernel services for isolated workers: the resource pool by value, and the kernel's compute cluster.

A worker's namespace lives in another process, so the kernel's pool reaches it by value: `pool.put` pickles the
object in the worker and the kernel keeps the bytes; `pool.get` unpickles them in the reader. In-process contexts
go on sharing by reference. `serve` runs in the kernel; `RemotePool` is `pool` inside a worker.
"""
import os
import time

import _atrium
from atrium_runtime import compute
from atrium_runtime.pool import Pickled, PoolError, check_name, not_found
from atrium_runtime.pool import pool as kernel_pool

MAX_BYTES_VARIABLE = "ATRIUM_POOL_MAX_BYTES"
DEFAULT_MAX_BYTES = 1 << 30

_ERRORS = {"PoolError": PoolError, "KeyError": KeyError, "TimeoutError": TimeoutError,
           "ComputeError": compute.ComputeError}


def max_bytes():
    try:
        return int(os.environ.get(MAX_BYTES_VARIABLE, DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def _too_large(name, size):
    limit = max_bytes()
    return PoolError(f"[pool.too_large] '{name}' pickles to {size / 2**20:.1f} MiB; across isolated workers "
                     f"the limit is {limit / 2**20:.0f} MiB ({MAX_BYTES_VARIABLE})")


def _pickle(name, value):
    import pickle  # here, not at start-up: the kernel imports this module before any cell runs

    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        raise PoolError(f"[pool.unpicklable] '{name}' cannot be shared with isolated workers: it does not "
                        f"pickle ({type(error).__name__}: {error})") from None


# ---- in the kernel: a worker's call, on behalf of the user whose request the worker serves ----

def serve(op, args, blob):
    try:
        return _serve(op, args, blob)
    except Exception as error:
        message = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) else str(error)
        return {"error": type(error).__name__, "message": message}, b""


def _serve(op, args, blob):
    if op == "pool.put":
        if len(blob) > max_bytes():
            raise _too_large(args["name"], len(blob))
        kernel_pool.put(args["name"], Pickled(blob, args.get("type", "object")), private=args.get("private", False))
        return {}, b""
    if op == "pool.get":
        entry = kernel_pool.entry(args["name"])
        if entry is None:
            return {"found": False}, b""
        value = entry.value
        return {"found": True}, value.data if isinstance(value, Pickled) else _pickle(args["name"], value)
    if op == "pool.remove":
        kernel_pool.remove(args["name"])
        return {}, b""
    if op == "pool.list":
        return {"entries": kernel_pool.list()}, b""
    if op == "compute.address":
        client = compute.ctx.client
        return {"address": client.scheduler.address, "local": compute.ctx.status()["local_cluster"]}, b""
    raise ValueError(f"[worker.unknown_call] {op}")


# ---- in a worker ----

def _call(op, args, blob=b""):
    header, data = _atrium.kernel_call(op, args, blob)
    if "error" in header:
        raise _ERRORS.get(header["error"], RuntimeError)(header["message"])
    return header, data


class RemotePool:
    """`pool` in an isolated worker: the kernel's pool, by value (entries are pickled through the kernel)."""

    def put(self, name, value, private=False):
        check_name(name)  # before pickling: a bad name is the error, whatever the value
        data = _pickle(name, value)
        if len(data) > max_bytes():
            raise _too_large(name, len(data))
        _call("pool.put", {"name": name, "private": private, "type": type(value).__name__}, data)

    def get(self, name, default=KeyError, wait=None):
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            header, data = _call("pool.get", {"name": name})
            if header.get("found"):
                import pickle

                return pickle.loads(data)
            if deadline is None or time.monotonic() >= deadline:
                break
            # The kernel answers at once; waiting is polled here, in slices an interrupt can end.
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return not_found(name, default, wait)

    def remove(self, name):
        _call("pool.remove", {"name": name})

    def list(self):
        return _call("pool.list", {})[0]["entries"]

    def __contains__(self, name):
        return any(entry["name"] == name for entry in self.list())  # without fetching the object itself

    def __repr__(self):
        return f"<ResourcePool (by value, through the kernel): {len(self.list())} entries visible>"


def install():
    if _atrium.in_worker():
        import builtins

        builtins.pool = RemotePool()
