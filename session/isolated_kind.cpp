// SPDX-License-Identifier: MIT
#include "session/isolated_kind.hpp"

#include "embed/python_runtime.hpp"
#include "session/client_port.hpp"
#include "session/isolated_context.hpp"
#include "session/remote_comms.hpp"
#include "session/worker/cell_lane.hpp"
#include "session/worker/worker_pool.hpp"

#include <algorithm>
#include <cstdlib>

namespace atrium
{
    isolated_kind::isolated_kind(client_port& port, worker_settings workers, bool per_user)
        : m_settings(workers)
    {
        worker_pool_config config;
        if (const char* configured = std::getenv("ATRIUM_WORKER_EXECUTABLE"); configured && *configured)
            config.executable = configured;
        else
            config.executable = own_directory() + "/atrium-worker";
        config.log_fd = log_fd();
        config.limits = {m_settings.memory_bytes, m_settings.cpu_seconds};
        config.warm = m_settings.warm;
        config.use_template = m_settings.preload != "none";
        config.preload = m_settings.preload;
        config.preload_if_installed = !m_settings.preload_given;
        p_lane = std::make_unique<cell_lane>();
        port.serve_on_main_thread(p_lane->fd(), [lane = p_lane.get()] { lane->receive_all(); });
        config.lane = p_lane.get();
        p_workers = std::make_unique<worker_pool>(std::move(config));
        p_remote_comms = std::make_unique<remote_comms>();
        p_environment = std::make_unique<isolated_environment>(
            isolated_environment{port, *p_workers, *p_lane, *p_remote_comms, per_user});
    }

    isolated_kind::~isolated_kind() = default;

    std::unique_ptr<context> isolated_kind::make_context(const std::string& key)
    {
        return std::make_unique<isolated_context>(key, *p_environment);
    }

    std::size_t isolated_kind::cap() const
    {
        return std::min(m_settings.max_contexts, m_settings.max_workers);
    }

    std::string isolated_kind::cap_flags() const
    {
        return "--max-contexts, --max-workers";
    }

    std::int64_t isolated_kind::reclaim_idle_ms() const
    {
        return static_cast<std::int64_t>(m_settings.idle_worker_seconds) * 1000;
    }

    remote_comms* isolated_kind::comms()
    {
        return p_remote_comms.get();
    }

    std::string isolated_kind::describe_lines() const
    {
        if (!p_workers)
            return describe_compute() + "\n";
        return describe_compute() + "\n" + "workers: " + std::to_string(p_workers->ready_count()) + " warm, started by " +
               p_workers->config().executable + "\n" + "worker template: " + p_workers->template_state() + "\n";
    }

    std::string isolated_kind::extra_heading() const
    {
        return "  worker pid  memory";
    }

    std::string isolated_kind::extra_columns(const context::snapshot& snapshot) const
    {
        return snapshot.pid ? "  " + std::to_string(snapshot.pid) + "       " +
                                  std::to_string(snapshot.resident_bytes >> 20) + " MiB"
                            : "  (none: starts with the next request)";
    }

    bool isolated_kind::ends_contexts_at_shutdown() const
    {
        return true;
    }

    void isolated_kind::shutdown()
    {
        p_workers.reset();
    }
}
