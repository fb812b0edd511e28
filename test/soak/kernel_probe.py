"""What a kernel process holds, read from the outside: memory, threads, descriptors, worker processes."""

import dataclasses

import psutil


@dataclasses.dataclass
class footprint:
    rss_mib: float
    threads: int
    fds: int
    workers: int

    def __str__(self):
        return f"RSS {self.rss_mib:.1f} MiB, {self.threads} threads, {self.fds} fds, {self.workers} workers"


def kernel_process(km):
    return psutil.Process(km.provisioner.pid)


def measure(km):
    process = kernel_process(km)
    workers = [child for child in process.children() if child.name().startswith("atrium-worker")]
    return footprint(process.memory_info().rss / 2**20, process.num_threads(), process.num_fds(), len(workers))
