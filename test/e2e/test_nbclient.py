"""Every notebook in examples/, executed with nbclient on ipykernel and on each Atrium kernelspec: the same outputs.

Only what differs by nature is normalised: object addresses, widget model ids and the notebook's own
bookkeeping (timings). Errors are compared by name and value: the traceback's frames are the kernel's own
rendering (Atrium formats them itself until its cells run in IPython shells). For the same reason no example
shows a plain object's repr yet (IPython prints `<X at 0x..>`, Atrium `<X object at 0x..>`).
"""

import difflib
import json
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[2]
# everyday.ipynb (timings, %timeit, shell output) has its own diff with the masks it needs:
# test/protocol/test_everyday_notebook.py.
DIFFED_ELSEWHERE = {"everyday.ipynb"}
NOTEBOOKS = sorted(p for p in (REPO / "examples").glob("*.ipynb") if p.name not in DIFFED_ELSEWHERE)
ATRIUM_KERNELS = ["atrium", "atrium-scoped", "atrium-scoped-user", "atrium-isolated", "atrium-isolated-user"]
ADDRESS = re.compile(r"0x[0-9a-f]{6,16}")


def normalised(output):
    kind = output["output_type"]
    if kind == "stream":
        return {"stream": output["name"], "text": output["text"]}
    if kind == "error":
        return {"error": output["ename"], "value": output["evalue"]}
    data = dict(output["data"])
    widget = data.get("application/vnd.jupyter.widget-view+json")
    if widget:
        data["application/vnd.jupyter.widget-view+json"] = dict(widget, model_id="<model id>")
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return {kind: json.loads(ADDRESS.sub("0x<address>", text)),
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
