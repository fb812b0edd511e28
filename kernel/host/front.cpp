// SPDX-License-Identifier: MIT
#include "kernel/host/front.hpp"

#include <xeus/xguid.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace atrium
{
    namespace
    {
        /// Requests remembered per front: the answers of older ones (a thread a cell left printing hours later)
        /// go nowhere. A note runs its cells in turn, so this is far more than any client has outstanding.
        constexpr std::size_t remembered_requests = 8192;

        const std::string routing_prefix = "atrium-front.";

        const char* const port_names[] = {"shell_port", "control_port", "stdin_port", "iopub_port", "hb_port"};

        int bind_port(zmq::socket_t& socket, const std::string& ip, const nlohmann::json& ports, const char* name)
        {
            auto wanted = ports.find(name);
            if (wanted != ports.end() && wanted->is_number_integer() && *wanted > 0 && *wanted < 65536)
            {
                // A restart asks for the ports its front had, which ZeroMQ's I/O thread may not have let go of
                // yet (a client that keeps its sockets, as jupyter_client's restart does, reconnects only to
                // them): a few tries. A port taken by someone else is then replaced by any free one, which a
                // client adopts from what `open` answers.
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
                while (true)
                {
                    try
                    {
                        socket.bind("tcp://" + ip + ":" + std::to_string(wanted->get<int>()));
                        return wanted->get<int>();
                    }
                    catch (const zmq::error_t& e)
                    {
                        if (e.num() != EADDRINUSE || std::chrono::steady_clock::now() >= deadline)
                            break;
                        std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    }
                }
            }
            socket.bind("tcp://" + ip + ":*");
            std::string endpoint = socket.get(zmq::sockopt::last_endpoint);
            return std::atoi(endpoint.substr(endpoint.rfind(':') + 1).c_str());
        }
    }

    front::front(zmq::context_t& context, std::uint64_t number, front_identity identity, const std::string& key,
                 const std::string& ip, const nlohmann::json& ports, const kernel_endpoints& kernel_at)
        : number(number)
        , routing_id(routing_prefix + std::to_string(number))
        , identity(std::move(identity))
        , key(key)
        , signer("hmac-sha256", key)
        , session_id(xeus::new_xguid())
        , clients{zmq::socket_t(context, zmq::socket_type::router), zmq::socket_t(context, zmq::socket_type::router),
                  zmq::socket_t(context, zmq::socket_type::router)}
        , iopub(std::make_shared<zmq::socket_t>(context, zmq::socket_type::xpub))
        , heartbeat(context, zmq::socket_type::rep)
        , kernel{zmq::socket_t(context, zmq::socket_type::dealer), zmq::socket_t(context, zmq::socket_type::dealer),
                 zmq::socket_t(context, zmq::socket_type::dealer)}
        , m_ip(ip)
    {
        for (zmq::socket_t* socket : {&clients[0], &clients[1], &clients[2], iopub.get(), &heartbeat})
        {
            socket->set(zmq::sockopt::linger, 1000);
            socket->set(zmq::sockopt::sndhwm, 0);
        }
        // As the kernel's own iopub: a subscriber this far behind is stuck, not slow.
        iopub->set(zmq::sockopt::sndhwm, 100000);
        iopub->set(zmq::sockopt::xpub_verbose, 1);
        iopub->set(zmq::sockopt::xpub_manual, 1);
        zmq::socket_t* bound[] = {&clients[0], &clients[1], &clients[2], iopub.get(), &heartbeat};
        for (std::size_t i = 0; i < m_ports.size(); ++i)
            m_ports[i] = bind_port(*bound[i], ip, ports, port_names[i]);

        // The kernel sends an input_request to the identity its request came from: the shell and stdin
        // sockets share one, as a Jupyter client's do.
        const std::string* endpoints[] = {&kernel_at.shell, &kernel_at.control, &kernel_at.stdin_};
        for (std::size_t i = 0; i < kernel.size(); ++i)
        {
            kernel[i].set(zmq::sockopt::linger, 0);
            kernel[i].set(zmq::sockopt::sndhwm, 0);
            kernel[i].set(zmq::sockopt::routing_id, routing_id);
            kernel[i].connect(*endpoints[i]);
        }
    }

    std::uint64_t front_of_routing_id(const std::string& identity)
    {
        if (identity.compare(0, routing_prefix.size(), routing_prefix) != 0 || identity.size() == routing_prefix.size() ||
            identity.size() > routing_prefix.size() + 19)
            return 0;
        std::uint64_t value = 0;
        for (std::size_t i = routing_prefix.size(); i < identity.size(); ++i)
        {
            if (identity[i] < '0' || identity[i] > '9')
                return 0;
            value = value * 10 + static_cast<std::uint64_t>(identity[i] - '0');
        }
        return value;
    }

    front::~front()
    {
        for (auto& socket : clients)
            socket.close();
        if (iopub) // still here when the front never reached the publisher
            iopub->close();
        heartbeat.close();
        for (auto& socket : kernel)
            socket.close();
    }

    nlohmann::json front::connection_info() const
    {
        nlohmann::json info = {{"ip", m_ip}, {"transport", "tcp"}, {"key", key},
                               {"signature_scheme", "hmac-sha256"}, {"kernel_name", ""}};
        for (std::size_t i = 0; i < m_ports.size(); ++i)
            info[port_names[i]] = m_ports[i];
        return info;
    }

    void request_memory::remember(const std::string& host_msg_id, relayed_request request)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_requests.emplace(host_msg_id, std::move(request));
        m_request_order.push_back(host_msg_id);
        if (m_request_order.size() > remembered_requests)
        {
            m_requests.erase(m_request_order.front());
            m_request_order.pop_front();
        }
    }

    std::optional<relayed_request> request_memory::find(const std::string& host_msg_id) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_requests.find(host_msg_id);
        return it == m_requests.end() ? std::nullopt : std::optional<relayed_request>(it->second);
    }

    std::optional<std::string> request_memory::client_header(const std::string& host_msg_id) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_requests.find(host_msg_id);
        return it == m_requests.end() ? std::nullopt : std::optional<std::string>(it->second.client_header);
    }

    void front::remember(const std::string& host_msg_id, relayed_request request)
    {
        requests->remember(host_msg_id, std::move(request));
    }

    std::optional<relayed_request> front::find(const std::string& host_msg_id) const
    {
        return requests->find(host_msg_id);
    }
}
