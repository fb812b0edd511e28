"""complete, inspect and is_complete against a context's namespace."""
# Heavy modules (re, inspect, codeop, glob) are imported inside the functions: this module loads at kernel
# start-up, and most kernels answer their first completion request long after it.
import builtins
import os

_TOKEN = r"[A-Za-z_][\w.]*$|\.$"
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"


def _line_and_column(code, cursor_pos):
    before = code[:cursor_pos]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1)
    return line, column


def _jedi_complete(code, cursor_pos, namespace):
    import jedi

    jedi.settings.case_insensitive_completion = False  # `os.pa` must not offer `PathLike`

    line, column = _line_and_column(code, cursor_pos)
    completions = jedi.Interpreter(code, [namespace]).complete(line, column)
    if not completions:
        return None
    typed = len(completions[0].name_with_symbols) - len(completions[0].complete)
    kept = [c for c in completions if len(c.name_with_symbols) - len(c.complete) == typed]
    start = cursor_pos - typed
    types = [{"start": start, "end": cursor_pos, "text": c.name_with_symbols, "type": c.type,
              "signature": _signature(c) if c.type == "function" else ""} for c in kept]
    return [c.name_with_symbols for c in kept], start, types


def _signature(completion):
    """`(a, b=1)` as IPython shows it beside a function; empty when jedi cannot tell."""
    try:
        signatures = completion.get_signatures()
    except Exception:
        return ""
    if not signatures:
        return ""
    return "(" + ", ".join(p.to_string() for p in signatures[0].params) + ")"


def _type_of(name, namespace):
    """The kind of a name the simple completer found, in jedi's words."""
    import inspect as _inspect
    import keyword

    if keyword.iskeyword(name):
        return "keyword"
    obj = namespace.get(name, getattr(builtins, name, None))
    if _inspect.ismodule(obj):
        return "module"
    if _inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "instance" if name in namespace or hasattr(builtins, name) else "statement"


def _in_string(text):
    """The partial path typed inside an unterminated string literal on the current line, or None."""
    import re

    line = text[text.rfind("\n") + 1:]
    match = re.search(r"""(['"])([^'"]*)$""", line)
    if match and line[:match.start()].count(match.group(1)) % 2 == 0:
        return match.group(2)
    return None


def _resolve(dotted, namespace):
    parts = dotted.split(".")
    if parts[0] in namespace:
        obj = namespace[parts[0]]
    elif hasattr(builtins, parts[0]):
        obj = getattr(builtins, parts[0])
    else:
        raise LookupError(dotted)
    for part in parts[1:]:
        obj = getattr(obj, part)  # attribute lookup only: completion never calls user code
    return obj


def _fallback_complete(code, cursor_pos, namespace):
    import glob
    import keyword
    import re

    before = code[:cursor_pos]
    partial_path = _in_string(before)
    if partial_path is not None:
        matches = [p + ("/" if os.path.isdir(p) else "") for p in sorted(glob.glob(os.path.expanduser(partial_path) + "*"))]
        return matches, cursor_pos - len(partial_path), "path"
    token = re.search(_TOKEN, before)
    token = token.group(0) if token else ""
    if "." in token:
        base, _, prefix = token.rpartition(".")
        try:
            names = dir(_resolve(base, namespace))
        except Exception:
            return [], cursor_pos, "statement"
        return [n for n in names if n.startswith(prefix)], cursor_pos - len(prefix), "attribute"
    names = set(namespace) | set(dir(builtins)) | set(keyword.kwlist)
    return sorted(n for n in names if n.startswith(token)), cursor_pos - len(token), None


def complete(code, cursor_pos, namespace):
    if cursor_pos is None or cursor_pos < 0 or cursor_pos > len(code):
        cursor_pos = len(code)  # the protocol's default: the end of the code
    result = None
    try:
        result = _jedi_complete(code, cursor_pos, namespace)
    except Exception:
        result = None  # jedi absent or confused: the simpler completer still answers
    if result and result[0]:
        matches, start, types = result
    else:
        matches, start, kind = _fallback_complete(code, cursor_pos, namespace)
        types = [{"start": start, "end": cursor_pos, "text": m, "type": kind or _type_of(m, namespace),
                  "signature": ""} for m in matches]
    # JupyterLab shows each item's type from ipykernel's experimental field (same shape as IPython's).
    return {"matches": matches, "cursor_start": start, "cursor_end": cursor_pos,
            "metadata": {"_jupyter_types_experimental": types}, "status": "ok"}


def _name_at(code, cursor_pos):
    """The dotted name under (or just before) the cursor; before an open call, the callee."""
    import re

    best = None
    for match in re.finditer(_DOTTED, code):
        if match.start() <= cursor_pos <= match.end():
            return match.group(0)
        if match.end() <= cursor_pos:
            best = match.group(0)
    return best


def inspect(code, cursor_pos, detail_level, namespace):
    import inspect as _inspect

    if cursor_pos is None or cursor_pos < 0 or cursor_pos > len(code):
        cursor_pos = len(code)
    name = _name_at(code, cursor_pos)
    try:
        obj = _resolve(name, namespace) if name else None
    except Exception:
        name = None
    if not name:
        return {"status": "ok", "found": False, "data": {}, "metadata": {}}
    parts = []
    try:
        parts.append(f"Signature: {name}{_inspect.signature(obj)}")
    except (TypeError, ValueError):
        pass
    parts.append(f"Type:      {type(obj).__name__}")
    doc = _inspect.getdoc(obj)
    if doc:
        parts.append("Docstring:\n" + doc)
    if detail_level >= 1:
        try:
            parts.append("Source:\n" + _inspect.getsource(obj))
        except (TypeError, OSError):
            pass
    return {"status": "ok", "found": True, "data": {"text/plain": "\n".join(parts)}, "metadata": {}}


def _indent_after(code):
    last = code.rstrip("\n").split("\n")[-1]
    indent = last[: len(last) - len(last.lstrip())]
    return indent + "    " if last.rstrip().endswith(":") else indent


_check_complete = None


def _ipython_check_complete():
    """IPython's check_complete, as ipykernel answers is_complete (it knows magics, `!cmd` and `obj?`); imported
    on first use, since importing IPython costs a kernel's start-up more than it is worth there."""
    global _check_complete
    if _check_complete is None:
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            _check_complete = TransformerManager().check_complete
        except Exception:  # IPython missing or broken in this environment: the plain check below answers
            _check_complete = False
    return _check_complete


def is_complete(code):
    check_complete = _ipython_check_complete()
    if check_complete:
        status, indent = check_complete(code)
        if status == "incomplete":
            return {"status": status, "indent": " " * (indent or 0)}
        return {"status": status}
    return _plain_is_complete(code)


def _plain_is_complete(code):
    import codeop
    import warnings

    if code.rstrip().endswith("\\"):
        return {"status": "incomplete", "indent": ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = codeop.compile_command(code, "<input>", "exec")
    except (SyntaxError, OverflowError, ValueError):
        return {"status": "invalid"}
    if compiled is None:
        return {"status": "incomplete", "indent": _indent_after(code)}
    # compile_command accepts a block without its closing blank line; a console still wants one more.
    lines = code.rstrip("\n").split("\n")
    if len(lines) > 1 and lines[-1][:1] in (" ", "\t") and not code.endswith("\n\n"):
        return {"status": "incomplete", "indent": _indent_after(code)}
    return {"status": "complete"}
