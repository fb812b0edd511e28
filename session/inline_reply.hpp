// SPDX-License-Identifier: MIT
#pragma once

#include "session/client_request.hpp"

#include <string>

namespace atrium
{
    class client_port;

    /// An error reply's content, with a traceback of one line.
    nl::json error_content(const std::string& ename, const std::string& evalue);

    /// Answers an execute_request without running it (magics, aborted or refused requests): busy, the optional
    /// `text` on stdout, the error when `reply` is one, the reply, idle, all under the request's header.
    void reply_inline(client_port& server, const client_request& request, nl::json reply, const std::string& text = "");

    /// Answers an execute_request the session manager serves itself (Atrium's magics, refused cells) as a cell
    /// that is not stored in history: busy, execute_input and the reply both numbered `executions` (the
    /// context's count so far, as ipykernel numbers such a cell), the optional `text` on stdout, an error as an
    /// `error` output, idle. Front ends need that number: jupyter console adds 1 to it, JupyterLab shows it.
    void reply_as_cell(client_port& server, const client_request& request, int executions, nl::json reply,
                       const std::string& text = "");

    /// busy, then (unless the request is silent) execute_input, numbered as ipykernel does: only cells stored
    /// in history advance the count, so it reads `executions` + 1 for a stored cell.
    void publish_execute_start(client_port& server, const client_request& request, int executions);

    /// True when `reply` ends `request` with an error that must abort the requests queued behind it:
    /// `stop_on_error` (default true) and not `silent`.
    bool stops_queue(const client_request& request, const nl::json& reply);

    /// True when the reply carries `exit()`'s ask_exit payload without keep_kernel: the user asked to end the
    /// kernel (shared mode) or their note's context (per-note modes).
    bool asks_to_end(const nl::json& reply);

    /// An execute_reply's metadata: when the cell started and how it ended.
    nl::json execute_metadata(const std::string& started, const std::string& status);

    /// The execute_reply and idle status for a request the kernel answers itself, after its busy status; an
    /// error is also published as an `error` output.
    void finish_execute(client_port& server, const client_request& request, nl::json reply,
                        nl::json metadata = nl::json::object());

    /// busy, `reply` as the request's `*_reply`, idle: how complete, inspect, is_complete and history requests
    /// are answered.
    void answer_quick(client_port& server, const client_request& request, nl::json reply);

    /// A comm_open for a target nobody registered: closed at once, as ipykernel does (busy and idle are the
    /// caller's).
    void refuse_comm_open(client_port& server, const client_request& request);
}
