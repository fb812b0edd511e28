// SPDX-License-Identifier: MIT
#pragma once

#include "embed/output_sink.hpp"
#include "session/pending_prompt.hpp"

#include "session/client_request.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace atrium
{
    class client_port;

    /// Where one context's output and input prompts go: iopub under the parent header of the request the
    /// context is serving, stdin to the client that sent it. One per context, so contexts running side by
    /// side never mix their output.
    class context_sink final : public output_sink
    {
    public:
        explicit context_sink(client_port& server);

        /// The request being served; output from threads the cell started keeps this parent until the next
        /// request begins (the sink holds the request until then).
        void begin_request(const client_request_ptr& request);
        void finish_request();

        /// How well an input_reply fits this sink's pending prompt: 2 it names the prompt as its parent,
        /// 1 it comes from the client session that was asked (jupyter_client sends replies without a parent),
        /// 0 this sink waits for no answer or for another client's.
        int input_match(const std::string& parent_msg_id, const std::string& session);
        /// Delivers the answer to the pending prompt.
        void answer_input(const std::string& value);
        /// Ends a pending input() wait with KeyboardInterrupt.
        void interrupt_input();

        void publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata) override;
        std::optional<std::string> request_input(const std::string& prompt, bool password) override;

    private:
        client_port& m_server;
        std::mutex m_mutex;
        std::condition_variable m_input_ready;
        const client_request* p_request = nullptr;
        /// Holds the parent header: shared rather than copied, since every message under it passes it on by
        /// reference (kernel/outgoing_message.hpp serialises it once per request).
        client_request_ptr m_parent;
        bool m_allow_stdin = false;
        pending_prompt m_prompt;
        std::optional<std::string> m_answer;
        bool m_interrupted = false;
    };
}
