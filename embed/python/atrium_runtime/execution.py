"""Compiling and running cells in a context's namespace."""
# ast and linecache are imported by the first cell rather than at start-up (~8 ms of the kernel's launch).
import _thread
import builtins
import sys
from _weakref import ref as _weakref

import _atrium
from atrium_runtime import display


_EXIT = r"(exit|quit)(\s*\(.*\))?$"  # not stored in history, as IPython does

# Contexts run side by side on different threads, so what belongs to "the cell being run" is per thread:
# its context, displayhook (sys.displayhook itself is process-wide), payloads (page, ask_exit) and error.
_cell = _thread._local()
_latest = None  # weak reference to the context of the latest cell (for threads no cell started): never keeps a
                # reset or culled context alive
# Set by atrium_runtime.shell (loaded after this module).
make_shell = prepare_cell = plain_cells_allowed = start_plain_cell = finish_plain_cell = None
# Modules a cell needs, imported by the first cell and kept here: an `import` statement run in every cell costs
# CPython 3.11 a failed lookup of the module spec's `_initializing` (an AttributeError built and dropped) per
# module, ~6% of a `pass` round trip's instructions for the three below.
_ast = _linecache = _compute = _warnings = _show_counted = None


def _modules():
    global _ast, _linecache, _compute, _warnings, _show_counted
    if _compute is None:
        import ast
        import linecache
        import warnings

        from atrium_runtime import compute

        _ast, _linecache, _compute, _warnings = ast, linecache, compute, warnings
        _show_counted = warnings._showwarnmsg = _counting_shown_warnings(warnings._showwarnmsg)


def _counting_shown_warnings(show):
    """warnings' display hook, counting per thread the warnings it shows (see _compile_cell)."""

    def counted(msg):
        counts = _shown.__dict__
        counts["count"] = counts.get("count", 0) + 1
        return show(msg)

    return counted


_shown = _thread._local()


def current_context():
    context = getattr(_cell, "context", None)
    if context is None and _latest is not None:
        context = _latest()
    return context


def enter_context(context):
    _cell.context = context


def payloads():
    if not hasattr(_cell, "payloads"):
        _cell.payloads = []
    return _cell.payloads


def record_error(content):
    _cell.error = content


def _route_displayhook(value):
    hook = getattr(_cell, "hook", None)
    if hook is not None:
        hook(value)


class ExitRequest:
    """`exit` and `quit` in a cell: like ipykernel, ask the frontend to close (the ask_exit payload) instead
    of raising SystemExit in a kernel that other clients may share."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"Use {self._name}() to leave this frontend (the kernel keeps running for other clients)."

    def __call__(self, keep_kernel=False):
        payloads().append({"source": "ask_exit", "keepkernel": bool(keep_kernel)})


class Context:
    """A context's namespace and, from the first cell that needs IPython, its IPython shell.

    Until then plain Python cells run here without IPython (a new context costs microseconds, not the few ms
    of a shell), keeping IPython's history names (In, Out, _, _i, _iN, _N...) the same way, so the shell
    made later takes them over. Once the shell exists every cell goes through it."""

    def __init__(self, module):
        self.module = module
        self.namespace = module.__dict__
        self.shell = None
        self.count = 1
        self.inputs = [""]
        self.input_counts = []  # the execution count of each of inputs[1:]
        self.outputs = {}
        self.last_inputs = ("", "", "", "")  # IPython's _i00, _i, _ii, _iii
        self.future_flags = 0  # `from __future__ import ...` of earlier cells, as IPython's compiler keeps them
        self._making_shell = False
        self.namespace.update({"In": self.inputs, "_ih": self.inputs, "Out": self.outputs, "_oh": self.outputs,
                               "_": "", "__": "", "___": "", "_i": "", "_ii": "", "_iii": ""})

    def get_shell(self):
        if self.shell is None and not self._making_shell and make_shell is not None:
            self._making_shell = True  # code run while the shell is made must not make a second one
            try:
                self.shell = make_shell(self)
            finally:
                self._making_shell = False
        return self.shell

    def close(self):
        if self.shell is not None:
            self.shell.close()
            self.shell = None

    def store_input(self, count, code):
        source = code.rstrip("\n")
        import re

        if re.match(_EXIT, source.strip()):
            return
        self.inputs.append(source)
        self.input_counts.append(count)
        i00, i, ii, _ = self.last_inputs
        self.last_inputs = (source, i00, i, ii)
        self.namespace.update({"_i": i00, "_ii": i, "_iii": ii, f"_i{count}": source})

    def store_output(self, count, value):
        namespace = self.namespace
        namespace["___"], namespace["__"], namespace["_"] = namespace.get("__", ""), namespace.get("_", ""), value
        self.outputs[count] = value
        namespace[f"_{count}"] = value


class _ResultHook:
    """sys.displayhook while a plain cell's last expression runs: publishes execute_result, keeps `_`."""

    def __init__(self, context, execution_count):
        self.context = context
        self.execution_count = execution_count

    def __call__(self, value):
        if value is None:
            return
        if isinstance(value, ExitRequest):
            value()  # a bare `exit` acts as the call, as IPython's autocall makes it
            return
        shell = self.context.shell
        if shell is None and not display.plain_repr_matches(value):
            shell = self.context.get_shell()  # IPython's pretty printer, as ipykernel shows it
        if shell is not None:  # made during this cell (get_ipython(), matplotlib...): it shows the result
            shell.displayhook(value)
            return
        self.context.store_output(self.execution_count, value)
        data, metadata = display.format_bundle(value)
        _atrium.publish("execute_result",
                        {"execution_count": self.execution_count, "data": data, "metadata": metadata})


_cell_prefix = None


def cell_prefix():
    """Where cells claim to live, e.g. /tmp/atrium_1234/: a path (never written) rather than a `<name>`, because
    IPython's traceback formatter lays out path-like sources as it does ipykernel's cells (which ipykernel
    names /tmp/ipykernel_<pid>/<hash>.py)."""
    global _cell_prefix
    if _cell_prefix is None:
        import os

        _cell_prefix = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"atrium_{os.getpid()}") + os.sep
    return _cell_prefix


def cell_number(filename):
    """The execution count in a cell's filename (made by cell_prefix), or None."""
    prefix = cell_prefix()
    if not filename.startswith(prefix):
        return None
    number = filename[len(prefix):].split(".")[0].split("-")[0]
    return number if number.isdigit() else None


def _register_source(filename, code):
    # linecache lets tracebacks and inspect.getsource show the lines of a cell.
    lines = code.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    _linecache.cache[filename] = (len(code), None, lines, filename)


# Cells compiled before: source -> (warning filters then, the code objects). Compiling (parse, AST objects,
# code generation) was ~14% of a `pass` round trip's instructions; a cell run again, or the same line in many
# notes, reuses its code under its own filename instead. Only cells whose compiling showed no warning are kept,
# and only while the warning filters stay the same, so a cell's warnings show exactly as often as without this.
_compiled = {}
_COMPILED_MAX = 64
_COMPILED_MAX_SOURCE = 100_000


def _compile_cell(context, code, filename):
    """Returns code objects to run in order: the body in 'exec' mode, and the last expression (if any)
    in 'single' mode so that sys.displayhook reports its value. SyntaxError for anything that is not plain
    Python (magics, shell escapes, help, top-level await): IPython runs those. Compiled under the future
    features earlier cells imported, and adds the ones this cell imports (the shell's own compiler keeps them
    once the context has a shell, so both ways of running a cell see the same)."""
    shell = context.shell
    flags = context.future_flags if shell is None else shell.compile.flags & _FUTURE_FLAGS
    warnings = _warnings
    counting = warnings._showwarnmsg is _show_counted  # else something replaced the hook: no cache
    filters = tuple(warnings.filters)
    key = (code, flags)
    cached = _compiled.get(key)
    if cached is not None and counting and cached[0] == filters:
        units = [_renamed(unit, filename) for unit in cached[1]]
    else:
        shown = _shown.__dict__.setdefault("count", 0)
        units = _compile_units(code, filename, flags)
        if counting and _shown.__dict__["count"] == shown and len(code) <= _COMPILED_MAX_SOURCE:
            if len(_compiled) >= _COMPILED_MAX:
                _forget_oldest_compiled()
            _compiled[key] = (filters, units)
    imported = _imported_features(units, flags)
    if imported:
        if shell is None:
            context.future_flags |= imported
        else:
            shell.compile.flags |= imported
    return units


def _forget_oldest_compiled():
    # Scoped notes compile on several threads: another may evict between our look and our delete.
    try:
        _compiled.pop(next(iter(_compiled), None), None)
    except RuntimeError:  # the dict changed size under the iterator
        pass


def _renamed(code, filename):
    """`code` (and the functions and classes it defines) as compiled under `filename`."""
    consts = code.co_consts
    for const in consts:
        if isinstance(const, _CodeType):
            consts = tuple(_renamed(c, filename) if isinstance(c, _CodeType) else c for c in consts)
            return code.replace(co_filename=filename, co_consts=consts)
    return code.replace(co_filename=filename)


_CodeType = type(_compile_cell.__code__)


def _compile_units(code, filename, flags):
    ast = _ast
    tree = compile(code, filename, "exec", flags | ast.PyCF_ONLY_AST, True)
    if not tree.body:
        return []
    last = tree.body[-1]
    shows_result = isinstance(last, ast.Expr) and not code.rstrip().endswith(";")
    body = tree.body[:-1] if shows_result else tree.body
    units = []
    if body:
        units.append(compile(ast.Module(body=body, type_ignores=[]), filename, "exec", flags, True))
        flags |= _imported_features(units, flags)  # the last expression is under the body's imports too
    if shows_result:
        units.append(compile(ast.Interactive(body=[last]), filename, "single", flags, True))
    return units


def _imported_features(units, flags):
    """Future features the compiled `units` have beyond `flags` (a feature's compiler flag is also its code flag)."""
    found = 0
    for unit in units:
        found |= unit.co_flags & _FUTURE_FLAGS
    return found & ~flags


def _future_flags():
    import __future__

    flags = 0
    for name in __future__.all_feature_names:
        flags |= getattr(__future__, name).compiler_flag
    return flags


_FUTURE_FLAGS = _future_flags()


def _error_info(error):
    """Frames for the kernel's own formatter, used only when no IPython shell can be made."""
    import traceback

    frames = []
    syntax = isinstance(error, SyntaxError)
    if syntax:
        frames.append((error.filename or "", error.lineno or 0, "<module>", error.text or "", error.offset or 0))
    else:
        for frame in traceback.extract_tb(error.__traceback__):
            number = cell_number(frame.filename)  # the kernel's formatter knows cells as <atrium-cell-N>
            filename = frame.filename if number is None else f"<atrium-cell-{number}>"
            frames.append((filename, frame.lineno or 0, frame.name, frame.line or "", 0))
    evalue = error.msg if syntax else str(error)
    return {"status": "error", "ename": type(error).__name__, "evalue": evalue,
            "frames": frames, "syntax_error": syntax}


def _shown_error(context, error):
    """The error as IPython shows it (ANSI colours, %xmode), published by the shell."""
    shell = None
    try:
        shell = context.get_shell()
    except Exception:
        pass
    if shell is None:
        return _error_info(error)
    _cell.error = None
    # SystemExit: only its message, as IPython's run_code shows it.
    shell.showtraceback((type(error), error, error.__traceback__), tb_offset=0,
                        exception_only=isinstance(error, SystemExit))
    return _error_reply(error)


def _error_reply(error):
    shown = getattr(_cell, "error", None)
    if shown is None:  # a UsageError: IPython printed it, with no traceback (as ipykernel replies)
        return {"status": "error", "ename": type(error).__name__, "evalue": str(error), "traceback": []}
    return {"status": "error", "ename": shown["ename"], "evalue": shown["evalue"],
            "traceback": shown["traceback"]}


def new_context(module):
    return Context(module)


def run_cell(context, code, filename, execution_count, silent, store_history):
    """Runs `code`; returns {'status': 'ok'} or the error (name, value, traceback or frames) and the payloads."""
    global _latest
    collected = payloads()
    del collected[:]
    previous = getattr(_cell, "context", None)
    _cell.context = context
    _latest = _weakref(context)
    # IPython's execution_count while the cell runs: a stored cell has already advanced it.
    context.count = execution_count + (1 if store_history else 0)
    try:
        result = _run(context, code, filename, execution_count, silent, store_history)
    finally:
        _cell.context = previous
    shell = context.shell
    if shell is not None:
        pages = shell.payload_manager.read_payload()
        if pages:
            collected.extend(pages)
            shell.payload_manager.clear_payload()
    result["payload"] = list(collected)
    return result


def _run(context, code, filename, execution_count, silent, store_history):
    _modules()
    compute = _compute
    compute.begin_cell()
    interrupted = False
    try:
        shell = context.shell
        if shell is None or plain_cells_allowed(shell):
            # "<atrium-cell-3.1>" from the kernel becomes /tmp/atrium_<pid>/3.1.py
            filename = cell_prefix() + filename[len("<atrium-cell-"):-1] + ".py"
            try:
                units = _compile_cell(context, code, filename)
            except SyntaxError:
                units = None  # not plain Python: IPython's turn
            if units is not None:
                result = _run_plain(context, code, filename, units, execution_count, silent, store_history)
                interrupted = result.get("ename") == "KeyboardInterrupt"
                return result
        result = _run_in_shell(context.get_shell(), code, execution_count, silent, store_history)
        interrupted = result.get("ename") == "KeyboardInterrupt"
        return result
    except BaseException as error:  # an interrupt that landed in IPython's or Atrium's bookkeeping, not the cell
        _cell.hook = None
        interrupted = isinstance(error, KeyboardInterrupt)
        return _error_info(error)
    finally:
        compute.end_cell(interrupted)


def _run_plain(context, code, filename, units, execution_count, silent, store_history):
    """A cell that is plain Python, run without IPython's transformers and compiler (~0.4 ms less per cell than
    shell.run_cell); with a shell, its history, displayhook and events see the cell as run_cell would show it."""
    _register_source(filename, code)
    shell = context.shell
    outcome = None
    if shell is None:
        if store_history:
            context.store_input(execution_count, code)
        hook = None if silent else _ResultHook(context, execution_count)
    else:
        outcome = start_plain_cell(shell, code, execution_count, silent, store_history)
        hook = None if silent else shell.displayhook
    try:
        _cell.hook = hook
        try:
            for unit in units:
                exec(unit, context.namespace)
        finally:
            _cell.hook = None
    except BaseException as error:  # KeyboardInterrupt and SystemExit are reported, never propagated
        sys.last_type, sys.last_value, sys.last_traceback = type(error), error, error.__traceback__
        reply = _shown_error(context, error)
        if outcome is not None:
            outcome.error_in_exec = error
    else:
        reply = {"status": "ok"}
    if shell is None:
        shell = context.shell
        if shell is None:
            inline = sys.modules.get("matplotlib_inline.backend_inline")
            if inline is not None and getattr(getattr(inline, "show", None), "_draw_called", False):
                shell = context.get_shell()  # figures drawn: the shell's post_execute shows them
        if shell is not None:  # made during the cell: its post-cell hooks run as after any of its cells
            shell.execution_count = context.count
    if shell is not None:
        finish_plain_cell(shell, outcome, silent)
    return reply


def _run_in_shell(shell, code, execution_count, silent, store_history):
    prepare_cell(shell)
    shell.execution_count = execution_count
    _cell.error = None
    _cell.hook = shell.displayhook
    try:
        outcome = shell.run_cell(code, store_history=store_history, silent=silent)
    finally:
        _cell.hook = None
    error = outcome.error_before_exec or outcome.error_in_exec
    if error is None:
        return {"status": "ok"}
    return _error_reply(error)


def evaluate_user_expressions(namespace, expressions):
    results = {}
    for name, expression in expressions.items():
        try:
            value = eval(expression, namespace)
            data, metadata = display.format_bundle(value)
            results[name] = {"status": "ok", "data": data, "metadata": metadata}
        except Exception as error:
            import traceback

            results[name] = {"status": "error", "ename": type(error).__name__, "evalue": str(error),
                             "traceback": traceback.format_exception_only(type(error), error)}
    return results


def install():
    sys.displayhook = _route_displayhook
    builtins.exit = ExitRequest("exit")
    builtins.quit = ExitRequest("quit")


def new_namespace(module_name="__main__"):
    """A fresh module for a context's globals, set up like the __main__ of a script."""
    module = type(sys)(module_name)
    module.__dict__["__builtins__"] = builtins
    return module
