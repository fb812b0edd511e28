// SPDX-License-Identifier: MIT
#include "session/context_sink.hpp"

#include "embed/interrupts.hpp"
#include "session/client_port.hpp"

#include <chrono>

namespace atrium
{
    context_sink::context_sink(client_port& server)
        : m_server(server)
    {
    }

    void context_sink::begin_request(const client_request_ptr& request)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        p_request = request.get();
        m_parent = request;
        m_allow_stdin = request->content().value("allow_stdin", true);
        m_interrupted = false;
    }

    void context_sink::finish_request()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        p_request = nullptr;
        m_allow_stdin = false;
    }

    int context_sink::input_match(const std::string& parent_msg_id, const std::string& session)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_prompt.match(parent_msg_id, session);
    }

    void context_sink::answer_input(const std::string& value)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_answer = value;
            m_prompt.clear();
        }
        m_input_ready.notify_all();
    }

    void context_sink::interrupt_input()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_interrupted = true;
        }
        m_input_ready.notify_all();
    }

    void context_sink::publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata)
    {
        client_request_ptr parent;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            parent = m_parent;
        }
        static const nlohmann::json no_parent = nlohmann::json::object(); // output before any request
        m_server.publish_output(msg_type, parent ? parent->header() : no_parent, std::move(content),
                                std::move(metadata));
    }

    std::optional<std::string> context_sink::request_input(const std::string& prompt, bool password)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        if (!m_allow_stdin || p_request == nullptr)
        {
            return std::nullopt;
        }
        m_answer.reset();
        // Sent here rather than through xeus, which names the password flag "pwd" instead of the protocol's
        // "password" (frontends would then echo what the user types at a getpass prompt).
        m_prompt.id =
            m_server.send_to_stdin(*p_request, "input_request", {{"prompt", prompt}, {"password", password}});
        m_prompt.session = m_parent ? m_parent->header().value("session", "") : "";
        if (!wait_unless_interrupted(lock, m_input_ready, [this] { return m_answer.has_value(); },
                                     [this] { return m_interrupted; }))
        {
            m_prompt.clear();
            throw interrupted();
        }
        return m_answer;
    }
}
