// SPDX-License-Identifier: MIT
#pragma once
// front_hub's state, shared by its two halves: front_hub.cpp (relaying between clients and the kernel, served by
// the kernel's main thread) and front_commands.cpp (the control socket's requests: open, close, interrupt, ...).

#include "kernel/host/front_hub.hpp"
#include "kernel/host/epoll_set.hpp"
#include "kernel/host/front_outputs.hpp"
#include "kernel/wake_signal.hpp"
#include "kernel/wire_codec.hpp"

#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

namespace atrium
{
    struct front_hub::impl
    {
        static constexpr int burst = 64; ///< messages read from one socket before the others get their turn
        /// A front's sockets the main thread reads, in the order of its poll items: its clients' shell, control
        /// and stdin, heartbeat, then its control and stdin DEALERs to the kernel. (Not its shell DEALER: shell
        /// requests are handed to the kernel's server, and so are their replies. Not iopub: front_outputs.)
        enum group_item : std::size_t
        {
            shell_client,
            control_client,
            stdin_client,
            heartbeat_socket,
            control_kernel,
            stdin_kernel,
            group_size
        };
        static constexpr std::size_t max_header_bytes = 64 * 1024;
        static inline const std::string own_routing_id = "atrium-host"; ///< the hub's own requests come from it

        /// A control request waiting for the main thread, and where its answer goes.
        struct pending_command
        {
            nlohmann::json request;
            std::promise<nlohmann::json> answer;
        };
        static nlohmann::json refusal(const std::string& error);
        impl(zmq::context_t& context, kernel_endpoints kernel, nlohmann::json about);
        ~impl();

        // ---- served by the kernel's main thread (zmq_server's main_service) ----

        void poll_items(std::vector<zmq::pollitem_t>& items);
        std::chrono::milliseconds poll_timeout() const;

        static zmq::socket_t& socket_of(front& f, std::size_t item);
        static std::uint64_t tag_of(std::uint64_t number, std::size_t item);
        /// Its sockets join `watched` (opened) or leave it (before they close).
        void watch(front& f);
        void unwatch(front& f);
        /// Marks the socket readable when a message waits on it: its fd only tells that something may have changed,
        /// and a send, or a burst that stopped early, can leave a message behind a quiet fd.
        void recheck(front& f, std::size_t item);

        /// The front reads its shell requests from now on.
        void stop_awaiting_subscriber(front& f);
        void serve(const zmq::pollitem_t* items);
        /// Adds the sockets `watched` finds readable to `readable`.
        void collect_ready();
        /// Reads one socket of a front (group_item), then rechecks what it used.
        void serve_socket(std::uint64_t number, std::size_t item);
        /// Fronts whose iopub got its first subscriber (told by front_outputs) read their shell requests now.
        void take_first_subscribers();

        /// The kernel is stopping (its context closes next, which waits for every socket to close).
        void close();
        front* find_front(std::uint64_t number);
        /// Requests already waiting on the fronts' shell sockets go to the kernel now (before a shell reply).
        void take_waiting_requests();
        /// A shell reply of the kernel (its frames) to a front's request: to the client who asked.
        bool relay_shell_reply(std::vector<std::string>& frames);

        // ---- client -> kernel ----

        void relay_requests(front& f, front_channel channel);

        /// False when the request closed the front.
        bool relay_request(front& f, front_channel channel, std::vector<zmq::message_t>& parts);

        /// Why the kernel would refuse this shutdown_request (request_check.hpp), or empty.
        static std::string shutdown_problem(std::vector<zmq::message_t>::iterator delim);
        void refuse(const front& f, const std::string& why);

        /// A client's shutdown_request ends its front, never the host: answered here, as a kernel would answer
        /// it, then the front closes and its context is disposed.
        void answer_shutdown(front& f, front_channel channel, const std::vector<std::string>& client_identities,
                             const std::string& client_header, const std::string& content_text);

        /// Busy, the reply, idle: a request the front answers itself.
        void answer(front& f, front_channel channel, const std::vector<std::string>& client_identities,
                    const std::string& client_header, const std::string& reply_type, const std::string& content,
                    bool on_iopub_too = false);
        /// On the front's iopub, in order with what the kernel publishes (front_outputs).
        void publish(front& f, const std::string& msg_type, const std::string& parent, const std::string& content);

        // ---- kernel -> client ----

        /// Replies and input requests from the kernel, to the client whose request they answer, once the output
        /// published before them has been written: a client reading the reply must find it sent.
        void relay_answers(front& f, front_channel channel);

        /// Appends the message that starts at `parts[delim]` with the client's header as its parent, signed.
        void append_relayed(const front& f, std::vector<zmq::message_t>& relayed, std::vector<zmq::message_t>& parts,
                            std::size_t delim, const std::string& client_header);

        /// Waits until the kernel's publisher has written every output published so far.
        void wait_outputs_written();
        void echo_heartbeats(front& f);

        // ---- the hub's own requests to the kernel (interrupt, reset, dispose, shutdown) ----

        using reply_handler = std::function<void(const nlohmann::json& content)>;
        void ask_kernel(const std::string& msg_type, const front_identity& who, nlohmann::json content,
                        reply_handler on_reply);
        void take_own_replies();
        /// A shell reply to one of the hub's own requests (routing id own_routing_id): true when it was one.
        bool take_own_shell_reply(const std::vector<std::string>& frames);

        // ---- fronts opening and closing ----

        /// Closes the front now and disposes of its context; `done` runs once the kernel has done so. Opening
        /// the same kernel id meanwhile waits for that (a restart must never find the old namespace).
        void close_front(std::uint64_t number, std::function<void()> done);
        nlohmann::json open_front(const nlohmann::json& request);

        /// Answers now, or returns nullopt when the answer comes later through `command.answer`.
        std::optional<nlohmann::json> serve(pending_command& command);
        void serve_and_answer(pending_command& command);
        void run_commands();
        zmq::context_t& context;
        zmq_server* server = nullptr; ///< shell requests go to it directly (zmq_server::inject_shell)
        const kernel_endpoints kernel;
        const nlohmann::json about;
        wake_signal wake;
        std::mutex commands_mutex;
        std::deque<pending_command> commands;
        std::atomic<bool> hub_ended{false};
        std::atomic<std::size_t> front_count{0};
        std::vector<std::uint64_t> first_subscribers; ///< under commands_mutex: told by the publisher's thread
        /// The fronts' iopub sockets, on the kernel publisher's thread (attached: that publisher relays through it).
        front_outputs outputs;

        // The main thread only:
        zmq::socket_t own_requests; ///< DEALER to the kernel's control: the hub's own requests
        std::map<std::uint64_t, std::unique_ptr<front>> fronts;
        std::map<std::string, std::uint64_t> by_kernel_id;
        std::map<std::string, std::vector<pending_command>> disposing; ///< kernel ids whose context is going
        std::unordered_map<std::string, reply_handler> awaiting;        ///< own requests' msg_ids
        std::uint64_t next_front = 1; ///< 0 is the hub's own requests
        std::uint64_t sequence = 0;
        std::uint64_t generation = 1; ///< moves when the hub closes: fronts come and go in `watched`
        epoll_set watched;                    ///< every front's sockets' fds, tagged tag_of(front, item)
        std::vector<std::uint64_t> ready_tags; ///< kept for its capacity
        std::set<std::pair<std::uint64_t, std::size_t>> readable; ///< (front, group_item) to read without a wait
        bool stopping = false; ///< `stop` was served: no front opens any more
        bool relaying_requests = false; ///< relay_requests is running (take_waiting_requests waits for it)
    };
}
