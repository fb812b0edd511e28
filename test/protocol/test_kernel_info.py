"""kernel_info_reply describes the kernel and the interpreter it really runs."""

import re

from protocol_helpers import execute_ok, get_reply, result_data


def test_kernel_info(kc):
    info = get_reply(kc, kc.kernel_info())["content"]
    assert info["status"] == "ok"
    assert re.fullmatch(r"5\.\d+", info["protocol_version"]), info["protocol_version"]
    assert tuple(map(int, info["protocol_version"].split("."))) >= (5, 3)
    assert isinstance(info["implementation"], str) and info["implementation"]
    assert isinstance(info["implementation_version"], str) and info["implementation_version"]
    assert isinstance(info["banner"], str) and info["banner"].strip()
    assert isinstance(info["help_links"], list)
    for link in info["help_links"]:
        assert set(link) >= {"text", "url"}

    lang = info["language_info"]
    assert lang["name"] == "python"
    assert lang["mimetype"] == "text/x-python"
    assert lang["file_extension"] == ".py"
    assert lang["pygments_lexer"]
    assert lang["codemirror_mode"]

    _, msgs = execute_ok(kc, "import platform\nplatform.python_version()")
    assert repr(lang["version"]) == result_data(msgs)["text/plain"]
