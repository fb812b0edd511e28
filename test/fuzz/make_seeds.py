"""Writes the small seed corpora committed in test/fuzz/corpus/ (run again after changing a harness's format).

Each harness's input format is described at the top of its .cpp file; parts are separated by NUL bytes.
"""

import json
import pathlib
import shutil
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "protocol"))
from worker_frames import pack as pack_worker_frame, sign as sign_worker_frame  # noqa: E402
WIRE_KEY = b"fuzz-key"
WORKER_KEY = b"0123456789abcdef0123456789abcdef"


def j(value):
    return json.dumps(value, separators=(",", ":")).encode()


def header(msg_type, **extra):
    return dict({"msg_id": "a1_2_3", "msg_type": msg_type, "session": "s1", "username": "", "date":
                 "2026-11-27T07:00:00.000000Z", "version": "5.3"}, **extra)


REQUESTS = [
    ("execute_request", {"code": "print(1)", "silent": False, "store_history": True, "user_expressions": {"x": "1"},
                         "allow_stdin": True, "stop_on_error": True}),
    ("complete_request", {"code": "imp", "cursor_pos": 3}),
    ("inspect_request", {"code": "len", "cursor_pos": 3, "detail_level": 1}),
    ("is_complete_request", {"code": "for i in x:"}),
    ("history_request", {"hist_access_type": "range", "session": 0, "start": 1, "stop": 5, "raw": True,
                         "output": False}),
    ("history_request", {"hist_access_type": "search", "pattern": "a*", "n": 10, "unique": True}),
    ("kernel_info_request", {}),
    ("comm_info_request", {"target_name": "jupyter.widget"}),
    ("comm_open", {"comm_id": "c" * 32, "target_name": "echo", "data": {"a": [1, 2]}}),
    ("comm_msg", {"comm_id": "c" * 55, "data": {}}),
    ("comm_close", {"comm_id": "c" * 56, "data": {}}),
    ("shutdown_request", {"restart": True}),
    ("input_reply", {"value": "yes"}),
]


def write(harness, name, data):
    directory = HERE / "corpus" / harness
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def wire_seeds():
    for i, (msg_type, content) in enumerate(REQUESTS):
        frames = [b"client-id", b"<IDS|MSG>", b"", j(header(msg_type)), b"{}", j({"atrium_note": "n"} if i % 4 else {}),
                  j(content)]
        if i % 3 == 0:
            frames.append(b"buffer")
        write("fuzz_wire_codec", f"{msg_type}_{i}", b"\x01" + b"\x00".join(frames))
    write("fuzz_wire_codec", "unsigned", b"\x02" + b"\x00".join([b"<IDS|MSG>", b"", j(header("x")), b"{}", b"{}", b"{}"]))
    write("fuzz_wire_codec", "long_identity",
          b"\x01" + b"\x00".join([b"r" * 60, b"<IDS|MSG>", b"", j(header("kernel_info_request")), b"{}", b"{}", b"{}"]))


def request_seeds():
    for i, (msg_type, content) in enumerate(REQUESTS):
        write("fuzz_request_check", f"{msg_type}_{i}", b"\x00".join([j(header(msg_type)), j(header("execute_request")),
                                                                     b"{}", j(content)]))


def json_seeds():
    write("fuzz_json", "object", j({"a": [1, 2.5, None, True, "x\u00e9\n"], "b": {"c": -3}}))
    write("fuzz_json", "invalid_utf8", b'"\xff\xfe ok \xe2\x82"')
    write("fuzz_json", "header_parts", b"execute_request\x00alice\x00session-1")
    write("fuzz_json", "escapes", j("tab\t quote\" backslash\\ ctrl\x01 \u2028"))


def worker_seeds():
    messages = [
        ({"type": "publish", "parent": {}, "msg_type": "stream", "content": {"name": "stdout", "text": "hi"},
          "metadata": {}}, b""),
        ({"type": "call", "op": "pool.put", "args": {"name": "x"}, "id": 4}, b"\x80\x04pickle"),
        ({"type": "comm_opened", "comm_id": "abc", "target_name": "t"}, b""),
        ({"type": 5, "n": 1}, b""),
        # raw frames (common/raw_frames.hpp): a stream chunk, and a display bundle with two lifted values
        ({"type": "publish", "parent": {}, "msg_type": "stream", "content": {"name": "stdout", "text": ""},
          "metadata": {}, "raw": [{"path": ["content", "text"], "bytes": 5}]}, b"hello"),
        ({"type": "publish", "parent": {}, "msg_type": "display_data",
          "content": {"data": {"image/png": "", "text/html": ""}, "list": [""]}, "metadata": {},
          "raw": [{"path": ["content", "data", "image/png"], "bytes": 3},
                  {"path": ["content", "list", 0], "bytes": 2}]}, b"\x89PN\x00\xff"),
    ]
    for i, (head, blob) in enumerate(messages):
        text = j(head)
        # A fixed salt: the corpus is the same on every run. (The signature is binary, NULs included, so a
        # genuine frame is a seed only verbatim, not split into parts.)
        signature = sign_worker_frame(WORKER_KEY, b"cells", bytes(16), i + 1, text, blob)
        write("fuzz_worker_wire", f"resign_{i}", b"\x03" + b"\x00".join([b"", text, blob]))
        write("fuzz_worker_wire", f"ring_{i}", b"\x0b" + b"\x00".join([b"", text, blob]))
        frame = pack_worker_frame(signature, text, blob)
        write("fuzz_worker_wire", f"raw_{i}", b"\x06" + frame)
        write("fuzz_worker_wire", f"raw_truncated_{i}", b"\x04" + frame[:-1])
    # A blob in the output ring: the length's top bit, then the chunk's position and length there.
    reference = struct.pack(">QQ", 4096, 5)
    ring_frame = (struct.pack(">I", 40) + bytes(40) + struct.pack(">Q", 2) + b"{}" +
                  struct.pack(">Q", len(reference) | 1 << 63) + reference)
    write("fuzz_worker_wire", "raw_ring_reference", b"\x04" + ring_frame)
    write("fuzz_worker_wire", "raw_oversize", b"\x04" + b"\xff" * 4 + pack_worker_frame(b"", b"{}", b"")[4:])
    write("fuzz_worker_wire", "three_frames", b"\x00" + b"\x00".join([b"sig", b"{}", b"", b"extra"]))


def worker_message_seeds():
    """Headers of each type an isolated worker sends, as worker_wire hands them to the kernel."""
    headers = {
        "publish": {"type": "publish", "q": 7, "msg_type": "stream", "cell_id": 2, "parent": {"msg_id": "m1"},
                    "content": {"name": "stdout", "text": ""}, "metadata": {}, "raw": [{"path": ["content", "text"],
                                                                                     "bytes": 4}]},
        "input_request": {"type": "input_request", "q": 8, "prompt": "who? ", "password": False, "cell_id": 2},
        "reply": {"type": "reply", "id": 3, "content": {"status": "ok", "matches": []}},
        "cell_reply": {"type": "reply", "id": 4, "after": 9, "paused": True,
                       "content": {"status": "error", "ename": "E", "payload": [{"source": "ask_exit"}]}},
        "call": {"type": "call", "id": 5, "op": "pool.get", "args": {"name": "x"}},
        "comm_opened": {"type": "comm_opened", "comm_id": "c1", "target_name": "t"},
        "comm_closed": {"type": "comm_closed", "comm_id": "c1"},
        "comm_target": {"type": "comm_target", "target_name": "t"},
        "comm_handled": {"type": "comm_handled", "id": 6},
    }
    for name, header in headers.items():
        write("fuzz_worker_message_check", name, j(header))
        # Each field of the wrong type once (refused by the check): one mutation from a read that would throw.
        for field in header:
            if field != "type":
                write("fuzz_worker_message_check", f"{name}_bad_{field}", j(dict(header, **{field: None})))


def comm_seeds():
    scripts = [
        [b"Techo", b"Oabc\techo", b"Kabc", b'm{"comm_id":"abc","data":{"x":1}}', b"Cabc", b"Kabc"],
        [b"Techo", b'o{"comm_id":"client1","target_name":"echo","data":{}}', b'm{"comm_id":"client1","data":{}}',
         b'c{"comm_id":"client1","data":{}}', b'm{"comm_id":"client1","data":{}}'],
        [b"O" + b"k" * 100 + b"\tt", b'o{"comm_id":"' + b"x" * 100 + b'","target_name":"t"}', b"unote-b", b"Tt"],
        # A client opening a comm towards a target only a cell uses, then messaging it (the xcomm m_moved_from bug).
        [b"Oabc\tt", b'o{"comm_id":"x1","target_name":"t","data":{}}', b'm{"comm_id":"x1","data":{}}'],
        [b"Tt", b'o{"comm_id":"x2","target_name":"t"}', b'o{"comm_id":"x3","target_name":"t"}',
         b'o{"comm_id":"x4","target_name":"t"}', b'm{"comm_id":"x2","data":{}}'],
        [b"rid1\tt\tnote-a", b"rid2\tu\thidden", b"it", b"i", b"xid1", b"fnote-a", b"Rt\tnote-b", b"it"],
    ]
    for i, script in enumerate(scripts):
        write("fuzz_comm_routing", f"script_{i}", b"\x00".join(script))


def front_seeds():
    request = header("execute_request")
    seeds = {
        "execute": [j(request), b"{}", j(dict(request, msg_id="atrium-host.3.4")), b"\x00\x00\x00\x00\x00\x00\x00\x03"],
        "note_hint": [j(request), j({"atrium_note": "other", "cellId": "c"}), b'{"a":{"msg_id":"x"},"msg_id":"y"}', b"atrium-host.12.1"],
        "no_msg_type": [j({"msg_id": "m"}), b"{}", b"[]", b"atrium-host..1"],
        "bad_json": [b'{"msg_type":"x"', b"[1]", b"{", b"\xff" * 8],
    }
    for name, parts in seeds.items():
        write("fuzz_front_rewrite", name, b"\x00".join(parts))


if __name__ == "__main__":
    shutil.rmtree(HERE / "corpus", ignore_errors=True)
    wire_seeds()
    request_seeds()
    json_seeds()
    worker_seeds()
    worker_message_seeds()
    comm_seeds()
    front_seeds()
