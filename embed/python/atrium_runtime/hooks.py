"""Adapts libraries that look for a kernel (IPython's display functions, the `comm` package) when, and
only when, user code imports them: importing IPython eagerly would cost start-up time and memory."""
import sys

from atrium_runtime import comms, display, stdin


def _patch_display_functions(module):
    module.display = display.display
    module.update_display = display.update_display
    module.clear_output = display.clear_output
    module.publish_display_data = display.publish_display_data


def _patch_comm(module):
    module.create_comm = comms.Comm
    module.get_comm_manager = lambda: comms.manager


def _inherit_channel_in_threads(threading):
    """A thread started by a cell writes to that cell's channel, so its output carries the cell's parent
    header, even while other contexts run. (Wrapping start, not run, covers Thread subclasses too.)"""
    import _atrium

    original_start = threading.Thread.start
    execution = sys.modules["atrium_runtime.execution"]

    def start(self):
        handle = _atrium.current_channel()
        if handle:
            run = self.run
            context = execution.current_context()  # get_ipython() in the thread: the cell's shell

            def run_with_channel():
                _atrium.use_channel(handle)
                execution.enter_context(context)
                run()

            self.run = run_with_channel
        original_start(self)

    threading.Thread.start = start


_PATCHES = {
    "IPython.core.display_functions": _patch_display_functions,
    "comm": _patch_comm,
    "getpass": stdin.patch_getpass,
    "threading": _inherit_channel_in_threads,
}


# Plain classes rather than importlib.abc subclasses: the import system only needs these methods, and
# importing importlib.abc would add ~20 ms to kernel start-up.
# Run just before a module executes; each returns the function that undoes it.
_PREPARATIONS = {}


class _PatchingLoader:
    def __init__(self, loader, patch, prepare):
        self._loader = loader
        self._patch = patch
        self._prepare = prepare

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        undo = self._prepare() if self._prepare else None
        try:
            self._loader.exec_module(module)
        finally:
            if undo:
                undo()
        if self._patch:
            self._patch(module)


class _PatchingFinder:
    def find_spec(self, name, path, target=None):
        patch = _PATCHES.get(name)
        prepare = _PREPARATIONS.get(name)
        if patch is None and prepare is None:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, patch, prepare)
        return spec


def add_patch(name, patch):
    """Patches module `name` when it is imported (at once if it already is)."""
    _PATCHES[name] = patch
    if name in sys.modules:
        patch(sys.modules[name])


def add_preparation(name, prepare):
    """Runs `prepare()` just before module `name` executes, and the function it returns just after."""
    _PREPARATIONS[name] = prepare


def install():
    sys.meta_path.insert(0, _PatchingFinder())
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
