// SPDX-License-Identifier: MIT
#pragma once

#include "embed/comm_bridge.hpp"
#include "embed/output_sink.hpp"
#include "embed/worker/worker_link.hpp"

#include <condition_variable>
#include <mutex>
#include <set>

namespace atrium
{
    /// A worker's output and input prompts, sent to the kernel, which publishes them to the client under the
    /// parent header given here: the header of the request the worker is serving.
    class worker_sink final : public output_sink
    {
    public:
        explicit worker_sink(worker_link& link);

        /// `cell_id`: the kernel's id of the cell, stamped on its output and prompts. The kernel matches them to
        /// its cells by that, never by the client's msg_id, which need not be unique.
        void begin_request(const nlohmann::json& parent_header, std::uint64_t cell_id, bool allow_stdin);
        void finish_request();
        /// The client's answer to the pending input() prompt (dropped when none is pending).
        void answer_input(const std::string& value);

        void publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata) override;
        std::optional<std::string> request_input(const std::string& prompt, bool password) override;

    private:
        worker_link& m_link;
        std::mutex m_mutex;
        std::condition_variable m_input_ready;
        nlohmann::json m_parent = nlohmann::json::object();
        std::uint64_t m_cell_id = 0;
        bool m_allow_stdin = false;
        bool m_waiting = false;
        std::optional<std::string> m_answer;
    };

    /// A worker's comms: the kernel learns which comms and targets live here, so it can route the client's
    /// comm messages to this worker.
    class worker_comms final : public comm_bridge
    {
    public:
        explicit worker_comms(worker_link& link);

        /// Comm messages a handler sends go out under the header of the client message it handles.
        void set_handler_parent(const nlohmann::json& parent_header);

        void open(const std::string& comm_id, const std::string& target_name) override;
        void check_open(const std::string& comm_id) override;
        void close(const std::string& comm_id) override;
        void register_target(const std::string& target_name) override;
        void publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata) override;
        /// A comm the client opened (adopted) or closed (forgotten).
        void adopt(const std::string& comm_id);
        void forget(const std::string& comm_id);

    private:
        worker_link& m_link;
        std::mutex m_mutex;
        nlohmann::json m_handler_parent = nlohmann::json::object();
        std::set<std::string> m_open;
    };
}
