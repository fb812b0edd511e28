// SPDX-License-Identifier: MIT
#include "kernel/xeus_port.hpp"

#include "kernel/zmq_server.hpp"

namespace atrium
{
    namespace
    {
        /// Every request the session layer answers came from this kernel wrapped as an xeus_request.
        const xeus::xmessage& message_of(const client_request& request)
        {
            return static_cast<const xeus_request&>(request).message();
        }
    }

    xeus_request::xeus_request(xeus::xmessage message)
        : m_message(std::move(message))
    {
    }

    const nl::json& xeus_request::header() const
    {
        return m_message.header();
    }

    const nl::json& xeus_request::parent_header() const
    {
        return m_message.parent_header();
    }

    const nl::json& xeus_request::metadata() const
    {
        return m_message.metadata();
    }

    const nl::json& xeus_request::content() const
    {
        return m_message.content();
    }

    std::shared_ptr<client_request> xeus_request::with_content(nl::json content) const
    {
        return std::make_shared<xeus_request>(xeus::xmessage(m_message.identities(), m_message.header(),
                                                             m_message.parent_header(), m_message.metadata(),
                                                             std::move(content), xeus::buffer_sequence()));
    }

    const xeus::xmessage& xeus_request::message() const noexcept
    {
        return m_message;
    }

    xeus_port::xeus_port(zmq_server& server)
        : m_server(server)
    {
    }

    void xeus_port::publish_output_impl(const std::string& msg_type, const nl::json& parent_header, nl::json content,
                                        nl::json metadata)
    {
        m_server.publish_output(msg_type, parent_header, std::move(content), std::move(metadata));
    }

    void xeus_port::send_reply_impl(const client_request& request, const std::string& reply_type, nl::json content,
                                    nl::json metadata, reply_written on_written)
    {
        m_server.send_reply(message_of(request), reply_type, std::move(content), std::move(metadata),
                            std::move(on_written));
    }

    std::string xeus_port::send_to_stdin_impl(const client_request& request, const std::string& msg_type,
                                              nl::json content)
    {
        return m_server.send_to_stdin(message_of(request), msg_type, std::move(content));
    }

    void xeus_port::abort_requests_before_last_reply_impl()
    {
        m_server.abort_requests_before_last_reply();
    }

    void xeus_port::stop_soon_impl(std::chrono::milliseconds delay)
    {
        m_server.stop_soon(delay);
    }

    void xeus_port::serve_on_main_thread_impl(int fd, std::function<void()> on_readable)
    {
        m_server.on_main_readable(fd, std::move(on_readable));
    }
}
