// SPDX-License-Identifier: MIT
#pragma once

#include "embed/output_sink.hpp"

#include <xeus/xinterpreter.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace atrium
{
    class execution_context;
    class history_store;
    class python_runtime;
    class comm_bridge;
    class zmq_server;

    /// xeus's interpreter interface implemented on Atrium's execution engine. It translates between
    /// xeus's request calls and one execution context, and routes that context's output to xeus.
    class python_interpreter final : public xeus::xinterpreter, private output_sink
    {
    public:
        explicit python_interpreter(history_store& history);
        ~python_interpreter() override;

        /// Output is published through `server` directly, under the parent header of the request that
        /// produced it (xeus's own publisher would copy every stream chunk twice more).
        void attach_server(zmq_server& server);

        /// Serves one execute_request end to end (main thread): busy, execute_input, the cell's output,
        /// the reply, aborts after a failure with stop_on_error, idle.
        void serve_execute(xeus::xmessage request);

        /// Runs Python's exit hooks; called once the server has stopped.
        void finish();

    private:
        void configure_impl() override;
        nl::json execute_request_impl(int execution_counter, const std::string& code, bool silent, bool store_history,
                                      nl::json user_expressions, bool allow_stdin) override;
        nl::json complete_request_impl(const std::string& code, int cursor_pos) override;
        nl::json inspect_request_impl(const std::string& code, int cursor_pos, int detail_level) override;
        nl::json is_complete_request_impl(const std::string& code) override;
        nl::json kernel_info_request_impl() override;
        void shutdown_request_impl() override;

        void publish(const std::string& msg_type, nl::json content) override;
        std::optional<std::string> request_input(const std::string& prompt, bool password) override;

        /// Runs `request`, turning any escaping exception into an error reply: xeus sends no reply at all
        /// when an *_impl throws.
        template <class F>
        nl::json guarded(F&& request);

        /// The parent header output is published under: the current request's on the main thread; for
        /// output flushed from other threads (the flush timer, threads a cell started), the last execute's.
        nl::json output_parent();

        history_store& m_history;
        zmq_server* p_server = nullptr;
        std::mutex m_parent_mutex;
        nl::json m_execute_parent = nl::json::object();
        std::thread::id m_main_thread = std::this_thread::get_id();
        std::unique_ptr<python_runtime> p_runtime;
        std::unique_ptr<execution_context> p_context;
        std::unique_ptr<comm_bridge> p_comms;
        nl::json m_kernel_info;

        const xeus::xmessage* p_current_request = nullptr; ///< the execute_request being served (main thread)
        bool m_allow_stdin = false;
        std::mutex m_input_mutex;
        std::condition_variable m_input_ready;
        std::optional<std::string> m_input_value;
    };
}
