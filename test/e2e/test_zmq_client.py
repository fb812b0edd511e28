"""examples/zmq_client (atrium-client): a C++ 0MQ client on Atrium's wire library, against Atrium and ipykernel."""

import subprocess

import pytest
from jupyter_client.manager import start_new_kernel


@pytest.fixture
def client(build_dir):
    def run(*args, env=None, timeout=60):
        return subprocess.run([str(build_dir / "bin" / "atrium-client"), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, env=env)

    return run


def test_two_notes_side_by_side_on_a_per_note_kernel(client, build_dir):
    spec = build_dir / "share" / "jupyter" / "kernels" / "atrium-scoped" / "kernel.json"
    result = client("--start", spec,
                    "--note", "A", "--code", "import time; time.sleep(1.5); a = 'A done'; print(a)",
                    "--note", "B", "--code", "b = 6 * 7\nb",
                    "--note", "A", "--code", "print(a, 'again'); 'b' in dir()")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # B's cell is answered while A's sleeps; A's second cell sees A's namespace, not B's.
    assert lines == ["[B] Out[1]: 42", "[A] A done", "[A] A done again", "[A] Out[2]: False"], result.stdout


def test_errors_and_streams_with_ipykernel(client, client_env, venv_bin):
    # ipykernel's kernelspec runs `python`: client_env puts the venv's first on PATH.
    spec = venv_bin.parent / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    result = client("--start", spec, "--code", "import sys; print('out'); print('err', file=sys.stderr)",
                    "--code", "1/0", env=client_env)
    assert result.returncode == 1, result.stderr  # a cell failed
    assert result.stdout == "out\n", result.stdout
    assert "err\n" in result.stderr and "ZeroDivisionError: division by zero" in result.stderr


def test_connects_to_a_running_kernel_from_its_connection_file(client):
    km, kc = start_new_kernel(kernel_name="atrium", startup_timeout=60)
    try:
        first = client("--connect", km.connection_file, "--code", "shared_value = 'set by one client'")
        assert first.returncode == 0, first.stderr
        second = client("--connect", km.connection_file, "--code", "print(shared_value)")
        assert (second.returncode, second.stdout) == (0, "set by one client\n"), second.stderr
        assert km.is_alive()  # a client that only connected leaves the kernel running
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_bad_usage_and_unreadable_connection_file(client, tmp_path):
    usage = client("--code")
    assert usage.returncode == 2 and usage.stderr.startswith("usage: atrium-client")
    missing = client("--connect", tmp_path / "nope.json", "--code", "1")
    assert missing.returncode == 2 and "nope.json" in missing.stderr, missing.stderr
