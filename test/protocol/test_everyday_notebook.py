"""examples/everyday.ipynb (thirty everyday cells) executed with nbclient on ipykernel and on each Atrium
kernelspec gives the same outputs, once what legitimately differs between runs is masked: timings, memory
addresses, widget ids, image bytes, ANSI colours and a pty's carriage returns.

This file starts its kernelspecs by name, whatever ATRIUM_KERNEL_NAME says.
"""

import re

import nbformat
import pytest
from nbclient import NotebookClient
from protocol_helpers import REPO, TIMEOUT, strip_ansi

NOTEBOOK = REPO / "examples" / "everyday.ipynb"
ATRIUM_KERNELS = ["atrium", "atrium-scoped", "atrium-isolated"]

_MASKS = [
    (re.compile(r"0x[0-9a-f]+"), "0x…"),
    (re.compile(r"^(CPU times|Wall time):.*$", re.M), r"\1: …"),
    (re.compile(r"^.* per loop \(mean ± std\. dev\. of .*\)$", re.M), "… per loop (…)"),
    (re.compile(r"\d\d:\d\d<[\d:?]+, *[\d.?]+ *it/s"), "…it/s"),
    (re.compile(r"[0-9a-f]{32}"), "<id>"),
]
_IMAGES = ("image/png", "image/jpeg", "image/svg+xml")


def normalised_text(text):
    text = strip_ansi(text).replace("\r\n", "\n")
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def normalised_value(mime, value):
    if mime in _IMAGES:
        return f"<{mime}>"
    if isinstance(value, str):
        return normalised_text(value)
    if isinstance(value, list):
        return [normalised_value(mime, item) for item in value]
    if isinstance(value, dict):
        return {key: normalised_value(mime, item) for key, item in value.items()}
    return value


def normalised_output(output):
    kind = output["output_type"]
    if kind == "stream":
        return {"stream": output["name"], "text": normalised_text(output["text"])}
    if kind == "error":
        return {"error": output["ename"], "evalue": normalised_text(output["evalue"]),
                "traceback": normalised_text("\n".join(output["traceback"]))}
    result = {"type": kind, "data": {mime: normalised_value(mime, value) for mime, value in output["data"].items()}}
    if kind == "execute_result":
        result["execution_count"] = output["execution_count"]
    return result


def merged_streams(outputs):
    """Consecutive stream outputs of one name as one (kernels may split a stream's text differently)."""
    merged = []
    for output in outputs:
        if merged and "stream" in output and merged[-1].get("stream") == output["stream"]:
            merged[-1] = {"stream": output["stream"], "text": merged[-1]["text"] + output["text"]}
        else:
            merged.append(output)
    return merged


def executed(kernel_name, tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=TIMEOUT, allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return [(cell.source, cell.execution_count, merged_streams([normalised_output(o) for o in cell.outputs]))
            for cell in notebook.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return executed("python3", tmp_path_factory.mktemp("ipykernel"))


def test_notebook_has_thirty_cells():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert len([c for c in notebook.cells if c.cell_type == "code"]) == 30


@pytest.mark.parametrize("kernel_name", ATRIUM_KERNELS)
def test_outputs_match_ipykernel(kernel_name, reference, tmp_path):
    ours = executed(kernel_name, tmp_path)
    assert len(ours) == len(reference)
    for (source, count, outputs), (_, expected_count, expected) in zip(ours, reference):
        assert (count, outputs) == (expected_count, expected), f"cell:\n{source}"


def test_reference_is_meaningful(reference):
    """The comparison would catch a kernel that shows nothing: ipykernel's run has the expected outputs."""
    by_source = {source: outputs for source, _, outputs in reference}
    plot = next(outputs for source, outputs in by_source.items() if source.startswith("import matplotlib"))
    assert any("image/png" in o.get("data", {}) for o in plot)
    errors = [o for outputs in by_source.values() for o in outputs if "error" in o]
    assert [e["error"] for e in errors] == ["ZeroDivisionError", "NameError"]
