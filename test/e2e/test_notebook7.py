"""Notebook 7 in headless Chromium: open a notebook on a per-note kernel, run a cell, interrupt from the toolbar
(jupyter_server sends that interrupt_request from its own session)."""

import os

import pytest
from e2e_servers import drive, notebook, running_server, server_env


@pytest.fixture
def notebook_server(client_env, venv_bin, tmp_path, build_dir):
    env = server_env(client_env, tmp_path / "home")
    root = tmp_path / "notebooks"
    root.mkdir()
    command = [str(venv_bin / "jupyter"), "notebook", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}"]
    with running_server(command, env, tmp_path / "notebook.log") as server:
        server.root, server.env = root, env
        server.artifacts = os.environ.get("ATRIUM_E2E_ARTIFACTS", str(build_dir / "e2e-artifacts"))
        yield server


def test_open_run_interrupt(notebook_server):
    notebook(notebook_server, "classic.ipynb", "atrium-scoped")
    drive(notebook_server, "notebook7")
