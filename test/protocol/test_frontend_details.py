"""Details real front ends rely on: JupyterLab's widget-control probe, typed completions, sys.argv."""

import pytest
from protocol_helpers import TIMEOUT, collect_iopub
from session_helpers import kernel_of, run, value_of

KERNELS = ["atrium", "atrium-scoped", "atrium-isolated"]


@pytest.fixture(scope="module", params=KERNELS)
def kernel(request, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "kernel.log"
    with open(log, "wb") as stderr:
        with kernel_of(request.param, stderr=stderr) as (km, kc):
            yield km, kc, log


def test_widget_control_probe_is_closed_quietly(kernel):
    # JupyterLab opens this comm on every notebook open, before any cell imported ipywidgets.
    km, kc, log = kernel
    msg = kc.session.msg("comm_open", {"comm_id": "probe-1", "target_name": "jupyter.widget.control", "data": {}})
    kc.shell_channel.send(msg)
    msgs = collect_iopub(kc, msg["header"]["msg_id"], TIMEOUT)
    closes = [m for m in msgs if m["msg_type"] == "comm_close"]
    assert [m["content"]["comm_id"] for m in closes] == ["probe-1"], msgs
    assert run(kc, "1")[0]["status"] == "ok"
    text = log.read_text(errors="replace")
    assert "jupyter.widget.control" not in text and "ERROR" not in text, text

    # Any other unknown target is closed too, and logged with its id.
    msg = kc.session.msg("comm_open", {"comm_id": "probe-2", "target_name": "no.such.target", "data": {}})
    kc.shell_channel.send(msg)
    msgs = collect_iopub(kc, msg["header"]["msg_id"], TIMEOUT)
    assert [m["content"]["comm_id"] for m in msgs if m["msg_type"] == "comm_close"] == ["probe-2"]


def test_completion_carries_types(kernel):
    _, kc, _ = kernel
    assert run(kc, "def frobnicate(a, b=1):\n    pass\nfrob_value = 3")[0]["status"] == "ok"
    msg_id = kc.complete("frob", 4)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    content = reply["content"]
    types = content["metadata"]["_jupyter_types_experimental"]
    assert [t["text"] for t in types] == content["matches"]
    by_text = {t["text"]: t for t in types}
    assert by_text["frobnicate"]["type"] == "function"
    assert by_text["frobnicate"]["signature"] == "(a, b=1)"
    assert by_text["frob_value"]["type"] == "instance"
    for t in types:
        assert (t["start"], t["end"]) == (content["cursor_start"], content["cursor_end"])


def test_sys_argv_names_the_kernel_and_its_connection_file(kernel):
    km, kc, _ = kernel
    reply, argv = value_of(kc, "import sys; sys.argv")
    assert reply["status"] == "ok"
    argv = eval(argv)
    # As ipykernel's [launcher, "-f", FILE]; an isolated worker's cells see only the program.
    assert argv[0].endswith("/atrium"), argv
    if km.kernel_name != "atrium-isolated":
        assert argv[1:3] == ["-f", km.connection_file], argv
