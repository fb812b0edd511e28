// SPDX-License-Identifier: MIT
#pragma once

#include "session/client_request.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace atrium
{
    /// The session layer's way back to clients, implemented by kernel/ on its server (kernel/xeus_port.hpp): the
    /// session manager and its contexts answer requests and publish output through it without knowing the
    /// Jupyter wire. The thread rules are the server's (kernel/zmq_server.hpp): any thread may publish and reply.
    class client_port
    {
    public:
        /// Called on the main thread right after a shell reply is written, with the arrival number of the newest
        /// request read before it (see session/abort_line.hpp).
        using reply_written = std::function<void(std::uint64_t arrived_before)>;

        virtual ~client_port() = default;

        /// An iopub message under `parent_header`. Any thread; the order of calls is the order on the wire.
        void publish_output(const std::string& msg_type, const nlohmann::json& parent_header, nlohmann::json content,
                            nlohmann::json metadata = nlohmann::json::object())
        {
            publish_output_impl(msg_type, parent_header, std::move(content), std::move(metadata));
        }
        /// `reply_type` to the client that sent `request`, on the channel it came in on. Any thread.
        void send_reply(const client_request& request, const std::string& reply_type, nlohmann::json content,
                        nlohmann::json metadata = nlohmann::json::object(), reply_written on_written = {})
        {
            send_reply_impl(request, reply_type, std::move(content), std::move(metadata), std::move(on_written));
        }
        /// An input_request on stdin to the client that sent `request`; returns its message id (the answer's parent).
        std::string send_to_stdin(const client_request& request, const std::string& msg_type, nlohmann::json content)
        {
            return send_to_stdin_impl(request, msg_type, std::move(content));
        }
        /// stop_on_error in the shared queue: answers `aborted` to the shell requests that arrived before the last
        /// reply left. Main thread.
        void abort_requests_before_last_reply()
        {
            abort_requests_before_last_reply_impl();
        }
        /// Stops serving `delay` from now (exit() in the shared kernel). Main thread.
        void stop_soon(std::chrono::milliseconds delay)
        {
            stop_soon_impl(delay);
        }
        /// The main thread also serves `fd` (isolated workers' cell lane) whenever it is readable. Main thread,
        /// before serving starts.
        void serve_on_main_thread(int fd, std::function<void()> on_readable)
        {
            serve_on_main_thread_impl(fd, std::move(on_readable));
        }

    private:
        virtual void publish_output_impl(const std::string& msg_type, const nlohmann::json& parent_header,
                                         nlohmann::json content, nlohmann::json metadata) = 0;
        virtual void send_reply_impl(const client_request& request, const std::string& reply_type,
                                     nlohmann::json content, nlohmann::json metadata, reply_written on_written) = 0;
        virtual std::string send_to_stdin_impl(const client_request& request, const std::string& msg_type,
                                               nlohmann::json content) = 0;
        virtual void abort_requests_before_last_reply_impl() = 0;
        virtual void stop_soon_impl(std::chrono::milliseconds delay) = 0;
        virtual void serve_on_main_thread_impl(int fd, std::function<void()> on_readable) = 0;
    };
}
