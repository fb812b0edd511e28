"""JupyterLab 4 in headless Chromium with two notebooks on `atrium-host` (browser/lab.mjs, scenario
host_two_notebooks): a kernel each, both fronts of one Atrium host; a page reload finds its notebook's namespace.
The scenario's screenshots (one notebook busy while the other is idle; after a restart) are kept in
build/e2e-artifacts/ (ATRIUM_E2E_ARTIFACTS overrides)."""

import contextlib
import pathlib

from e2e_host import front_ids, host_pid, hosts_stopped
from e2e_servers import drive, notebook
from test_jupyterlab import lab  # noqa: F401 (the fixture: JupyterLab on 127.0.0.1 with its own HOME)


@contextlib.contextmanager
def sessions_then_hosts_ended(lab):
    """Yields the server's runtime dir; afterwards deletes the server's sessions, then stops its hosts. In that order:
    a kernel whose host is stopped under it is restarted by the server, on a new host that would outlive the test."""
    runtime_dir = pathlib.Path(lab.env["JUPYTER_RUNTIME_DIR"])
    with hosts_stopped(runtime_dir):
        try:
            yield runtime_dir
        finally:
            for session in lab.request("GET", "/api/sessions"):
                lab.request("DELETE", f"/api/sessions/{session['id']}")


def test_two_notebooks_on_one_host(lab):  # noqa: F811
    with sessions_then_hosts_ended(lab) as runtime_dir:
        notebook(lab, "host-first.ipynb", "atrium-host")
        notebook(lab, "host-second.ipynb", "atrium-host")
        drive(lab, "host_two_notebooks")
        # The browser opened a session and a kernel per notebook; the host serves exactly those two.
        sessions = lab.request("GET", "/api/sessions")
        kernels = {s["path"]: s["kernel"] for s in sessions}
        assert sorted(kernels) == ["host-first.ipynb", "host-second.ipynb"], sessions
        assert {k["name"] for k in kernels.values()} == {"atrium-host"}
        assert front_ids(runtime_dir) == {k["id"] for k in kernels.values()}
        assert host_pid(runtime_dir) > 0


def test_notebook_basics_through_a_front(lab):  # noqa: F811
    # The whole everyday scenario of test_jupyterlab.py (streams, HTML, a plot, a widget moved, input(), completion,
    # inspection, %contexts, toolbar interrupt and restart) with the notebook's kernel a front of a host.
    with sessions_then_hosts_ended(lab) as runtime_dir:
        notebook(lab, "basics.ipynb", "atrium-host")
        drive(lab, "basics")
        kernels = [s["kernel"] for s in lab.request("GET", "/api/sessions")]
        assert [k["name"] for k in kernels] == ["atrium-host"]
        assert front_ids(runtime_dir) == {kernels[0]["id"]}
