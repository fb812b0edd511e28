// SPDX-License-Identifier: MIT
#include "kernel/iopub_publisher.hpp"

#include "kernel/frame_send.hpp"
#include "kernel/message_header.hpp"
#include "kernel/wake_signal.hpp"
#include "kernel/wire_codec.hpp"
#include "common/zmq_retry.hpp"
#include "common/signal_free_thread.hpp"

#include <zmq.hpp>

#include <atomic>
#include <condition_variable>
#include <vector>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

namespace atrium
{
    struct iopub_publisher::impl
    {
        /// A message, or a task to run in its place in the order.
        using queued_item = std::variant<outgoing_message, std::function<void()>>;

        impl(zmq::socket_t& socket, const message_signer& signer, std::string user_name, std::string session_id)
            : socket(socket)
            , signer(signer)
            , user_name(std::move(user_name))
            , session_id(std::move(session_id))
        {
        }

        void run()
        {
            zmq::pollitem_t polled[] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                                        {nullptr, wake.fd(), ZMQ_POLLIN, 0},
                                        {nullptr, relay ? relay->fd() : -1, ZMQ_POLLIN, 0}};
            try
            {
                while (true)
                {
                    const auto wait = std::chrono::milliseconds(relay && relay->has_pending() ? 0 : -1);
                    retry_on_eintr([&] { return zmq::poll(polled, relay ? 3 : 2, wait); });
                    if (polled[1].revents & ZMQ_POLLIN)
                    {
                        wake.clear();
                        write_queued();
                        if (stop_requested.load())
                            break;
                    }
                    if (polled[0].revents & ZMQ_POLLIN)
                        welcome_subscribers();
                    if (relay && ((polled[2].revents & ZMQ_POLLIN) || relay->has_pending()))
                        guarded([&] { relay->serve(); });
                }
            }
            catch (const zmq::error_t& e)
            {
                if (e.num() != ETERM)
                    std::cerr << "[atrium] iopub thread stopped: " << e.what() << std::endl;
            }
            if (relay)
                relay->close();
            std::lock_guard<std::mutex> lock(mutex);
            stopped = true;
            written_changed.notify_all();
        }

        void write_queued()
        {
            std::vector<queued_item>& batch = this->batch;
            std::uint64_t last;
            {
                std::lock_guard<std::mutex> lock(mutex);
                batch.swap(queue);
                last = queued.load();
            }
            if (batch.empty())
                return;
            for (auto& item : batch)
            {
                if (auto* task = std::get_if<std::function<void()>>(&item))
                    guarded(*task);
                else if (relay)
                    guarded([&] { relay->relay(encode_outgoing(std::get<outgoing_message>(std::move(item)), signer)); });
                else
                    send_frames(socket, encode_outgoing(std::get<outgoing_message>(std::move(item)), signer));
            }
            if (relay)
                guarded([&] { relay->flushed(); });
            batch.clear(); // kept for its capacity: the queue takes it at the next swap (a deque allocated each time)
            {
                std::lock_guard<std::mutex> lock(mutex);
                written.store(last);
            }
            written_changed.notify_all();
        }

        void enqueue(queued_item item, bool output);

        /// A relay's failure (a front's socket it could not watch, memory) is logged; the thread writes on for
        /// everyone else. Only the end of the ZeroMQ context ends the thread.
        template <class Work>
        static void guarded(Work&& work)
        {
            try
            {
                work();
            }
            catch (const zmq::error_t& e)
            {
                if (e.num() == ETERM)
                    throw; // the context is ending: the thread stops
                std::cerr << "[atrium] [host.relay_error] " << e.what() << std::endl;
            }
            catch (const std::exception& e)
            {
                std::cerr << "[atrium] [host.relay_error] " << e.what() << std::endl;
            }
        }

        void welcome_subscribers()
        {
            for (int i = 0; i < 64; ++i)
            {
                zmq::message_t event;
                if (!retry_on_eintr([&] { return socket.recv(event, zmq::recv_flags::dontwait); }))
                    return;
                auto data = static_cast<const char*>(event.data());
                if (event.size() < 1)
                    continue;
                std::string topic(data + 1, event.size() - 1);
                if (data[0] == 0)
                {
                    socket.set(zmq::sockopt::unsubscribe, topic);
                    continue;
                }
                socket.set(zmq::sockopt::subscribe, topic);
                {
                    std::lock_guard<std::mutex> lock(mutex);
                    subscribed = true;
                }
                subscribed_changed.notify_all();
                // Protocol 5.4's iopub_welcome, sent at once rather than queued behind other output.
                xeus::xpub_message welcome("atrium.iopub_welcome",
                                           make_message_header("iopub_welcome", user_name, session_id),
                                           nl::json::object(), nl::json::object(), {{"subscription", topic}}, {});
                send_frames(socket, encode_pub_message(welcome, signer));
            }
        }

        zmq::socket_t& socket;
        const message_signer& signer;
        const std::string user_name;
        const std::string session_id;
        wake_signal wake;

        iopub_relay* relay = nullptr;

        std::mutex mutex;
        std::vector<queued_item> queue;
        std::vector<queued_item> batch; ///< the publisher's thread only
        std::atomic<std::uint64_t> queued{0};  ///< written under `mutex`, with the queue
        std::atomic<std::uint64_t> latest_output{0}; ///< written under `mutex`
        std::atomic<std::uint64_t> written{0};       ///< written under `mutex`
        std::condition_variable written_changed;
        bool stopped = false;
        bool subscribed = false;
        std::condition_variable subscribed_changed;

        std::atomic<bool> stop_requested{false};
        std::thread thread;
    };

    iopub_publisher::iopub_publisher(zmq::socket_t& socket, const message_signer& signer, std::string user_name,
                                     std::string session_id)
        : p_impl(std::make_unique<impl>(socket, signer, std::move(user_name), std::move(session_id)))
    {
    }

    iopub_publisher::~iopub_publisher()
    {
        stop();
    }

    void iopub_publisher::relay_through(iopub_relay& relay)
    {
        p_impl->relay = &relay;
        std::lock_guard<std::mutex> lock(p_impl->mutex);
        p_impl->subscribed = true; // nobody waits for a subscriber of the kernel's own socket
    }

    void iopub_publisher::start()
    {
        p_impl->thread = start_signal_free_thread([this] { p_impl->run(); });
    }

    void iopub_publisher::stop()
    {
        p_impl->stop_requested.store(true);
        p_impl->wake.raise(); // the thread writes what is queued (the shutdown reply's status) before it returns
        if (p_impl->thread.joinable())
            p_impl->thread.join();
        std::vector<impl::queued_item> unsent; // a task left here may hold a socket, which closes as it goes
        {
            std::lock_guard<std::mutex> lock(p_impl->mutex);
            p_impl->stopped = true; // also when it never started: nobody waits for writes that will not happen
            unsent.swap(p_impl->queue);
        }
        p_impl->written_changed.notify_all();
    }

    void iopub_publisher::publish(xeus::xpub_message message)
    {
        const std::string type = message.header().value("msg_type", std::string());
        publish(outgoing_from(message, {message.topic()}), type != "status" && type != "execute_input");
    }

    void iopub_publisher::publish(outgoing_message message, bool output)
    {
        p_impl->enqueue(std::move(message), output);
    }

    void iopub_publisher::run_in_order(std::function<void()> task)
    {
        p_impl->enqueue(std::move(task), false);
    }

    void iopub_publisher::impl::enqueue(queued_item item, bool output)
    {
        bool was_empty;
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (stopped)
                return; // dropped here (a task's sockets close now), never left for a thread that is gone
            was_empty = queue.empty();
            queue.push_back(std::move(item));
            queued.store(queued.load() + 1);
            if (output)
                latest_output.store(queued.load());
        }
        // The thread takes the whole queue after each wake-up, so only the message that finds it empty needs to
        // wake it: busy, execute_input and idle of one request cost one wake-up, not three.
        if (was_empty)
            wake.raise();
    }

    std::uint64_t iopub_publisher::latest_output() const
    {
        return p_impl->latest_output.load();
    }

    void iopub_publisher::wait_written(std::uint64_t place)
    {
        if (p_impl->written.load() >= place)
            return; // the common case: a cell's output left while it ran
        std::unique_lock<std::mutex> lock(p_impl->mutex);
        p_impl->written_changed.wait(lock, [&] { return p_impl->written.load() >= place || p_impl->stopped; });
    }

    void iopub_publisher::wait_for_subscriber(std::chrono::steady_clock::time_point deadline)
    {
        std::unique_lock<std::mutex> lock(p_impl->mutex);
        p_impl->subscribed_changed.wait_until(lock, deadline, [&] { return p_impl->subscribed; });
    }
}
