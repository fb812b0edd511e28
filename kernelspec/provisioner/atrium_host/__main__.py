# SPDX-License-Identifier: MIT
"""`python -m atrium_host ping|list|stop [--mode MODE | --socket PATH]`: asks the host the provisioner would use.

For people, not for jupyter_client: which host runs, which kernels are its fronts, and how to end it (the
provisioner never does; a host otherwise ends after its linger time with no fronts).
"""

import argparse
import json
import os
import sys

from jupyter_core.paths import jupyter_runtime_dir

from .control import HostError, call


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m atrium_host", description=__doc__.splitlines()[0])
    parser.add_argument("op", choices=["ping", "list", "stop"])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--mode", default="scoped", help="the host of this mode in the Jupyter runtime dir (scoped)")
    where.add_argument("--socket", help="the host on this control socket")
    args = parser.parse_args(argv)
    path = args.socket or os.path.join(jupyter_runtime_dir(), f"atrium-host-{args.mode}.sock")
    try:
        answer = call(path, {"op": args.op}, 30.0)
    except HostError as error:
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
