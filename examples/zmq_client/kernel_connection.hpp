// SPDX-License-Identifier: MIT
#pragma once

#include "common/message_signer.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <optional>
#include <string>

namespace atrium_client
{
    /// A message as this client handles it: the four JSON parts.
    struct message
    {
        nlohmann::json header;
        nlohmann::json parent_header;
        nlohmann::json metadata;
        nlohmann::json content;

        std::string msg_type() const { return header.value("msg_type", ""); }
        std::string parent_id() const { return parent_header.value("msg_id", ""); }
    };

    /// The shell, control and iopub sockets of one kernel, described by a connection file, with Atrium's wire
    /// library signing, checking and framing every message (the same code the kernel uses).
    class kernel_connection
    {
    public:
        /// Throws std::runtime_error for an unreadable connection file.
        explicit kernel_connection(const std::string& connection_file);

        /// Sends a request; returns its msg_id. `control` chooses the control socket over shell.
        std::string send(const std::string& msg_type, nlohmann::json content,
                         nlohmann::json metadata = nlohmann::json::object(), bool control = false);

        enum class channel
        {
            shell,
            control,
            iopub
        };
        /// The next message from any socket within `timeout_ms`, with the channel it came on; refused frames
        /// (bad signature, replay) are reported on stderr and skipped.
        std::optional<std::pair<channel, message>> receive(int timeout_ms);

        /// Sends kernel_info_request until both its reply and an iopub message have arrived: only then is it
        /// sure that output of the cells sent next will be seen. False after `timeout_ms`.
        bool wait_until_ready(int timeout_ms);

    private:
        zmq::context_t m_context;
        zmq::socket_t m_shell;
        zmq::socket_t m_control;
        zmq::socket_t m_iopub;
        std::unique_ptr<atrium::message_signer> p_signer;
        atrium::replay_guard m_replays;
        std::string m_session;
        std::string m_username;
    };
}
