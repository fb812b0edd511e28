"""Compiling and running cells in a context's namespace."""
# ast and linecache are imported by the first cell rather than at start-up (~8 ms of the kernel's launch).
import _thread
import builtins
import sys

import _atrium
from atrium_runtime import display


_PAGER = r"^\s*([A-Za-z_][\w.]*)\s*(\?\??)\s*$"


# Contexts run side by side on different threads, so what belongs to "the cell being run" is per thread:
# its displayhook (sys.displayhook itself is process-wide) and its payloads (page, ask_exit).
_cell = _thread._local()


def _payloads():
    if not hasattr(_cell, "payloads"):
        _cell.payloads = []
    return _cell.payloads


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
        _payloads().append({"source": "ask_exit", "keepkernel": bool(keep_kernel)})


class _ResultHook:
    """sys.displayhook while a cell's last expression runs: publishes execute_result and keeps `_`."""

    def __init__(self, namespace, execution_count):
        self.namespace = namespace
        self.execution_count = execution_count

    def __call__(self, value):
        if value is None:
            return
        if isinstance(value, ExitRequest):
            value()  # a bare `exit` acts as the call, as IPython's autocall makes it
            return
        # In the context's namespace, not in builtins: builtins are shared by every context of the process.
        self.namespace["_"] = value
        out = self.namespace.setdefault("Out", {})
        if isinstance(out, dict):
            out[self.execution_count] = value
        data, metadata = display.format_bundle(value)
        _atrium.publish("execute_result",
                        {"execution_count": self.execution_count, "data": data, "metadata": metadata})


def _register_source(filename, code):
    import linecache

    # linecache lets tracebacks and inspect.getsource show the lines of a cell.
    lines = code.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[filename] = (len(code), None, lines, filename)


def _compile_cell(code, filename):
    """Returns code objects to run in order: the body in 'exec' mode, and the last expression (if any)
    in 'single' mode so that sys.displayhook reports its value."""
    import ast

    tree = ast.parse(code, filename, "exec")
    if not tree.body:
        return []
    last = tree.body[-1]
    shows_result = isinstance(last, ast.Expr) and not code.rstrip().endswith(";")
    body = tree.body[:-1] if shows_result else tree.body
    units = []
    if body:
        units.append(compile(ast.Module(body=body, type_ignores=[]), filename, "exec"))
    if shows_result:
        units.append(compile(ast.Interactive(body=[last]), filename, "single"))
    return units


def _error_info(error):
    import traceback

    frames = []
    syntax = isinstance(error, SyntaxError)
    if syntax:
        frames.append((error.filename or "", error.lineno or 0, "<module>", error.text or "", error.offset or 0))
    else:
        for frame in traceback.extract_tb(error.__traceback__):
            frames.append((frame.filename, frame.lineno or 0, frame.name, frame.line or "", 0))
    evalue = error.msg if syntax else str(error)
    return {"status": "error", "ename": type(error).__name__, "evalue": evalue,
            "frames": frames, "syntax_error": syntax}


def _page(name, detail_level, namespace):
    """`name?` and `name??`: the object's help as a page payload, as IPython's pager shows it."""
    from atrium_runtime import completion

    found = completion.inspect(name, len(name), detail_level, namespace)
    if found["found"]:
        _payloads().append({"source": "page", "data": found["data"], "start": 0})
    else:
        print(f"Object `{name}` not found.")


def run_cell(namespace, code, filename, execution_count, silent):
    """Runs `code`; returns {'status': 'ok'} or the error's name, value and frames, with the payloads."""
    payloads = _payloads()
    del payloads[:]
    if "?" in code:
        import re

        help_request = re.match(_PAGER, code)
        if help_request:
            _page(help_request.group(1), len(help_request.group(2)) - 1, namespace)
            return {"status": "ok", "payload": list(payloads)}
    result = _run(namespace, code, filename, execution_count, silent)
    result["payload"] = list(payloads)
    return result


def _run(namespace, code, filename, execution_count, silent):
    from atrium_runtime import compute

    _register_source(filename, code)
    compute.begin_cell()
    interrupted = False
    try:
        units = _compile_cell(code, filename)
        _cell.hook = None if silent else _ResultHook(namespace, execution_count)
        try:
            for unit in units:
                exec(unit, namespace)
        finally:
            _cell.hook = None
    except BaseException as error:  # KeyboardInterrupt and SystemExit are reported, never propagated
        sys.last_type, sys.last_value, sys.last_traceback = type(error), error, error.__traceback__
        interrupted = isinstance(error, KeyboardInterrupt)
        return _error_info(error)
    finally:
        compute.end_cell(interrupted)
    return {"status": "ok"}


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
