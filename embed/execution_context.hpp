// SPDX-License-Identifier: MIT
#pragma once

#include "embed/output_channel.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace atrium
{
    struct execute_options
    {
        bool silent = false;
        bool store_history = true;
        bool allow_stdin = true;
        nlohmann::json user_expressions = nlohmann::json::object();
    };

    /// One Python namespace with its own execution count and output routing. Every request the
    /// kernel serves runs against exactly one context; nothing here touches process-wide state except
    /// through the context's own channel. Callers hold no GIL; each method takes it.
    class execution_context
    {
    public:
        /// `main_module`: use (and install) `__main__` as the namespace, as a single shared context should,
        /// so that pickling classes defined in cells works.
        execution_context(output_sink& sink, bool main_module);
        ~execution_context();
        execution_context(const execution_context&) = delete;
        execution_context& operator=(const execution_context&) = delete;

        /// Runs a cell; publishes its outputs and returns the execute_reply content.
        nlohmann::json execute(const std::string& code, const execute_options& options);
        nlohmann::json complete(const std::string& code, int cursor_pos);
        nlohmann::json inspect(const std::string& code, int cursor_pos, int detail_level);
        nlohmann::json is_complete(const std::string& code);
        /// The reply to a complete, inspect or is_complete request (its content bounded by the kernel's request
        /// checks); nullopt for any other type. Fields a request type does not use are never read.
        std::optional<nlohmann::json> answer_code_request(const std::string& msg_type, const nlohmann::json& content);

        /// Raises KeyboardInterrupt in this context's running cell, whatever thread runs it. CPython delivers
        /// it at the cell's next bytecode, so a blocking call (time.sleep) finishes first. Returns false when
        /// no cell is running. Any thread.
        bool interrupt();

        int execution_count() const noexcept;
        output_channel& channel() noexcept;

    private:
        struct impl;
        std::unique_ptr<impl> p_impl;
    };
}
