"""The resource pool: named objects handed between notes (Zeppelin's ResourcePool), one per kernel process.

In-process contexts share entries by reference. An entry belongs to the user who put it: other users can read
it (kernel-wide entries) but not overwrite or remove it. In per-user modes `private=True` puts an entry in the
owner's private area, invisible to everyone else. Entries outlive context resets and culling.
"""
import _thread
import time

import _atrium


class PoolError(Exception):
    """A pool operation that is not allowed (the message carries a [pool.*] id)."""


class Pickled:
    """An entry put by an isolated worker: held as its pickle, since the kernel may not be able to import what
    it contains; unpickled by in-process readers, handed over as is to other workers."""

    __slots__ = ("data", "type_name")

    def __init__(self, data, type_name):
        self.data = data
        self.type_name = type_name


class _Entry:
    __slots__ = ("value", "owner", "private", "created")

    def __init__(self, value, owner, private):
        self.value = value
        self.owner = owner
        self.private = private
        self.created = time.time()

    @property
    def type_name(self):
        return self.value.type_name if isinstance(self.value, Pickled) else type(self.value).__name__


class ResourcePool:
    def __init__(self):
        self._entries = {}  # (area, name) -> _Entry; area is "" for kernel-wide, the user for private
        self._creating = _thread.allocate_lock()
        self._condition = None  # made on first use: importing threading at start-up costs ~8 ms

    @property
    def _changed(self):
        if self._condition is None:
            with self._creating:
                if self._condition is None:
                    import threading

                    self._condition = threading.Condition()
        return self._condition

    @staticmethod
    def _requester():
        user, per_user = _atrium.requester()
        return user, per_user

    def _visible(self, name, user):
        with self._changed:
            return self._entries.get((user, name)) or self._entries.get(("", name))

    def put(self, name, value, private=False):
        """Publishes `value` under `name`; notes waiting for it in `get(name, wait=...)` are released."""
        check_name(name)
        user, per_user = self._requester()
        if private and not per_user:
            raise PoolError("[pool.no_private_area] private entries exist only in per-user modes "
                            "(--scope=user); this kernel's entries are all kernel-wide")
        key = (user if private else "", name)
        with self._changed:
            existing = self._entries.get(key)
            if existing is not None and existing.owner != user:
                raise PoolError(f"[pool.forbidden] '{name}' belongs to user '{existing.owner}'; "
                                f"only they can overwrite it")
            self._entries[key] = _Entry(value, user, private)
            self._changed.notify_all()

    def entry(self, name):
        """The raw entry visible to the requester (for serving isolated workers), or None."""
        return self._visible(name, self._requester()[0])

    def get(self, name, default=KeyError, wait=None):
        """The object under `name`. With `wait=seconds`, waits for another note to put it first."""
        user, _ = self._requester()
        deadline = None if wait is None else time.monotonic() + wait
        with self._changed:
            while True:
                entry = self._entries.get((user, name)) or self._entries.get(("", name))
                if entry is not None:
                    if isinstance(entry.value, Pickled):
                        import pickle

                        return pickle.loads(entry.value.data)
                    return entry.value
                if deadline is None or time.monotonic() >= deadline:
                    break
                # Short slices: an interrupt of this cell is delivered between them.
                self._changed.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return not_found(name, default, wait)

    def remove(self, name):
        user, _ = self._requester()
        with self._changed:
            key = (user, name) if (user, name) in self._entries else ("", name)
            entry = self._entries.get(key)
            if entry is None:
                raise KeyError(f"[pool.missing] no pool entry '{name}'")
            if entry.owner != user:
                raise PoolError(f"[pool.forbidden] '{name}' belongs to user '{entry.owner}'; only they can remove it")
            del self._entries[key]

    def list(self):
        """The entries this user can see: name, owner, type and whether it is private."""
        user, _ = self._requester()
        with self._changed:
            return [{"name": name, "owner": e.owner, "type": e.type_name, "private": e.private}
                    for (area, name), e in sorted(self._entries.items()) if area in ("", user)]

    def __contains__(self, name):
        return self._visible(name, self._requester()[0]) is not None

    def __repr__(self):
        return f"<ResourcePool: {len(self.list())} entries visible>"


def check_name(name):
    if not isinstance(name, str) or not name:
        raise PoolError("[pool.bad_name] a pool name is a non-empty string")


def not_found(name, default, wait):
    """What `get` gives when nothing is under `name`: the default, or the error that says why."""
    if default is not KeyError:
        return default
    if wait is not None:
        raise TimeoutError(f"[pool.timeout] nothing was put under '{name}' within {wait} s")
    raise KeyError(f"[pool.missing] no pool entry '{name}' (pool.list() shows what there is)")


pool = ResourcePool()


def install():
    import builtins

    builtins.pool = pool
