"""input() and getpass() answered by the client through input_request."""
import builtins

import _atrium


class StdinNotImplementedError(RuntimeError):
    """Raised when a cell asks for input but the client did not allow stdin (ipykernel's name)."""


def _ask(prompt, password):
    answer = _atrium.input(str(prompt), password)
    if answer is None:
        raise StdinNotImplementedError("input() is not available: this frontend does not support stdin requests")
    return answer


def input(prompt=""):
    return _ask(prompt, False)


def getpass_(prompt="Password: ", stream=None):
    return _ask(prompt, True)


def patch_getpass(module):
    module.getpass = getpass_


def install():
    # getpass is patched by atrium_runtime.hooks when user code imports it.
    builtins.input = input
