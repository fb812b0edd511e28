"""JupyterLab 4 in headless Chromium (test/e2e/browser/lab.mjs, playwright-core on Debian's chromium).

Screenshots of failing scenarios go to build/e2e-artifacts/ (ATRIUM_E2E_ARTIFACTS overrides).
"""

import json
import os
import pathlib

import pytest
from e2e_servers import drive, notebook, running_server, server_env
from jupyter_client.kernelspec import KernelSpecManager


@pytest.fixture
def lab(client_env, venv_bin, build_dir, tmp_path):
    home = tmp_path / "home"
    env = server_env(client_env, home)
    root = home / "notebooks"
    root.mkdir()
    # --allow-root: CI runs as root in a container; the server listens on 127.0.0.1 only, behind a token.
    command = [str(venv_bin / "jupyter"), "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    artifacts = pathlib.Path(os.environ.get("ATRIUM_E2E_ARTIFACTS", build_dir / "e2e-artifacts"))
    with running_server(command, env, tmp_path / "lab.log") as server:
        server.root, server.env, server.artifacts = root, env, artifacts
        yield server


def test_launcher_lists_every_atrium_kernelspec(lab):
    specs = KernelSpecManager(kernel_dirs=[str(pathlib.Path(lab.env["JUPYTER_PATH"].split(os.pathsep)[0]) / "kernels")])
    names = [spec["spec"]["display_name"] for name, spec in specs.get_all_specs().items() if name.startswith("atrium")]
    assert len(names) == 7, names  # five modes, and the two host kernelspecs (docs/host.md)
    drive(lab, "launcher", {"ATRIUM_DISPLAY_NAMES": json.dumps(names)})


def test_notebook_basics_on_atrium(lab):
    notebook(lab, "basics.ipynb", "atrium")
    drive(lab, "basics")


def test_two_notebooks_on_one_scoped_kernel(lab):
    notebook(lab, "first.ipynb", "atrium-scoped")
    notebook(lab, "second.ipynb", "atrium-scoped")
    first = lab.request("POST", "/api/sessions", {"path": "first.ipynb", "type": "notebook",
                                                  "kernel": {"name": "atrium-scoped"}})
    lab.request("POST", "/api/sessions", {"path": "second.ipynb", "type": "notebook",
                                          "kernel": {"id": first["kernel"]["id"]}})
    drive(lab, "two_notebooks")
