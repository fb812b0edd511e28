// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/kernel_options.hpp"
#include "session/binding.hpp"

#include <xeus/xinterpreter.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace atrium
{
    class python_runtime;
    class session_manager;
    class xeus_comm_bridge;
    class xeus_port;
    class zmq_server;

    /// Atrium on xeus's interpreter interface: the adapter between the wire and the session manager
    /// (session/session_manager.hpp). Requests that belong to a context (execute, complete, inspect,
    /// is_complete, history, input replies, interrupts, context resets) are decoded and handed to the session
    /// manager, which answers them through the server; in-process comms and kernel_info go through xeus's core.
    class python_interpreter final : public xeus::xinterpreter
    {
    public:
        python_interpreter(binding_config binding, worker_settings workers);
        ~python_interpreter() override;

        /// Connects the session manager to the server: requests, stdin answers and interrupts. Main thread,
        /// after Python started (configure_impl) and before the server serves.
        void attach_server(zmq_server& server);

        /// Ends the contexts, then runs Python's exit hooks; called once the server has stopped.
        void finish();

    private:
        bool route_request(xeus::xmessage& request, std::uint64_t sequence);
        bool route_stdin(const xeus::xmessage& message);
        bool route_control(const xeus::xmessage& message);
        /// Comms in the kernel's own registry (shared and scoped modes).
        void serve_comm(xeus::xmessage& request);

        void configure_impl() override;
        nl::json execute_request_impl(int execution_counter, const std::string& code, bool silent, bool store_history,
                                      nl::json user_expressions, bool allow_stdin) override;
        nl::json complete_request_impl(const std::string& code, int cursor_pos) override;
        nl::json inspect_request_impl(const std::string& code, int cursor_pos, int detail_level) override;
        nl::json is_complete_request_impl(const std::string& code) override;
        nl::json kernel_info_request_impl() override;
        void shutdown_request_impl() override;

        binding_config m_binding;
        worker_settings m_worker_settings;
        zmq_server* p_server = nullptr;
        std::unique_ptr<python_runtime> p_runtime;
        std::unique_ptr<xeus_comm_bridge> p_comms;
        std::unique_ptr<xeus_port> p_port;
        /// Made in attach_server (it needs the server); destroyed before the port it answers through.
        std::unique_ptr<session_manager> p_sessions;
        nl::json m_kernel_info;
    };
}
