// SPDX-License-Identifier: MIT
#pragma once

#include "common/message_signer.hpp"
#include "kernel/outgoing_message.hpp"

#include <xeus/xmessage.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zmq
{
    class socket_t;
}

namespace atrium
{
    /// Takes over where published messages go (a host's fronts: kernel/host/front_outputs). Every method is called
    /// on the publisher's thread, which owns the relay's sockets as it owns its own.
    class iopub_relay
    {
    public:
        virtual ~iopub_relay() = default;
        /// A descriptor the publisher's thread polls beside its own socket: readable when `serve` has work.
        virtual int fd() const = 0;
        /// True when `serve` has work left that the descriptor will not announce (the thread then does not wait).
        virtual bool has_pending() const = 0;
        virtual void serve() = 0;
        /// A published message, encoded and signed as for the kernel's own iopub: the relay sends it on.
        virtual void relay(std::vector<std::string> frames) = 0;
        /// After each batch of messages and tasks.
        virtual void flushed() = 0;
        /// The publisher's thread ends: every socket closes.
        virtual void close() = 0;
    };

    /// Owns the iopub socket on a thread of its own: it applies clients' subscriptions (welcoming each one) and
    /// serialises, signs and writes what any thread publishes, in the order it was published.
    ///
    /// Every published message gets a place in that order. A reply waits (`wait_written`) until the output
    /// published before it is on the wire, so a client never holds a cell's reply while that cell's output is
    /// still inside the kernel: jupyter console, seeing idle from its own interrupt_request, stops reading
    /// iopub at the execute reply, and a KeyboardInterrupt published before the reply but written after it was
    /// never shown. Status and execute_input only announce work, and clients do not need them first: a reply
    /// does not wait for them, so a `pass` cell's reply does not wait for the publisher at all. The publisher's
    /// thread waits on nothing but its socket and its queue, so waiting for it from any thread, holding any
    /// lock, cannot deadlock.
    class iopub_publisher
    {
    public:
        /// `socket`: a bound XPUB socket with manual, verbose subscriptions; from `start()` on it belongs to
        /// the publisher's thread.
        iopub_publisher(zmq::socket_t& socket, const message_signer& signer, std::string user_name,
                        std::string session_id);
        ~iopub_publisher();

        /// From now on what is published goes to `relay` instead of the socket (which then waits for no
        /// subscriber: the relay welcomes its own). Before `start()`.
        void relay_through(iopub_relay& relay);
        void start();
        /// Writes what is queued, then stops the thread. Idempotent.
        void stop();

        /// Queues `message`. Any thread.
        void publish(xeus::xpub_message message);
        /// Queues `message`; `output` is false for status and execute_input (see latest_output). Any thread.
        void publish(outgoing_message message, bool output);
        /// Runs `task` on the publisher's thread after everything queued before it (not at all once stopped).
        /// Any thread.
        void run_in_order(std::function<void()> task);
        /// The place of the newest output queued so far: any message but status and execute_input (0 before
        /// the first). Any thread.
        std::uint64_t latest_output() const;
        /// Returns once every message up to `place` has been written, or the publisher has stopped. Any thread.
        void wait_written(std::uint64_t place);
        /// Returns once a first client has subscribed, or at `deadline`. Any thread.
        void wait_for_subscriber(std::chrono::steady_clock::time_point deadline);

    private:
        struct impl;
        std::unique_ptr<impl> p_impl;
    };
}
