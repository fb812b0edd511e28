// SPDX-License-Identifier: MIT
#pragma once

#include "embed/output_sink.hpp"

#include <xeus/xinterpreter.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

namespace atrium
{
    class execution_context;
    class history_store;
    class python_runtime;
    class comm_bridge;

    /// xeus's interpreter interface implemented on Atrium's execution engine. It translates between
    /// xeus's request calls and one execution context, and routes that context's output to xeus.
    class python_interpreter final : public xeus::xinterpreter, private output_sink
    {
    public:
        explicit python_interpreter(history_store& history);
        ~python_interpreter() override;

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

        history_store& m_history;
        std::unique_ptr<python_runtime> p_runtime;
        std::unique_ptr<execution_context> p_context;
        std::unique_ptr<comm_bridge> p_comms;
        nl::json m_kernel_info;

        bool m_allow_stdin = false;
        std::mutex m_input_mutex;
        std::condition_variable m_input_ready;
        std::optional<std::string> m_input_value;
    };
}
