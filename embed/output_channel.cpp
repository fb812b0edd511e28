// SPDX-License-Identifier: MIT
#include "embed/output_channel.hpp"

#include "embed/flush_timer.hpp"

namespace atrium
{
    output_channel::output_channel(output_sink& sink)
        : m_sink(sink)
        , m_coalescer([this](const std::string& name, std::string text)
                      { m_sink.publish("stream", {{"name", name}, {"text", std::move(text)}}, nlohmann::json::object()); })
    {
    }

    output_channel::~output_channel()
    {
        flush_timer::instance().disarm(*this);
        m_coalescer.flush();
    }

    void output_channel::write(std::string_view stream_name, std::string_view text)
    {
        if (m_coalescer.write(stream_name, text))
        {
            flush_timer::instance().arm(*this);
        }
    }

    void output_channel::publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata)
    {
        m_coalescer.in_order([&] { m_sink.publish(msg_type, std::move(content), std::move(metadata)); });
    }

    void output_channel::flush()
    {
        m_coalescer.flush();
    }

    std::optional<std::string> output_channel::request_input(const std::string& prompt, bool password)
    {
        flush(); // the user must see everything printed before the prompt
        return m_sink.request_input(prompt, password);
    }
}
