// SPDX-License-Identifier: MIT
#pragma once

#include "session/client_port.hpp"
#include "session/client_request.hpp"

#include <xeus/xmessage.hpp>

namespace atrium
{
    class zmq_server;

    /// A request xeus decoded, as the session layer sees it; the message keeps the routing frames its answers need.
    class xeus_request final : public client_request
    {
    public:
        explicit xeus_request(xeus::xmessage message);

        const nl::json& header() const override;
        const nl::json& parent_header() const override;
        const nl::json& metadata() const override;
        const nl::json& content() const override;
        std::shared_ptr<client_request> with_content(nl::json content) const override;

        const xeus::xmessage& message() const noexcept;

    private:
        xeus::xmessage m_message;
    };

    /// The session layer's client_port on Atrium's server: every request it is handed is an xeus_request.
    class xeus_port final : public client_port
    {
    public:
        explicit xeus_port(zmq_server& server);

    private:
        void publish_output_impl(const std::string& msg_type, const nl::json& parent_header, nl::json content,
                                 nl::json metadata) override;
        void send_reply_impl(const client_request& request, const std::string& reply_type, nl::json content,
                             nl::json metadata, reply_written on_written) override;
        std::string send_to_stdin_impl(const client_request& request, const std::string& msg_type,
                                       nl::json content) override;
        void abort_requests_before_last_reply_impl() override;
        void stop_soon_impl(std::chrono::milliseconds delay) override;
        void serve_on_main_thread_impl(int fd, std::function<void()> on_readable) override;

        zmq_server& m_server;
    };
}
