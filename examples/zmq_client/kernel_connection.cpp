// SPDX-License-Identifier: MIT
#include "kernel_connection.hpp"

#include "kernel/connection_file.hpp"
#include "kernel/message_header.hpp"
#include "kernel/wire_codec.hpp"

#include <zmq_addon.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>

namespace atrium_client
{
    namespace
    {
        std::string endpoint(const xeus::xconfiguration& config, const std::string& port)
        {
            return config.m_transport + "://" + config.m_ip + ":" + port;
        }

        std::string user_name()
        {
            const char* user = std::getenv("USER");
            return user && *user ? user : "atrium-client";
        }
    }

    kernel_connection::kernel_connection(const std::string& connection_file)
        : m_shell(m_context, zmq::socket_type::dealer)
        , m_control(m_context, zmq::socket_type::dealer)
        , m_iopub(m_context, zmq::socket_type::sub)
        , m_username(user_name())
    {
        xeus::xconfiguration config = atrium::read_connection_file(connection_file);
        p_signer = std::make_unique<atrium::message_signer>(config.m_signature_scheme, config.m_key);
        // One session for every request: on a per-note kernel the cells' note comes from --note, else this id.
        m_session = atrium::make_message_header("", "", "").value("msg_id", "client");
        for (zmq::socket_t* socket : {&m_shell, &m_control, &m_iopub})
            socket->set(zmq::sockopt::linger, 0);
        m_shell.connect(endpoint(config, config.m_shell_port));
        m_control.connect(endpoint(config, config.m_control_port));
        m_iopub.set(zmq::sockopt::subscribe, "");
        m_iopub.connect(endpoint(config, config.m_iopub_port));
    }

    std::string kernel_connection::send(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata,
                                        bool control)
    {
        nlohmann::json header = atrium::make_message_header(msg_type, m_username, m_session);
        std::string id = header["msg_id"];
        xeus::xmessage request({}, std::move(header), nlohmann::json::object(), std::move(metadata), std::move(content),
                               {});
        atrium::frame_list frames = atrium::encode_message(request, *p_signer);
        std::vector<zmq::const_buffer> parts;
        for (const std::string& frame : frames)
            parts.emplace_back(frame.data(), frame.size());
        zmq::send_multipart(control ? m_control : m_shell, parts);
        return id;
    }

    std::optional<std::pair<kernel_connection::channel, message>> kernel_connection::receive(int timeout_ms)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (true)
        {
            zmq::pollitem_t items[] = {{m_shell.handle(), 0, ZMQ_POLLIN, 0},
                                       {m_control.handle(), 0, ZMQ_POLLIN, 0},
                                       {m_iopub.handle(), 0, ZMQ_POLLIN, 0}};
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() < 0)
                return std::nullopt;
            try
            {
                zmq::poll(items, 3, left);
            }
            catch (const zmq::error_t& e)
            {
                if (e.num() == EINTR)
                    continue;
                throw;
            }
            for (int i = 0; i < 3; ++i)
            {
                if (!(items[i].revents & ZMQ_POLLIN))
                    continue;
                zmq::socket_t& socket = i == 0 ? m_shell : i == 1 ? m_control : m_iopub;
                std::vector<zmq::message_t> parts;
                (void)zmq::recv_multipart(socket, std::back_inserter(parts));
                atrium::frame_list frames;
                for (const auto& part : parts)
                    frames.push_back(part.to_string());
                atrium::decode_result decoded = atrium::decode_message(std::move(frames), *p_signer, m_replays);
                if (!decoded.message)
                {
                    std::cerr << "[client.bad_message] " << decoded.error << std::endl;
                    continue;
                }
                const xeus::xmessage& m = *decoded.message;
                return std::make_pair(static_cast<channel>(i),
                                      message{m.header(), m.parent_header(), m.metadata(), m.content()});
            }
        }
    }

    bool kernel_connection::wait_until_ready(int timeout_ms)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        bool replied = false;
        bool heard_iopub = false;
        while (std::chrono::steady_clock::now() < deadline)
        {
            send("kernel_info_request", nlohmann::json::object());
            auto resend = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
            while (std::chrono::steady_clock::now() < resend)
            {
                auto received = receive(100);
                if (!received)
                    continue;
                replied = replied || received->second.msg_type() == "kernel_info_reply";
                heard_iopub = heard_iopub || received->first == channel::iopub;
                if (replied && heard_iopub)
                    return true;
            }
        }
        return false;
    }
}
