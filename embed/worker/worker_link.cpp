// SPDX-License-Identifier: MIT
#include "embed/worker/worker_link.hpp"

#include "embed/interrupts.hpp"
#include "embed/output_sink.hpp"
#include "common/signal_free_thread.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <iostream>

namespace atrium
{
    worker_link::worker_link(zmq::context_t& context, std::string endpoint, const std::string& key, pid_t kernel_pid,
                             int ring_fd)
        : m_context(context)
        , m_endpoint(std::move(endpoint))
        , m_kernel_pid(kernel_pid)
        , m_wire(key, "link")
        , m_wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
    {
        if (ring_fd < 0)
            return;
        std::string why;
        m_ring = output_ring::join(ring_fd, why);
        if (!m_ring)
            std::cerr << "[atrium-worker " << getpid() << "] [worker.ring] cannot use the output ring (" << why
                      << "): output goes on the link" << std::endl;
    }

    void worker_link::start(handler on_message)
    {
        m_on_message = std::move(on_message);
        m_thread = start_signal_free_thread([this] { run(); });
        m_thread.detach();
    }

    void worker_link::send(nlohmann::json header, std::string blob)
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            header["q"] = ++m_queued;
            m_outbox.push_back({std::move(header), std::move(blob)});
        }
        std::uint64_t one = 1;
        (void)!write(m_wake_fd, &one, sizeof one);
    }

    std::uint64_t worker_link::last_queued()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_queued;
    }

    worker_message worker_link::call(const std::string& op, const nlohmann::json& args, std::string blob)
    {
        std::uint64_t id;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            id = ++m_next_call;
            m_calls[id];
        }
        send({{"type", "call"}, {"id", id}, {"op", op}, {"args", args}}, std::move(blob));
        std::unique_lock<std::mutex> lock(m_mutex);
        if (!wait_unless_interrupted(lock, m_answered, [&] { return m_calls[id].has_value(); }, [] { return false; }))
        {
            m_calls.erase(id); // a late answer is dropped
            throw interrupted();
        }
        worker_message answer = std::move(*m_calls[id]);
        m_calls.erase(id);
        return answer;
    }

    void worker_link::run()
    {
        zmq::socket_t socket(m_context, zmq::socket_type::dealer);
        socket.set(zmq::sockopt::linger, 0);
        socket.set(zmq::sockopt::sndhwm, 0);
        socket.set(zmq::sockopt::rcvhwm, 0);
        socket.connect(m_endpoint);
        m_wire.send(socket, {{"type", "hello"}, {"pid", getpid()}});
        while (true)
        {
            zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, m_wake_fd, ZMQ_POLLIN, 0}};
            if (zmq::poll(items, 2, std::chrono::milliseconds(500)) == 0 && m_ring)
                m_ring->trim_if_drained(); // quiet for half a second
            if (getppid() != m_kernel_pid)
                _exit(0); // the kernel is gone (PR_SET_PDEATHSIG covers this too; this also covers exec races)
            if (items[1].revents & ZMQ_POLLIN)
            {
                std::uint64_t count;
                (void)!read(m_wake_fd, &count, sizeof count);
            }
            flush_outbox(socket);
            if (items[0].revents & ZMQ_POLLIN)
                receive_all(socket);
        }
    }

    void worker_link::flush_outbox(zmq::socket_t& socket)
    {
        std::deque<worker_message> batch;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            batch.swap(m_outbox);
        }
        for (auto& message : batch)
        {
            try
            {
                std::optional<std::string> in_ring;
                if (m_ring && message.blob.size() >= output_ring::min_chunk_bytes)
                    in_ring = m_wire.seal_in_ring(message.header, message.blob, *m_ring);
                if (in_ring)
                    worker_wire::send_sealed(socket, std::move(*in_ring));
                else
                    m_wire.send(socket, message.header, message.blob); // small, or the ring is full now
            }
            catch (const std::exception& e)
            {
                // One message the channel cannot carry (over its bounds): said, and the link goes on.
                std::cerr << "[atrium-worker " << getpid() << "] dropped a " << message.type()
                          << " message: " << e.what() << std::endl;
            }
        }
    }

    void worker_link::receive_all(zmq::socket_t& socket)
    {
        while (true)
        {
            std::optional<worker_message> message;
            try
            {
                message = m_wire.receive(socket);
            }
            catch (const worker_wire_error& e)
            {
                std::cerr << "[atrium-worker " << getpid() << "] refused: " << e.what() << std::endl;
                continue;
            }
            if (!message)
                return;
            const std::string type = message->type();
            if (type == "ping")
            {
                m_wire.send(socket, {{"type", "pong"}});
            }
            else if (type == "stop")
            {
                _exit(0);
            }
            else if (type == "call_reply")
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                auto it = m_calls.find(message->header.value("id", std::uint64_t{0}));
                if (it != m_calls.end())
                    it->second = std::move(*message);
                m_answered.notify_all();
            }
            else
            {
                m_on_message(std::move(*message));
            }
        }
    }
}
