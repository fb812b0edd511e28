"""Every notebook in examples/, executed with nbclient on ipykernel and on each Atrium kernelspec: the same outputs.

Only what differs by nature is normalised: object addresses, widget model ids and the notebook's own
bookkeeping (timings). Errors are compared whole, traceback text included (ANSI colours stripped): Atrium's
cells run in IPython shells, so its tracebacks must read as ipykernel's, frame by frame.
"""

import difflib
import json
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[2]
# everyday.ipynb is diffed by test/protocol/test_everyday_notebook.py, which masks its timings (%time,
# %timeit, tqdm) and image bytes; running it here again on every kernelspec would only cost CI time.
NOTEBOOKS = sorted(p for p in (REPO / "examples").glob("*.ipynb") if p.name != "everyday.ipynb")
ATRIUM_KERNELS = ["atrium", "atrium-scoped", "atrium-scoped-user", "atrium-isolated", "atrium-isolated-user"]
ADDRESS = re.compile(r"0x[0-9a-f]{6,16}")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def masked(text):
    return ADDRESS.sub("0x<address>", ANSI.sub("", text))


def normalised(output):
    kind = output["output_type"]
    if kind == "stream":
        return {"stream": output["name"], "text": output["text"]}
    if kind == "error":
        return {"error": output["ename"], "value": output["evalue"],
                "traceback": [masked(line) for line in output["traceback"]]}
    data = dict(output["data"])
    widget = data.get("application/vnd.jupyter.widget-view+json")
    if widget:
        data["application/vnd.jupyter.widget-view+json"] = dict(widget, model_id="<model id>")
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return {kind: json.loads(masked(text)),
            "execution_count": output.get("execution_count")}


def run_notebook(path, kernel_name, env):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, kernel_name=kernel_name, timeout=60, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    lines = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        lines.append(f"--- cell {index} [{cell.execution_count}]")
        # A cell's stdout and stderr are each compared whole: nbclient keeps them split wherever the kernel
        # flushed, and ipykernel flushes its two streams independently (Atrium keeps their exact order).
        streams = {}
        for output in map(normalised, cell.outputs):
            if "stream" in output:
                streams[output["stream"]] = streams.get(output["stream"], "") + output["text"]
            else:
                lines.append(json.dumps(output, sort_keys=True, ensure_ascii=False))
        lines += [f"[{name}] {json.dumps(text, ensure_ascii=False)}" for name, text in sorted(streams.items())]
    return lines


@pytest.fixture(scope="module")
def ipykernel_outputs(tmp_path_factory):
    cache = {}

    def outputs(path, env):
        if path not in cache:
            cache[path] = run_notebook(path, "python3", env)
        return cache[path]

    return outputs


@pytest.mark.parametrize("kernel_name", ATRIUM_KERNELS)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_same_outputs_as_ipykernel(notebook, kernel_name, ipykernel_outputs, client_env):
    expected = ipykernel_outputs(notebook, client_env)
    actual = run_notebook(notebook, kernel_name, client_env)
    diff = "\n".join(difflib.unified_diff(expected, actual, "ipykernel", kernel_name, lineterm=""))
    assert not diff, f"{notebook.name} on {kernel_name} differs from ipykernel:\n{diff}"


def test_examples_exist():
    assert [p.name for p in NOTEBOOKS] == ["frontends.ipynb", "tour.ipynb"]
