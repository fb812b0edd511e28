"""A client that talks to a kernel it has just started, before its iopub subscription has arrived (as jupyter
console does: it sends its first cell as soon as kernel_info is answered), still gets that cell's output."""

import time

from jupyter_client.manager import KernelManager
from protocol_helpers import KERNEL_NAME, TIMEOUT, collect_iopub, get_reply, stream_text


def test_first_cell_output_waits_for_the_first_subscriber(tmp_path):
    km = KernelManager(kernel_name=KERNEL_NAME, connection_file=str(tmp_path / "kernel.json"))
    km.start_kernel()
    kc = km.client()
    try:
        # Shell first; iopub only a moment later, after both requests are on their way.
        kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        info_id = kc.kernel_info()
        cell_id = kc.execute("print(6*7)")
        time.sleep(0.3)
        kc.iopub_channel.start()
        assert get_reply(kc, info_id)["content"]["status"] == "ok"
        assert get_reply(kc, cell_id)["content"]["status"] == "ok"
        assert stream_text(collect_iopub(kc, cell_id, timeout=TIMEOUT)) == "42\n"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
