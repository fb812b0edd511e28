// SPDX-License-Identifier: MIT
#pragma once

#include <xeus/xmessage.hpp>

#include <string>

namespace atrium
{
    class zmq_server;

    /// An error reply's content, with a traceback of one line.
    nl::json error_content(const std::string& ename, const std::string& evalue);

    /// Answers an execute_request without running it (magics, aborted or refused requests): busy, the optional
    /// `text` on stdout, the error when `reply` is one, the reply, idle, all under the request's header.
    void reply_inline(zmq_server& server, const xeus::xmessage& request, nl::json reply, const std::string& text = "");

    /// The execute_reply and idle status for a request the kernel answers itself, after its busy status; an
    /// error is also published as an `error` output.
    void finish_execute(zmq_server& server, const xeus::xmessage& request, nl::json reply,
                        nl::json metadata = nl::json::object());
}
