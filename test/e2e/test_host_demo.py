"""The README's demo (examples/run_host_demo.py, what `bash scripts/install.sh` ends with): two notebooks on one
Atrium host. The demo checks each claim it prints; here it must end well, fit a screen and leave no process."""

import pathlib
import subprocess
import sys

import psutil

REPO = pathlib.Path(__file__).resolve().parents[2]
CLAIMS = ["one process for both notebooks", "a namespace for each notebook", "bob's cell was answered while",
          "one Dask cluster (ctx) for both", "handed to bob through pool", "alice's namespace is fresh",
          "bob kept his namespace", "the same host process serves both", "host stopped"]


def test_demo_shows_two_notebooks_on_one_host(client_env):
    before = {p.pid for p in psutil.process_iter()}
    result = subprocess.run([sys.executable, str(REPO / "examples" / "run_host_demo.py")], env=client_env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    lines = result.stdout.splitlines()
    for claim in CLAIMS:
        assert any(line.startswith("  => ") and claim in line for line in lines), (claim, result.stdout)
    assert len(lines) <= 40, result.stdout  # a screenful
    # The demo's host runs on a socket in its own runtime dir (atrium-demo-*); its workers and cluster the demo
    # itself saw end. Other people's Atrium processes on this machine are not ours to count.
    started = [p for p in psutil.process_iter(["cmdline"]) if p.pid not in before
               and any("atrium-demo-" in arg for arg in p.info["cmdline"] or [])]
    assert not started, [p.info["cmdline"] for p in started]
