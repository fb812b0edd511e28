"""The soak and load tests reuse the protocol suite's helpers (real kernels through jupyter_client)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "protocol"))
