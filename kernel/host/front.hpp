// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/host/front_rewrite.hpp"
#include "common/message_signer.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace atrium
{
    /// The host kernel's own endpoints (inproc, in the host's ZeroMQ context), which fronts relay to.
    struct kernel_endpoints
    {
        std::string shell;
        std::string control;
        std::string stdin_;
    };

    /// The channels a front relays requests on, in the order of its socket arrays.
    enum class front_channel
    {
        shell = 0,
        control = 1,
        stdin_ = 2
    };

    /// A request relayed to the kernel, remembered until its answers have gone back.
    struct relayed_request
    {
        std::string client_header;                 ///< the client's header, exactly as it sent it
        std::vector<std::string> client_identities; ///< the client's routing identities
    };

    /// The requests of one front relayed to the kernel, remembered until their answers have gone back; the oldest
    /// are forgotten past a bound, so a client that never reads its answers cannot grow the host. Used by the
    /// hub's thread (requests and replies) and the publisher's (outputs: front_outputs).
    class request_memory
    {
    public:
        void remember(const std::string& host_msg_id, relayed_request request);
        /// The request a message of the kernel answers (its parent's msg_id); nullopt when not one of these.
        std::optional<relayed_request> find(const std::string& host_msg_id) const;
        /// Its client header alone.
        std::optional<std::string> client_header(const std::string& host_msg_id) const;

    private:
        mutable std::mutex m_mutex;
        std::unordered_map<std::string, relayed_request> m_requests;
        std::deque<std::string> m_request_order;
    };

    /// The front a routing identity names (front::routing_id); 0 when it names none.
    std::uint64_t front_of_routing_id(const std::string& identity);

    /// One kernel id's view of the host (docs/host.md): five sockets clients connect to, bound on `ip`, a key
    /// of its own, and three sockets to the host's kernel. Owned and used by the hub's thread alone.
    class front
    {
    public:
        /// Binds the client sockets (a port in `ports` that cannot be bound is replaced by a free one) and
        /// connects to the kernel. Throws zmq::error_t when `ip` cannot be bound at all.
        front(zmq::context_t& context, std::uint64_t number, front_identity identity, const std::string& key,
              const std::string& ip, const nlohmann::json& ports, const kernel_endpoints& kernel);
        front(const front&) = delete;
        front& operator=(const front&) = delete;
        /// Closes every socket; what was sent to clients still leaves within the linger time.
        ~front();

        /// The connection info a Jupyter client needs (docs/host.md, `open`).
        nlohmann::json connection_info() const;

        /// Remembers a request relayed to the kernel under `host_msg_id` (request_memory).
        void remember(const std::string& host_msg_id, relayed_request request);
        /// The request a message of the kernel answers (its parent's msg_id); nullopt when not one of this front's.
        std::optional<relayed_request> find(const std::string& host_msg_id) const;

        const std::uint64_t number;
        /// `atrium-front.<number>`: the identity the kernel sees this front's requests come from.
        const std::string routing_id;
        const front_identity identity;
        const std::string key;
        message_signer signer;
        replay_guard replays;
        const std::string session_id; ///< of the messages the front writes itself (iopub_welcome, shutdown)
        /// Until its first iopub subscriber arrives (at most a second after it opened), the front leaves shell
        /// requests unread, as a kernel does (docs/architecture.md, Dispatch): jupyter console sends its first
        /// cell right after kernel_info, and its output would otherwise reach no one.
        bool awaiting_subscriber = true;
        const std::chrono::steady_clock::time_point subscriber_deadline =
            std::chrono::steady_clock::now() + std::chrono::seconds(1);

        const std::shared_ptr<request_memory> requests = std::make_shared<request_memory>();
        std::array<zmq::socket_t, 3> clients; ///< ROUTERs: shell, control, stdin (front_channel order)
        /// XPUB, subscriptions applied by hand (iopub_welcome first); bound here, then handed to the publisher's
        /// thread (front_outputs), which alone uses it from then on.
        std::shared_ptr<zmq::socket_t> iopub;
        zmq::socket_t heartbeat; ///< REP
        std::array<zmq::socket_t, 3> kernel;  ///< DEALERs to the kernel's shell, control, stdin

    private:
        std::string m_ip;
        std::array<int, 5> m_ports{}; ///< shell, control, stdin, iopub, hb
    };

}
