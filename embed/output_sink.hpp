// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace atrium
{
    /// Where one context's output goes: the kernel implements it with the parent header of the request
    /// the context is serving, so embed/ never needs to know about messages or sockets.
    class output_sink
    {
    public:
        virtual ~output_sink() = default;
        /// Publishes an iopub message (`stream`, `display_data`, `execute_result`, `error`, `comm_msg`, ...).
        virtual void publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata) = 0;
        /// Asks the client for a line of input and blocks until it answers. Returns nullopt when the request
        /// does not allow stdin; throws `interrupted` when the user interrupts the wait.
        virtual std::optional<std::string> request_input(const std::string& prompt, bool password) = 0;
    };

    struct interrupted : std::exception
    {
        const char* what() const noexcept override
        {
            return "interrupted";
        }
    };
}
