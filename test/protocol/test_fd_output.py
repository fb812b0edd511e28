"""Output written straight to file descriptors 1 and 2 (subprocesses, C code) reaches the client too, before
the cell's execute_reply. Atrium's own behaviour (ipykernel 7 delivers such output late or not at all), so these
tests start the `atrium` kernelspec whatever ATRIUM_KERNEL_NAME says."""

import pytest
from protocol_helpers import execute_ok, stream_text
from session_helpers import kernel_of


@pytest.fixture(scope="module")
def kc():
    with kernel_of("atrium") as (_, client):
        yield client


def test_subprocess_and_raw_fd_output_arrive_with_the_cell(kc):
    code = ("import os, subprocess\n"
            "os.system('echo from a shell')\n"
            "subprocess.run(['sh', '-c', 'echo to stderr 1>&2'])\n"
            "os.write(1, 'raw bytes, caf\\u00e9\\n'.encode())\n")
    _, msgs = execute_ok(kc, code)
    stdout, stderr = stream_text(msgs), stream_text(msgs, "stderr")
    assert "from a shell\n" in stdout
    assert "raw bytes, café\n" in stdout
    assert "to stderr\n" in stderr


def test_invalid_utf8_on_a_raw_fd_is_replaced_not_lost(kc):
    _, msgs = execute_ok(kc, "import os\nos.write(1, b'before \\xff after\\n')")
    assert "before \ufffd after\n" in stream_text(msgs)
