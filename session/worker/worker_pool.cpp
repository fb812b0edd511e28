// SPDX-License-Identifier: MIT
#include "session/worker/worker_pool.hpp"

#include "common/error_ids.hpp"
#include "common/signal_free_thread.hpp"
#include "common/template_channel.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>

namespace atrium
{
    worker_handle::worker_handle(zmq::context_t& context, const std::string& key, cell_lane& lane)
        : socket(context, zmq::socket_type::router)
        , key(key)
        , wire(key, "link")
        , lane(lane)
        , lane_id(lane.announce(key))
    {
        socket.set(zmq::sockopt::linger, 0);
        socket.set(zmq::sockopt::sndhwm, 0);
        socket.set(zmq::sockopt::rcvhwm, 0);
        socket.set(zmq::sockopt::router_mandatory, 1); // a dead worker is an error, not a silent drop
    }

    worker_handle::~worker_handle()
    {
        lane.forget(lane_id);
    }

    void worker_handle::send(nlohmann::json header, std::string blob)
    {
        wire.send(socket, std::move(header), std::move(blob), &peer);
    }

    worker_pool::worker_pool(worker_pool_config config)
        : m_config(std::move(config))
        , m_context(1)
    {
        if (!m_config.lane)
            throw std::invalid_argument("[worker.spawn] a worker pool needs the kernel's cell lane");
        if (!m_config.use_template)
            m_template_state = "none (--preload=none: workers are spawned)";
        m_spawner = start_signal_free_thread([this] { spawner_main(); });
    }

    worker_pool::~worker_pool()
    {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_changed.notify_all();
        m_spawner.join();
        m_ready.clear();
        m_template.reset();
    }

    const worker_pool_config& worker_pool::config() const noexcept
    {
        return m_config;
    }

    std::size_t worker_pool::ready_count()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_ready.size();
    }

    std::unique_ptr<worker_handle> worker_pool::take()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        ++m_wanted;
        m_changed.notify_all();
        std::uint64_t failures_before = m_failures;
        while (true)
        {
            while (!m_ready.empty())
            {
                auto handle = std::move(m_ready.front());
                m_ready.pop_front();
                if (handle->process->reap_if_ended())
                    continue; // died while waiting: the spawner replaces it
                --m_wanted;
                m_changed.notify_all(); // refill
                return handle;
            }
            if (m_stop || m_failures != failures_before)
            {
                --m_wanted;
                throw std::runtime_error(m_stop ? "[worker.spawn] the kernel is shutting down" : m_last_error);
            }
            m_changed.wait(lock);
        }
    }

    void worker_pool::spawner_main()
    {
        std::chrono::milliseconds back_off{0};
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_stop)
        {
            if (m_ready.size() >= m_config.warm + m_wanted)
            {
                // Woken now and then to reap a template that died while nobody needed a worker (no zombie stays).
                if (m_changed.wait_for(lock, std::chrono::seconds(1)) == std::cv_status::timeout && m_template &&
                    m_template->ended())
                {
                    lock.unlock();
                    template_failed(m_template->ending());
                    lock.lock();
                }
                continue;
            }
            lock.unlock();
            std::unique_ptr<worker_handle> handle;
            std::string error;
            try
            {
                handle = start_one();
            }
            catch (const std::exception& e)
            {
                error = e.what();
            }
            lock.lock();
            if (handle)
            {
                back_off = std::chrono::milliseconds(0);
                m_ready.push_back(std::move(handle));
            }
            else
            {
                std::cerr << "[atrium] " << error << std::endl;
                m_last_error = error;
                ++m_failures;
                // Failing starts are retried slowly, never in a tight fork loop.
                back_off = std::min<std::chrono::milliseconds>(std::chrono::seconds(30),
                                                               std::max<std::chrono::milliseconds>(back_off * 2, std::chrono::milliseconds(250)));
                m_changed.notify_all();
                m_changed.wait_for(lock, back_off, [this] { return m_stop; });
                continue;
            }
            m_changed.notify_all();
        }
    }

    std::unique_ptr<worker_handle> worker_pool::new_handle()
    {
        static std::atomic<std::uint64_t> counter{0};
        auto handle = std::make_unique<worker_handle>(m_context, make_worker_key(), *m_config.lane);
        handle->socket.bind("ipc://@atrium-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
        return handle;
    }

    void worker_pool::make_output_ring(worker_handle& handle, worker_launch& launch)
    {
        std::string why;
        handle.ring = output_ring::create(why);
        if (handle.ring)
            launch.ring_fd = handle.ring->fd();
        else if (!m_ring_failure_logged)
        {
            m_ring_failure_logged = true; // the same reason each time: said once
            std::cerr << "[atrium] [worker.ring] no output ring for workers (" << why
                      << "): their output comes on the link" << std::endl;
        }
    }

    worker_launch worker_pool::launch_for(worker_handle& handle)
    {
        worker_launch launch;
        launch.executable = m_config.executable;
        launch.endpoint = handle.socket.get(zmq::sockopt::last_endpoint);
        launch.key = handle.key;
        launch.log_fd = m_config.log_fd;
        launch.limits = m_config.limits;
        launch.cells_endpoint = m_config.lane->endpoint();
        launch.lane_id = handle.lane_id;
        make_output_ring(handle, launch);
        return launch;
    }

    std::unique_ptr<worker_handle> worker_pool::start_one()
    {
        auto handle = new_handle();
        const bool tried_template = m_config.use_template && !m_template_given_up;
        if (tried_template) // (a launch makes the worker's ring: none for nothing)
            handle->process = fork_from_template(launch_for(*handle));
        if (handle->process)
        {
            std::optional<std::string> death = await_hello(*handle);
            if (!death)
                return handle;
            // Its setup after the fork failed (or the template hands out broken workers): the template's fault,
            // counted as its failures are, so a template whose children keep dying is given up.
            template_failed(std::string(error_id::worker_template) + " a worker forked from the template (pid " +
                            std::to_string(handle->process->pid()) + ") " + *death + " before it was ready" +
                            (*death == describe_exit_status(forked_setup_failed_exit_code << 8)
                                 ? " (its setup after the fork failed; the lines above say why)"
                                 : "") +
                            "; this worker is spawned plainly");
        }
        // A failed fork may have left a child that was handed this key, endpoint, lane id and ring (it is
        // killed, but could say hello first): the plain worker gets its own, so a stray is never taken for it.
        if (tried_template)
            handle = new_handle();
        handle->process = std::make_unique<worker_process>(launch_for(*handle));
        if (auto death = await_hello(*handle))
            throw std::runtime_error("[worker.spawn] the worker process " + *death + " before it was ready");
        return handle;
    }

    std::optional<std::string> worker_pool::await_hello(worker_handle& handle)
    {
        const auto deadline = std::chrono::steady_clock::now() + m_config.hello_timeout;
        while (std::chrono::steady_clock::now() < deadline)
        {
            zmq::pollitem_t items[] = {{handle.socket.handle(), 0, ZMQ_POLLIN, 0},
                                       {nullptr, handle.process->exit_fd(), ZMQ_POLLIN, 0}};
            zmq::poll(items, 2, std::chrono::milliseconds(100));
            if (items[1].revents & ZMQ_POLLIN)
            {
                handle.process->reap_if_ended();
                return handle.process->ending().value_or("ended");
            }
            if (!(items[0].revents & ZMQ_POLLIN))
                continue;
            try
            {
                std::string peer;
                while (auto message = handle.wire.receive(handle.socket, &peer))
                {
                    if (message->type() == "hello")
                    {
                        handle.peer = peer;
                        return std::nullopt;
                    }
                }
            }
            catch (const worker_wire_error& e)
            {
                std::cerr << "[atrium] refused a message on a new worker's channel: " << e.what() << std::endl;
            }
        }
        throw std::runtime_error("[worker.no_hello] a new worker did not prove its key within " +
                                 std::to_string(m_config.hello_timeout.count() / 1000) + " s");
    }

    std::unique_ptr<worker_process> worker_pool::fork_from_template(const worker_launch& launch)
    {
        if (!m_config.use_template || m_template_given_up)
            return nullptr;
        if (!m_template)
        {
            try
            {
                m_template = std::make_unique<worker_template>(m_config.executable, m_config.preload,
                                                               m_config.preload_if_installed, m_config.log_fd,
                                                               m_config.hello_timeout);
                // A forked worker starts with the template's whole address space, which RLIMIT_AS counts: past half
                // the limit, a worker could do little more than import what the template already did.
                const std::uint64_t size = address_space_bytes_of(m_template->pid());
                if (m_config.limits.memory_bytes != 0 && size > m_config.limits.memory_bytes / 2)
                    throw std::runtime_error(std::string(error_id::worker_preload) + " the template's address space (" +
                                             std::to_string(size >> 20) + " MiB) is more than half of --worker-memory (" +
                                             std::to_string(m_config.limits.memory_bytes >> 20) + " MiB)");
                set_template_state("pid " + std::to_string(m_template->pid()) + ", preloaded '" + m_config.preload +
                                   "'" + (m_config.preload_if_installed ? " (those installed)" : ""));
            }
            catch (const std::exception& e)
            {
                // An import that failed once fails again: spawn plainly for the kernel's life.
                m_template.reset();
                m_template_given_up = true;
                set_template_state(std::string("none (") + e.what() + "; workers are spawned)");
                std::cerr << "[atrium] " << e.what() << "; isolated workers are spawned plainly (ATRIUM_PRELOAD='"
                          << m_config.preload << "')" << std::endl;
                return nullptr;
            }
        }
        try
        {
            return m_template->fork_worker(launch);
        }
        catch (const std::exception& e)
        {
            template_failed(std::string(e.what()) + "; this worker is spawned plainly");
            return nullptr;
        }
    }

    void worker_pool::template_failed(const std::string& why)
    {
        // A template that died this often is not coming back healthy: stop paying for its restarts.
        constexpr std::size_t most_template_deaths = 5;
        m_template.reset();
        m_template_given_up = ++m_template_deaths >= most_template_deaths;
        set_template_state(m_template_given_up ? "none (the template failed " + std::to_string(m_template_deaths) +
                                                     " times; workers are spawned)"
                                               : "none (the last one failed; a new one starts for the next worker)");
        std::cerr << "[atrium] " << why
                  << (m_template_given_up ? "; the template failed " + std::to_string(m_template_deaths) +
                                                " times: workers are spawned plainly from now on"
                                          : "; a new template starts for the next worker")
                  << std::endl;
    }

    void worker_pool::set_template_state(std::string state)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_template_state = std::move(state);
    }

    std::string worker_pool::template_state()
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_template_state;
    }
}
