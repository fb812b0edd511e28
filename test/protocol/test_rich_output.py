"""execute_result with rich reprs, `_`, `;` suppression and IPython.display objects."""

import base64

import pytest
from protocol_helpers import execute_ok, outputs, result_data

# A 1x1 PNG, small enough to inline.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG = base64.b64decode(PNG_B64)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>'

# (mime type, the _repr_*_ method body, the expected data for that mime type)
REPRS = [
    ("text/html", "def _repr_html_(self): return '<b>rich</b>'", "<b>rich</b>"),
    ("text/markdown", "def _repr_markdown_(self): return '**rich**'", "**rich**"),
    ("image/svg+xml", f"def _repr_svg_(self): return {SVG!r}", SVG),
    ("image/png", f"def _repr_png_(self): return {PNG!r}", PNG),
    ("text/latex", "def _repr_latex_(self): return r'$x^2$'", "$x^2$"),
    ("application/json", "def _repr_json_(self): return {'a': [1, 2]}", {"a": [1, 2]}),
    (
        "application/x-atrium-test",
        "def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'application/x-atrium-test': 'custom'}",
        "custom",
    ),
]


def decoded(mime, value):
    # Binary reprs travel base64-encoded (ipykernel may add line breaks).
    return base64.b64decode(value) if mime == "image/png" else value


@pytest.mark.parametrize("mime,method,expected", REPRS, ids=[r[0] for r in REPRS])
def test_repr_method_in_execute_result(kc, mime, method, expected):
    code = f"class Rich:\n    {method}\n    def __repr__(self): return 'Rich()'\nRich()"
    _, msgs = execute_ok(kc, code)
    data = result_data(msgs)
    assert decoded(mime, data[mime]) == expected
    assert data["text/plain"] == "Rich()"


def test_repr_with_metadata(kc):
    # A (data, metadata) tuple puts the metadata under the mime type.
    code = f"class Sized:\n    def _repr_png_(self): return ({PNG!r}, {{'width': 7}})\nSized()"
    _, msgs = execute_ok(kc, code)
    result = [m for m in msgs if m["msg_type"] == "execute_result"][0]["content"]
    assert base64.b64decode(result["data"]["image/png"]) == PNG
    assert result["metadata"]["image/png"] == {"width": 7}


def test_underscore_holds_last_result(kc):
    execute_ok(kc, "6*7")
    _, msgs = execute_ok(kc, "_ + 1")
    assert result_data(msgs)["text/plain"] == "43"
    # A cell without a result leaves `_` alone.
    execute_ok(kc, "unrelated = 0")
    _, msgs = execute_ok(kc, "_")
    assert result_data(msgs)["text/plain"] == "43"


def test_execution_count_in_result(kc):
    reply, msgs = execute_ok(kc, "'counted'")
    result = [m for m in msgs if m["msg_type"] == "execute_result"][0]
    assert result["content"]["execution_count"] == reply["content"]["execution_count"]


def test_semicolon_suppresses_result(kc):
    _, msgs = execute_ok(kc, "6*7;")
    assert not [m for m in msgs if m["msg_type"] == "execute_result"], outputs(msgs)


def test_none_shows_no_result(kc):
    _, msgs = execute_ok(kc, "None")
    assert not [m for m in msgs if m["msg_type"] == "execute_result"], outputs(msgs)


def test_only_last_expression_is_shown(kc):
    _, msgs = execute_ok(kc, "1\n2\n3")
    assert result_data(msgs)["text/plain"] == "3"


DISPLAY_OBJECTS = [
    ("HTML('<i>h</i>')", "text/html", "<i>h</i>"),
    ("Markdown('*m*')", "text/markdown", "*m*"),
    (f"Image(data={PNG!r})", "image/png", PNG),
    ("JSON({'k': 'v'})", "application/json", {"k": "v"}),
]
IMPORT = "from IPython.display import HTML, JSON, Image, Markdown, display\n"


@pytest.mark.parametrize("expr,mime,expected", DISPLAY_OBJECTS, ids=[d[1] for d in DISPLAY_OBJECTS])
def test_ipython_display_objects(kc, expr, mime, expected):
    _, msgs = execute_ok(kc, f"{IMPORT}display({expr})")
    shown = [m for m in msgs if m["msg_type"] == "display_data"]
    assert len(shown) == 1, outputs(msgs)
    assert decoded(mime, shown[0]["content"]["data"][mime]) == expected
    assert "text/plain" in shown[0]["content"]["data"]

    _, msgs = execute_ok(kc, f"{IMPORT}{expr}")
    assert decoded(mime, result_data(msgs)[mime]) == expected
