"""Rich representations and the display API (display, update_display, clear_output)."""
import builtins

import _atrium

# Methods an object may define, and the MIME type each produces (IPython's protocol).
_REPR_METHODS = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_latex_", "text/latex"),
    ("_repr_json_", "application/json"),
    ("_repr_javascript_", "application/javascript"),
    ("_repr_pdf_", "application/pdf"),
)
_BINARY = {"image/png", "image/jpeg", "application/pdf"}
# Types whose repr is exactly what IPython's pretty printer shows: a context without a shell shows these itself.
_PLAIN_TYPES = (int, float, bool, complex, bytes, type(None))


def current_shell():
    """The calling context's IPython shell if it has one (atrium_runtime.shell replaces this)."""
    return None


def plain_repr_matches(value):
    kind = type(value)
    if kind is str:
        return len(value) < 60 and "\n" not in value
    return kind in _PLAIN_TYPES


def _encode(mime, value):
    if mime in _BINARY and isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


def _plain(obj):
    try:
        return repr(obj)
    except Exception as error:  # a broken __repr__ must not lose the whole result
        return f"<{type(obj).__name__} object (repr failed: {error!r})>"


def format_bundle(obj, include=None, exclude=None):
    """Returns (data, metadata) for `obj`: text/plain plus every rich repr it offers, through the context's
    IPython formatters once it has a shell (so %precision, pretty printing and figure formats apply)."""
    shell = current_shell()
    if shell is not None:
        return shell.display_formatter.format(obj, include=include, exclude=exclude)
    data, metadata = {}, {}
    if not isinstance(obj, type):  # a class has the methods unbound; only instances render
        bundle = getattr(obj, "_repr_mimebundle_", None)
        if callable(bundle):
            try:
                result = bundle(include=include, exclude=exclude)
                if isinstance(result, tuple):
                    result, extra = result
                    metadata.update(extra or {})
                data.update({k: _encode(k, v) for k, v in (result or {}).items()})
            except Exception:
                pass
        for method, mime in _REPR_METHODS:
            if mime in data:
                continue
            func = getattr(obj, method, None)
            if not callable(func):
                continue
            try:
                value = func()
            except Exception:
                continue
            if value is None:
                continue
            if isinstance(value, tuple) and len(value) == 2:
                value, extra = value
                if extra:
                    metadata[mime] = extra
            data[mime] = _encode(mime, value)
    data.setdefault("text/plain", _plain(obj))
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return data, metadata


class DisplayHandle:
    """What `display(..., display_id=True)` returns: a handle to update that output later."""

    def __init__(self, display_id=None):
        self.display_id = display_id or _new_display_id()

    def __repr__(self):
        return f"<DisplayHandle display_id={self.display_id}>"

    def display(self, obj, **kwargs):
        display(obj, display_id=self.display_id, **kwargs)

    def update(self, obj, **kwargs):
        display(obj, display_id=self.display_id, update=True, **kwargs)


def _new_display_id():
    import uuid  # imported on first use: it is not needed to start the kernel

    return uuid.uuid4().hex


def display(*objs, include=None, exclude=None, metadata=None, transient=None, display_id=None,
            raw=False, clear=False, update=False, **kwargs):
    """Publishes each object as display_data (or update_display_data with `update=True`)."""
    if clear:
        clear_output(wait=True)
    if display_id is True:
        display_id = _new_display_id()
    transient = dict(transient or {})
    if display_id:
        transient["display_id"] = display_id
    msg_type = "update_display_data" if update else "display_data"
    shell = current_shell()
    for obj in objs:
        if raw:
            data, md = dict(obj), {}
        else:
            data, md = format_bundle(obj, include, exclude)
        if not data:
            continue  # nothing to show (IPython formatters gave no representation)
        if metadata:
            md.update(metadata)
        if shell is not None:  # through its publisher, so %%capture and the like see it
            shell.display_pub.publish(data, md, transient=transient, update=update)
        else:
            _atrium.publish(msg_type, {"data": data, "metadata": md, "transient": transient})
    if display_id and not update:
        return DisplayHandle(display_id)
    return None


def update_display(obj, *, display_id, **kwargs):
    display(obj, display_id=display_id, update=True, **kwargs)


def clear_output(wait=False):
    shell = current_shell()
    if shell is not None:
        shell.display_pub.clear_output(wait)
        return
    _atrium.publish("clear_output", {"wait": bool(wait)})


def publish_display_data(data, metadata=None, source=None, *, transient=None, **kwargs):
    _atrium.publish("display_data", {"data": data, "metadata": metadata or {}, "transient": transient or {}})


def install():
    builtins.display = display
