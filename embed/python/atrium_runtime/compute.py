"""The managed compute context `ctx`: one long-lived Dask client for the whole kernel, as Apache Toree hands
every cell a SparkContext.

Created on first use (importing Dask costs half a second, starting a cluster seconds): by default a local
cluster owned by the kernel; with ATRIUM_DASK_SCHEDULER (kernel flag --dask-scheduler) an existing scheduler,
the path for users who outgrow one machine. The cluster belongs to the kernel, not to a context: resetting or
culling a note leaves it, and its published datasets, in place. Failures are exceptions with the cause in the
message ([compute.*]); the kernel keeps working without the cluster.
"""
import _thread
import os

import _atrium

SCHEDULER_VARIABLE = "ATRIUM_DASK_SCHEDULER"
CONNECT_TIMEOUT_SECONDS = 10

_cell = _thread._local()  # futures submitted by the cell running on this thread: cancelled if it is interrupted


class ComputeError(RuntimeError):
    """The compute context could not do what was asked; the message says why ([compute.*])."""


def _local_shape():
    cores = os.cpu_count() or 1
    workers = int(os.environ.get("ATRIUM_DASK_WORKERS", min(2, cores)))
    threads = int(os.environ.get("ATRIUM_DASK_THREADS", max(1, cores // workers)))
    return workers, threads


class ComputeContext:
    """`ctx` in every namespace. `ctx.client` is the Dask client; the methods cover what cells do most."""

    def __init__(self):
        self._lock = _thread.allocate_lock()
        self._client = None
        self._cluster = None
        self._kernel_cluster_is_local = False  # in an isolated worker: whether the kernel's cluster is local

    # ---- the client ----

    @property
    def started(self):
        return self._client is not None

    @property
    def client(self):
        with self._lock:
            if self._client is None or self._client.status in ("closed", "closing"):
                self._client = self._connect()
            return self._client

    def _connect(self):
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise ComputeError("[compute.unavailable] the 'distributed' package is not installed in this "
                               "kernel's environment (pip install distributed)") from None
        address = os.environ.get(SCHEDULER_VARIABLE, "").strip()
        if _atrium.in_worker():
            # An isolated worker joins the kernel's cluster, so every note shares one cluster and its datasets.
            address, self._kernel_cluster_is_local = _kernel_cluster()
        try:
            if address:
                return Client(address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=True)
            if self._cluster is None:
                workers, threads = _local_shape()
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, host="127.0.0.1",
                                             dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
            return Client(self._cluster, set_as_default=True)
        except Exception as error:
            where = f"the Dask scheduler at {address}" if address else "a local Dask cluster"
            raise ComputeError(f"[compute.unreachable] could not start or reach {where}: "
                               f"{type(error).__name__}: {error}") from error

    # ---- what cells do most ----

    def submit(self, func, *args, **kwargs):
        future = self.client.submit(func, *args, **kwargs)
        _track([future])
        return future

    def map(self, func, *iterables, **kwargs):
        futures = self.client.map(func, *iterables, **kwargs)
        _track(futures)
        return futures

    def gather(self, futures, **kwargs):
        return self.client.gather(futures, **kwargs)

    def publish(self, name, value):
        """Makes `value` (e.g. a persisted collection) available to every note under `name`."""
        self.client.publish_dataset(value, name=name, override=True)

    def fetch(self, name):
        missing = object()
        value = self.client.get_dataset(name, default=missing)
        if value is missing:
            raise KeyError(f"[compute.no_dataset] no dataset '{name}' is published "
                           f"(published: {sorted(self.client.list_datasets())})")
        return value

    @property
    def dashboard_link(self):
        return self.client.dashboard_link

    def status(self):
        """Workers, cores, memory and tasks of the cluster (starts it if needed)."""
        info = self.client.scheduler_info(n_workers=-1) if _accepts_n_workers() else self.client.scheduler_info()
        workers = info.get("workers", {})
        tasks = self.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        return {
            "scheduler": info.get("address"),
            "workers": len(workers),
            "cores": sum(w.get("nthreads", 0) for w in workers.values()),
            "memory_bytes": sum(w.get("memory_limit", 0) or 0 for w in workers.values()),
            "tasks": tasks,
            "local_cluster": self._cluster is not None or self._kernel_cluster_is_local,
        }

    def __repr__(self):
        if not self.started:
            target = os.environ.get(SCHEDULER_VARIABLE) or "a local cluster"
            return f"<ComputeContext: not started; first use connects to {target}>"
        return f"<ComputeContext: {self._client!r}>"


def _kernel_cluster():
    """(scheduler address, whether it is the kernel's local cluster), starting the cluster if needed."""
    header, _ = _atrium.kernel_call("compute.address", {}, b"")
    if "error" in header:
        raise ComputeError(header["message"])
    return header["address"], header["local"]


def _accepts_n_workers():
    import inspect

    from distributed import Client

    return "n_workers" in inspect.signature(Client.scheduler_info).parameters


def _track(futures):
    if hasattr(_cell, "futures"):
        _cell.futures.extend(futures)


def begin_cell():
    _cell.futures = []


def end_cell(interrupted):
    """Interrupting a cell cancels the Dask tasks it submitted through ctx."""
    futures = getattr(_cell, "futures", [])
    _cell.futures = []
    if interrupted and futures and ctx.started:
        try:
            ctx.client.cancel(futures)
        except Exception:
            pass


def describe():
    """One line for %contexts."""
    if not ctx.started:
        return "compute: not started (first use of ctx starts it)"
    try:
        s = ctx.status()
        kind = "local cluster" if s["local_cluster"] else "scheduler"
        return (f"compute: {kind} {s['scheduler']}, {s['workers']} workers, {s['cores']} cores, "
                f"{s['memory_bytes'] / 2**30:.1f} GiB, {s['tasks']} tasks")
    except Exception as error:
        return f"compute: unavailable ({type(error).__name__}: {error})"


ctx = ComputeContext()


def install():
    import builtins

    builtins.ctx = ctx
