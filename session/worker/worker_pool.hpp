// SPDX-License-Identifier: MIT
#pragma once

#include "session/worker/cell_lane.hpp"
#include "session/worker/worker_process.hpp"
#include "session/worker/worker_template.hpp"
#include "common/worker_wire.hpp"

#include <zmq.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace atrium
{
    /// A started worker that has proven it holds its key: its process and the kernel's end of its channel.
    /// Owned by one thread at a time (ZeroMQ sockets are not thread-safe; handing one over is).
    struct worker_handle
    {
        std::unique_ptr<worker_process> process;
        zmq::socket_t socket; ///< ROUTER bound on an abstract unix socket, talking only to `peer`
        std::string peer;     ///< the worker's routing id, learnt from its signed hello
        std::string key;      ///< this worker's own signing key
        worker_wire wire;
        std::optional<output_ring> ring; ///< where the worker puts big output (none if the system could not make one)
        cell_lane& lane;
        const std::string lane_id; ///< the worker's name on `lane`

        worker_handle(zmq::context_t& context, const std::string& key, cell_lane& lane);
        /// Forgets the worker on the lane; the process (if still running) is killed and reaped.
        ~worker_handle();
        worker_handle(const worker_handle&) = delete;
        worker_handle& operator=(const worker_handle&) = delete;
        void send(nlohmann::json header, std::string blob = {});
    };

    struct worker_pool_config
    {
        std::string executable;
        cell_lane* lane = nullptr; ///< required: every worker's main thread joins it
        int log_fd = 2;
        worker_limits limits;
        std::size_t warm = 1; ///< workers kept started and waiting
        std::chrono::milliseconds hello_timeout{30000};
        /// Fork workers from a template that has imported `preload` (comma-separated modules); false: spawn each.
        bool use_template = false;
        std::string preload;
        bool preload_if_installed = false; ///< the default list: modules not installed are left out, not an error
    };

    /// Starts workers and keeps `warm` of them ready, so that a new isolated note's first cell does not wait
    /// for Python to start. One spawner thread starts every worker: a worker dies with the thread that forked
    /// it (PR_SET_PDEATHSIG), and this thread lives as long as the pool. With `use_template`, workers are forked
    /// from a worker_template the spawner starts first; when it cannot preload, the pool logs why and spawns
    /// every worker plainly; when it dies, that worker is spawned and a new template started for the next.
    class worker_pool
    {
    public:
        explicit worker_pool(worker_pool_config config);
        /// Kills the waiting workers and joins the spawner.
        ~worker_pool();
        worker_pool(const worker_pool&) = delete;
        worker_pool& operator=(const worker_pool&) = delete;

        /// A ready worker: a warm one at once, else one started now. Throws `[worker.spawn]` (or
        /// `[worker.no_hello]`) when a worker cannot be started. The pool refills in the background.
        std::unique_ptr<worker_handle> take();

        const worker_pool_config& config() const noexcept;
        std::size_t ready_count();
        /// The worker template for %contexts: "pid N, preloaded 'numpy,pandas'", or "none (why)". Any thread.
        std::string template_state();

    private:
        void spawner_main();
        std::unique_ptr<worker_handle> start_one();
        /// A new output ring for the worker about to start, in `handle` and `launch`; logs why not, once.
        void make_output_ring(worker_handle& handle, worker_launch& launch);
        /// A worker_handle with a fresh key, endpoint and lane id (its process not yet started).
        std::unique_ptr<worker_handle> new_handle();
        /// How to start `handle`'s worker; gives it a new output ring.
        worker_launch launch_for(worker_handle& handle);
        /// Waits for the worker's hello: nothing once it came, how the process ended if it ended first; throws
        /// `[worker.no_hello]` when it takes longer than hello_timeout.
        std::optional<std::string> await_hello(worker_handle& handle);
        /// A worker forked from the template, or null (spawn it): spawner thread only.
        std::unique_ptr<worker_process> fork_from_template(const worker_launch& launch);
        /// The template died or failed: logged, dropped, restarted for the next worker unless it failed too often.
        void template_failed(const std::string& why);
        void set_template_state(std::string state);

        worker_pool_config m_config;
        zmq::context_t m_context;
        std::mutex m_mutex;
        std::condition_variable m_changed;
        std::deque<std::unique_ptr<worker_handle>> m_ready;
        std::size_t m_wanted = 0; ///< workers asked for by take() beyond the warm ones
        std::string m_last_error;
        std::uint64_t m_failures = 0;
        bool m_stop = false;
        std::string m_template_state = "none (not started yet)";
        std::unique_ptr<worker_template> m_template; ///< spawner thread only
        std::size_t m_template_deaths = 0;           ///< spawner thread only
        bool m_template_given_up = false;            ///< spawner thread only
        bool m_ring_failure_logged = false;          ///< spawner thread only
        std::thread m_spawner;
    };
}
