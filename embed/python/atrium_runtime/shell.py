"""Each context's IPython shell, made the first time that context needs IPython.

Several shells live in one process (one per scoped note, each on whatever thread runs its cells), so none of
them is IPython's process-wide singleton. What IPython keeps process-wide is routed to the calling thread's
context instead:
- `get_ipython()` (the builtin, and `IPython.core.getipython.get_ipython` that IPython and libraries import)
  and `InteractiveShell.instance()`/`initialized()` answer the current context's shell, making it if needed;
  `InlineBackend.instance()` answers that shell's own inline-plot settings;
- `sys.displayhook` is already routed per thread (execution._cell.hook), so the shell's display_trap and
  builtin_trap, which would swap process-wide hooks and builtins on every cell, are no-ops;
- the display publisher and the displayhook publish through `_atrium.publish`, i.e. the calling thread's
  channel and its request's parent header; tracebacks are recorded for the cell's reply;
- history is an SQLite database in memory, one per shell (no file, no saving thread), and the shell's atexit hook
  is unregistered.
IPython itself is imported on the first shell (~100 ms), never at kernel start-up.
"""
import builtins
import sys

import _atrium
from atrium_runtime import display, execution

_INLINE = ("inline", "module://matplotlib_inline.backend_inline")
_shell_class = None
_ExecutionInfo = _ExecutionResult = None  # IPython's types, set with the shell class


def get_ipython():
    """The calling context's shell, made on first use; None outside any context."""
    context = execution.current_context()
    return context.get_shell() if context is not None else None


def existing_shell():
    """The calling context's shell if it has one already (never makes one)."""
    context = execution.current_context()
    return context.shell if context is not None else None


def _without_runtime_frames(tb):
    """The traceback chain minus Atrium's own frames (compiled under `<atrium-runtime...>`)."""
    frames = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith("<atrium-runtime"):
            frames.append(tb)
        tb = tb.tb_next
    for current, following in zip(frames, frames[1:] + [None]):
        current.tb_next = following
    return frames[0] if frames else None


class _FiguresOfContext:
    """Stands in for matplotlib's `Gcf.figs` (pyplot's open figures, the last one active): one ordered dict per
    context, so notes plotting side by side in one process neither draw into nor show each other's figures."""

    def _figures(self):
        context = execution.current_context()
        if context is None:
            return _figures_outside_contexts
        figures = context.__dict__.get("figures")
        if figures is None:
            import collections

            figures = context.figures = collections.OrderedDict()
        return figures

    def __getitem__(self, num):
        return self._figures()[num]

    def __setitem__(self, num, manager):
        self._figures()[num] = manager

    def __delitem__(self, num):
        del self._figures()[num]

    def __contains__(self, num):
        return num in self._figures()

    def __iter__(self):
        return iter(self._figures())

    def __len__(self):
        return len(self._figures())

    def get(self, num, default=None):
        return self._figures().get(num, default)

    def pop(self, num, *default):
        return self._figures().pop(num, *default)

    def clear(self):
        self._figures().clear()

    def move_to_end(self, num, last=True):
        self._figures().move_to_end(num, last)

    def keys(self):
        return self._figures().keys()

    def values(self):
        return self._figures().values()

    def items(self):
        return self._figures().items()


_figures_outside_contexts = {}


def _figures_per_context(module):
    import collections

    global _figures_outside_contexts
    _figures_outside_contexts = collections.OrderedDict(module.Gcf.figs)
    module.Gcf.figs = _FiguresOfContext()


def _flush_figures_of_context():
    """matplotlib_inline's post-cell flush, for this context's figures: its `show._draw_called` flag is
    process-wide, so another note's flush may have cleared it; figures still open here were drawn in this cell
    (the default, close_figures, closes them after each cell)."""
    backend_inline = sys.modules["matplotlib_inline.backend_inline"]
    from matplotlib._pylab_helpers import Gcf

    if len(Gcf.figs) and backend_inline.InlineBackend.instance().close_figures:
        backend_inline.show._draw_called = True
    backend_inline.flush_figures()


def configure_inline(shell):
    """Inline figures for `shell` when pyplot uses matplotlib_inline: matplotlib_inline configures only the
    first shell (its `configure_inline_support.current_backend` is process-wide), so every other shell is set up
    here, with its own InlineBackend settings."""
    backend_inline = sys.modules.get("matplotlib_inline.backend_inline")
    if backend_inline is None or not hasattr(backend_inline, "configure_inline_support"):
        return
    import matplotlib

    backend = matplotlib.rcParams._get("backend")
    if backend not in _INLINE:
        if _flush_figures_of_context in shell.events.callbacks["post_execute"]:
            shell.events.unregister("post_execute", _flush_figures_of_context)
        return
    from IPython.core.pylabtools import select_figure_formats

    backend_inline.configure_inline_support(shell, backend)
    settings = backend_inline.InlineBackend.instance()
    select_figure_formats(shell, settings.figure_formats, **settings.print_figure_kwargs)
    shell.events.unregister("post_execute", backend_inline.flush_figures)
    if _flush_figures_of_context not in shell.events.callbacks["post_execute"]:
        shell.events.register("post_execute", _flush_figures_of_context)
    shell._atrium_inline_ready = True


def prepare_cell(shell):
    """Before a cell in `shell`: another context may have loaded pyplot's inline backend since this shell was
    made, and only the shell that loaded it was configured by matplotlib_inline."""
    if not shell._atrium_inline_ready and "matplotlib_inline.backend_inline" in sys.modules:
        configure_inline(shell)


def plain_cells_allowed(shell):
    """Whether a cell that compiles as plain Python may skip shell.run_cell: nothing the user configured would
    transform it (AST transformers, autocall of bare names, other interactivity, a Trio runner, a log)."""
    values = shell._trait_values  # what traitlets' get returns once a trait has its value
    try:
        transformers, autocall = values["ast_transformers"], values["autocall"]
        interactivity = values["ast_node_interactivity"]
    except KeyError:  # not read yet: traitlets' get computes the default
        transformers, autocall, interactivity = shell.ast_transformers, shell.autocall, shell.ast_node_interactivity
    return (not transformers and not autocall and interactivity == "last_expr" and shell.trio_runner is None
            and not shell.logger.log_active)


def _assign(obj, name, value):
    """`obj.name = value` for a trait a plain cell sets (`obj` a _QuietCellTraits), stored directly while nothing
    observes or cross-validates it. traitlets' own set (validate, compare, build a change event, look for
    observers) was most of what a `pass` cell cost more once its context had a shell. The values assigned here
    are already of the trait's type (int, bool, ExecutionResult or None), so validating would return them as
    they are."""
    if obj._atrium_quiet and not obj._cross_validation_lock:
        obj._trait_values[name] = value
    else:
        setattr(obj, name, value)


def start_plain_cell(shell, code, execution_count, silent, store_history):
    """What run_cell does before running a cell: the count, the events, the input history. Returns the result
    object the post_run_cell event receives."""
    if not shell._atrium_inline_ready:
        prepare_cell(shell)
    info = _ExecutionInfo(code, store_history, silent, True, None, transformed_cell=code)
    outcome = _ExecutionResult(info)
    outcome.execution_count = execution_count
    _assign(shell, "execution_count", execution_count + 1 if store_history else execution_count)
    events = shell.events
    callbacks = events.callbacks
    events.trigger("pre_execute")
    if not silent and callbacks["pre_run_cell"]:  # triggering an event nobody listens to does nothing
        events.trigger("pre_run_cell", info)
    if store_history:
        shell.history_manager.store_inputs(execution_count, code, code)
    _assign(shell.displayhook, "exec_result", outcome)
    return outcome


def finish_plain_cell(shell, outcome, silent):
    """What run_cell does after running a cell (`outcome` None: the shell was made during the cell)."""
    _assign(shell.displayhook, "exec_result", None)
    if outcome is not None:
        _assign(shell, "last_execution_succeeded", outcome.error_in_exec is None)
        _assign(shell, "last_execution_result", outcome)
    events = shell.events
    events.trigger("post_execute")
    if not silent and outcome is not None and events.callbacks["post_run_cell"]:
        events.trigger("post_run_cell", outcome)


def _route_inline_backend(module):
    """matplotlib_inline.config.InlineBackend is a process-wide singleton; each shell gets its own."""
    original = module.InlineBackend.instance.__func__

    def instance(cls, *args, **kwargs):
        shell = get_ipython()
        if shell is None:
            return original(cls, *args, **kwargs)
        settings = shell.__dict__.get("_atrium_inline")
        if settings is None:
            settings = cls(parent=shell, shell=shell)
            shell._atrium_inline = settings
        return settings

    module.InlineBackend.instance = classmethod(instance)
    module.InlineBackend.initialized = classmethod(lambda cls: existing_shell() is not None)


def _look_like_ipykernel():
    """tqdm.auto picks its notebook (widget) bars only when `ipykernel.zmqshell` is imported: while it decides,
    a placeholder stands in for that module (unless the real one is loaded). Returns the undo."""
    get_ipython()  # it asks IPython's get_ipython() next: IPython must be imported and this context's shell made
    if "ipykernel.zmqshell" in sys.modules:
        return lambda: None
    sys.modules["ipykernel.zmqshell"] = type(sys)("ipykernel.zmqshell")
    return lambda: sys.modules.pop("ipykernel.zmqshell", None)


def _route_getipython(module):
    module.get_ipython = get_ipython


def _define_shell_class():
    """Defines the shell class on first use: the subclass needs IPython imported."""
    global _ExecutionInfo, _ExecutionResult
    import atexit
    import contextlib
    import subprocess

    from IPython.core import page, payloadpage
    from IPython.core.builtin_trap import BuiltinTrap
    from IPython.core.display_trap import DisplayTrap
    from IPython.core.compilerop import CachingCompiler
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.error import UsageError
    from IPython.core.history import HistoryManager
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell
    from IPython.core.magic import Magics, line_magic, magics_class
    from traitlets import All, Type

    _ExecutionInfo, _ExecutionResult = ExecutionInfo, ExecutionResult

    class QuietCellTraits:
        """Keeps `_atrium_quiet`: whether no observer or cross-validator watches any trait in `_atrium_cell_traits`
        (those _assign sets on every plain cell). traitlets adds and removes observers and validators only
        through the methods below, so the flag is recomputed there rather than on every cell."""

        _atrium_cell_traits = ()
        _atrium_quiet = False

        def _atrium_update_quiet(self):
            notifiers = self._trait_notifiers
            watched = (*self._atrium_cell_traits, All)
            # Empty lists stay behind when observers go (traitlets' config loading leaves one under All).
            observed = any(callbacks for key in watched for callbacks in notifiers.get(key, {}).values())
            self._atrium_quiet = not observed and set(self._atrium_cell_traits).isdisjoint(self._trait_validators)

        def _add_notifiers(self, *args, **kwargs):
            super()._add_notifiers(*args, **kwargs)
            self._atrium_update_quiet()

        def _remove_notifiers(self, *args, **kwargs):
            super()._remove_notifiers(*args, **kwargs)
            self._atrium_update_quiet()

        def _register_validator(self, *args, **kwargs):
            super()._register_validator(*args, **kwargs)
            self._atrium_update_quiet()

        def unobserve_all(self, *args, **kwargs):
            super().unobserve_all(*args, **kwargs)
            self._atrium_update_quiet()

    class AtriumHistoryManager(HistoryManager):
        # store_inputs shifts IPython's _i00/_i/_ii/_iii on every stored cell. As its Unicode traits each shift
        # was validated and notified (~50k instructions a cell); as plain attributes (the values are always
        # str) these are four stores. They are private to the history manager: nothing observes them.
        _i00 = _i = _ii = _iii = ""

    class KeepBuiltins(BuiltinTrap):
        """Builtins are shared by every context: get_ipython, exit and quit are set once, routed per context."""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class KeepDisplayhook(DisplayTrap):
        """sys.displayhook is routed to the calling thread's cell already (execution._cell.hook)."""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class AtriumDisplayPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            msg_type = "update_display_data" if update else "display_data"
            _atrium.publish(msg_type, {"data": data, "metadata": metadata or {}, "transient": transient or {}})

        def clear_output(self, wait=False):
            _atrium.publish("clear_output", {"wait": bool(wait)})

    class AtriumDisplayHook(QuietCellTraits, DisplayHook):
        """execute_result with the shell's formatters (%precision, figure formats, pretty printing)."""

        _bundle = None
        _atrium_cell_traits = ("exec_result",)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._atrium_update_quiet()

        def __call__(self, result=None):
            if isinstance(result, execution.ExitRequest):
                result()
                return
            super().__call__(result)

        def start_displayhook(self):
            self._bundle = None

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self._bundle = (format_dict, md_dict or {})

        def finish_displayhook(self):
            if self._bundle is not None:
                data, metadata = self._bundle
                _atrium.publish("execute_result",
                                {"execution_count": self.prompt_count, "data": data, "metadata": metadata})
            self._bundle = None

    class AtriumCompiler(CachingCompiler):
        def get_code_name(self, raw_code, transformed_code, number):
            digest = super().get_code_name(raw_code, transformed_code, number).rstrip(">").rsplit("-", 1)[-1]
            return f"{execution.cell_prefix()}{number}-{digest}.py"

        def format_code_name(self, name):
            # Also cells the context ran before it had a shell: /tmp/atrium_<pid>/N.py or N.k.py (unstored).
            number = execution.cell_number(name)
            if number is not None:
                return "Cell", f"In[{number}]"
            return super().format_code_name(name)

    @magics_class
    class AtriumMagics(Magics):
        """Atrium's own magics, listed by %lsmagic. The kernel serves them before a cell reaches Python (see
        session/kernel_magic); these serve what reaches IPython anyway (`get_ipython().run_line_magic`, a magic
        inside a block)."""

        def _whole_cell(self, name):
            raise UsageError(f"[magic.whole_cell] %{name} acts on the whole context: give it a cell of its own.")

        @line_magic
        def note(self, line):
            """%note NAME: attach this client session to note NAME (a cell of its own, or a cell's first line)."""
            self._whole_cell("note")

        @line_magic
        def contexts(self, line):
            """%contexts: the kernel's contexts, their state and queues."""
            print(_atrium.kernel_magic("contexts", line), end="")

        @line_magic
        def reset_context(self, line):
            """%reset_context: a fresh namespace, count and history for this context (a cell of its own)."""
            self._whole_cell("reset_context")

    class AtriumShell(QuietCellTraits, InteractiveShell):
        displayhook_class = Type(AtriumDisplayHook)
        display_pub_class = Type(AtriumDisplayPublisher)
        compiler_class = Type(AtriumCompiler)
        _atrium_cell_traits = ("execution_count", "last_execution_succeeded", "last_execution_result")

        def __init__(self, **kwargs):
            self._atrium_loop = None
            self._atrium_inline_ready = False
            super().__init__(**kwargs)
            self._atrium_update_quiet()
            atexit.unregister(self.atexit_operations)  # else every context's shell lives until exit
            self.loop_runner = self._run_on_own_loop
            self.register_magics(AtriumMagics)

        # The prefilter (autocall, aliases, escapes on single-line cells) is half the cost of a shell and only
        # used by cells that are not plain Python: made on first use, so a note's first shell stays cheap.
        @property
        def prefilter_manager(self):
            manager = self.__dict__.get("_atrium_prefilter")
            if manager is None:
                from IPython.core.prefilter import PrefilterManager

                manager = self.__dict__["_atrium_prefilter"] = PrefilterManager(shell=self, parent=self)
                self.configurables.append(manager)
            return manager

        @prefilter_manager.setter
        def prefilter_manager(self, manager):
            self.__dict__["_atrium_prefilter"] = manager

        def init_prefilter(self):
            pass

        def init_history(self):
            self.history_manager = AtriumHistoryManager(shell=self, parent=self)
            self.configurables.append(self.history_manager)

        def prefilter(self, line, continue_prompt=False):
            return self.prefilter_manager.prefilter_lines(line, continue_prompt)

        # -- process-wide state IPython would touch, kept per context --
        def init_virtualenv(self):
            pass  # the kernel already runs in its environment's interpreter

        def init_sys_modules(self):
            pass  # the kernel decides which context is __main__

        def init_builtins(self):
            builtins.__IPYTHON__ = True
            self.builtin_trap = KeepBuiltins(shell=self)

        def init_displayhook(self):
            super().init_displayhook()
            self.display_trap = KeepDisplayhook(hook=self.displayhook)

        @contextlib.contextmanager
        def _tee(self, channel):
            # IPython copies output into its history by replacing sys.stdout.write for the cell: process-wide,
            # so concurrent contexts would record each other's output. Atrium keeps no stream output history.
            yield

        def init_hooks(self):
            super().init_hooks()
            self.set_hook("show_in_pager", page.as_hook(payloadpage.page), 99)

        def _run_on_own_loop(self, coroutine):
            """Top-level await: each context's own event loop, whichever thread runs its cell."""
            if self._atrium_loop is None:
                import asyncio

                self._atrium_loop = asyncio.new_event_loop()
            return self._atrium_loop.run_until_complete(coroutine)

        def close(self):
            if self._atrium_loop is not None and not self._atrium_loop.is_running():
                self._atrium_loop.close()

        # -- kernel behaviour, as ipykernel's shell --
        def enable_gui(self, gui=None):
            pass  # no GUI event loop in a kernel; inline and widget backends need none

        def enable_matplotlib(self, gui=None):
            result = super().enable_matplotlib(gui)
            configure_inline(self)
            return result

        def ask_exit(self):
            execution.payloads().append({"source": "ask_exit", "keepkernel": False})

        def _get_exc_info(self, exc_tuple=None):
            etype, value, tb = super()._get_exc_info(exc_tuple)
            return etype, value, _without_runtime_frames(tb)

        def _showtraceback(self, etype, evalue, stb):
            content = {"ename": etype.__name__, "evalue": str(evalue), "traceback": stb}
            execution.record_error(content)
            _atrium.publish("error", content)

        def system_piped(self, cmd):
            """`!cmd`: output to the calling context's stdout (merged with stderr, as on a terminal); stdin is
            empty, so a command that reads it gets EOF instead of waiting."""
            if cmd.rstrip().endswith("&"):
                raise OSError("Background processes not supported.")
            command = self.var_expand(cmd, depth=1)
            process = subprocess.Popen(command, shell=True, executable=_shell_executable(),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT)
            try:
                # Waits in short slices: a scoped note's interrupt is raised at its thread's next bytecode.
                import select

                while True:
                    if not select.select([process.stdout], [], [], 0.1)[0]:
                        continue
                    chunk = process.stdout.read1(65536)
                    if not chunk:
                        break
                    sys.stdout.write(chunk.decode("utf-8", "replace"))
                exit_code = _exit_code(process.wait())
            except KeyboardInterrupt:
                process.kill()
                process.wait()
                print("^C", file=sys.stderr)
                exit_code = -2
            finally:
                process.stdout.close()
            self.user_ns["_exit_code"] = exit_code
            if self.system_raise_on_error and exit_code != 0:
                raise subprocess.CalledProcessError(exit_code, cmd)

        system = system_piped

        def getoutput(self, cmd, split=True, depth=0):
            from IPython.utils.text import LSString, SList

            if cmd.rstrip().endswith("&"):
                raise OSError("Background processes not supported.")
            command = self.var_expand(cmd, depth=depth + 1)
            completed = subprocess.run(command, shell=True, executable=_shell_executable(),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT)
            self.user_ns["_exit_code"] = completed.returncode
            if self.system_raise_on_error and completed.returncode != 0:
                raise subprocess.CalledProcessError(completed.returncode, cmd)
            text = completed.stdout.decode("utf-8", "replace")
            return SList(text.splitlines()) if split else LSString(text)

    for defined in (AtriumShell, AtriumMagics, AtriumDisplayHook, AtriumDisplayPublisher, AtriumCompiler):
        defined.__qualname__ = defined.__name__  # get_ipython() shows as <atrium_runtime.shell.AtriumShell at ...>
    # Code that asks IPython's singleton directly (InteractiveShell.instance()) gets the caller's shell.
    InteractiveShell.instance = classmethod(lambda cls, *args, **kwargs: get_ipython())
    InteractiveShell.initialized = classmethod(lambda cls: execution.current_context() is not None)
    return AtriumShell


def _exit_code(returncode):
    """`!cmd`'s `_exit_code` as IPython sets it: a command killed by signal N gives -N, whether the shell lets Popen
    see the signal (bash exec's a lone command) or reports 128 + N (dash, Debian's /bin/sh)."""
    return -(returncode - 128) if returncode > 128 else returncode


def _shell_executable():
    import os

    return os.environ.get("SHELL") or "/bin/sh"


def make_shell(context):
    """A new shell over `context`'s namespace, taking over the history the context kept without one."""
    global _shell_class
    if _shell_class is None:
        _shell_class = _define_shell_class()
    from traitlets.config import Config

    config = Config()
    # History in an SQLite database in memory, the shell's own (no file shared by shells, no saving thread), so
    # %history -l/-g and %rerun work. Only the thread running this context's cell uses it, one cell at a time,
    # but that thread differs between cells in scoped mode.
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryManager.connection_options = {"check_same_thread": False}
    # Libraries ask `"IPKernelApp" in get_ipython().config` to tell a notebook from a terminal (tqdm, pandas).
    config["IPKernelApp"] = Config()
    shell = _shell_class(user_module=context.module, config=config)
    namespace = context.namespace
    history = shell.history_manager
    for count, source in zip(context.input_counts, context.inputs[1:]):
        history.store_inputs(count, source)  # In, _i*, and the database %history -l/-g search
    history.output_hist.update(context.outputs)
    hook = shell.displayhook
    hook._, hook.__, hook.___ = (namespace.get(name, "") for name in ("_", "__", "___"))
    shell.execution_count = context.count
    shell.compile.flags |= context.future_flags  # `from __future__` imports of the cells run without a shell
    # Atrium's exit/quit (the ask_exit payload) rather than the ones IPython put in the namespace.
    for name in ("exit", "quit"):
        namespace.pop(name, None)
        shell.user_ns_hidden.pop(name, None)
    configure_inline(shell)
    return shell


def install():
    from atrium_runtime import hooks

    builtins.get_ipython = get_ipython
    display.current_shell = existing_shell
    execution.make_shell = make_shell
    execution.prepare_cell = prepare_cell
    execution.plain_cells_allowed = plain_cells_allowed
    execution.start_plain_cell = start_plain_cell
    execution.finish_plain_cell = finish_plain_cell
    hooks.add_patch("IPython.core.getipython", _route_getipython)
    hooks.add_patch("matplotlib_inline.config", _route_inline_backend)
    hooks.add_patch("matplotlib._pylab_helpers", _figures_per_context)
    hooks.add_preparation("tqdm.autonotebook", _look_like_ipykernel)
    import os

    # As ipykernel: pyplot draws inline unless the user chose a backend.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
