// SPDX-License-Identifier: MIT
#pragma once

#include "embed/output_coalescer.hpp"
#include "embed/output_sink.hpp"

namespace atrium
{
    /// A context's output path: coalesced streams plus ordered rich messages, flushed promptly by the
    /// process's flush timer so that `print` in a long loop shows up while the cell still runs.
    class output_channel
    {
    public:
        explicit output_channel(output_sink& sink);
        ~output_channel();
        output_channel(const output_channel&) = delete;
        output_channel& operator=(const output_channel&) = delete;

        void write(std::string_view stream_name, std::string_view text);
        /// Publishes after every byte written before it.
        void publish(const std::string& msg_type, nlohmann::json content,
                     nlohmann::json metadata = nlohmann::json::object());
        void flush();
        std::optional<std::string> request_input(const std::string& prompt, bool password);

    private:
        output_sink& m_sink;
        output_coalescer m_coalescer;
    };
}
