"""JupyterLab 4 in headless Chromium (test/e2e/browser/lab.mjs, playwright-core on Debian's chromium).

Screenshots of failing scenarios go to build/e2e-artifacts/ (ATRIUM_E2E_ARTIFACTS overrides).
"""

import json
import os
import pathlib
import subprocess

import nbformat
import pytest
from e2e_servers import running_server, server_env
from jupyter_client.kernelspec import KernelSpecManager

BROWSER_DIR = pathlib.Path(__file__).parent / "browser"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    # Module-scoped fixtures cannot take the function-scoped client_env: build the same environment here.
    from conftest import BUILD_DIR, VENV_BIN  # noqa: the e2e conftest (protocol's is never on this path)

    home = tmp_path_factory.mktemp("lab-home")
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(BUILD_DIR / "share" / "jupyter"), env.get("JUPYTER_PATH")) if p)
    env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env = server_env(env, home)
    root = home / "notebooks"
    root.mkdir()
    # --allow-root: CI runs as root in a container; the server is reachable from 127.0.0.1 only, with a token.
    command = [str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port={port}",
               "--ServerApp.port_retries=0", "--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    artifacts = pathlib.Path(os.environ.get("ATRIUM_E2E_ARTIFACTS", BUILD_DIR / "e2e-artifacts"))
    with running_server(command, env, home / "lab.log") as server:
        server.root, server.env, server.artifacts = root, env, artifacts
        yield server


def notebook(server, name, kernel_name):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name, "language": "python"}
    server.request("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json", "content": nb})


def drive(server, scenario, extra_env=None):
    env = dict(server.env, **(extra_env or {}))
    result = subprocess.run(["node", str(BROWSER_DIR / "lab.mjs"), scenario, server.url, server.token,
                             str(server.artifacts)], cwd=BROWSER_DIR, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, (f"{scenario} failed (screenshots in {server.artifacts}):\n{result.stderr}\n"
                                    f"--- server log tail ---\n{server.log()[-3000:]}")


def test_launcher_lists_every_atrium_kernelspec(lab):
    specs = KernelSpecManager(kernel_dirs=[str(pathlib.Path(lab.env["JUPYTER_PATH"].split(os.pathsep)[0]) / "kernels")])
    names = [spec["spec"]["display_name"] for name, spec in specs.get_all_specs().items() if name.startswith("atrium")]
    assert len(names) == 5, names
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
