// SPDX-License-Identifier: MIT
#pragma once

#include "session/context_kind.hpp"
#include "session/worker_settings.hpp"

#include <memory>

namespace atrium
{
    class cell_lane;
    class client_port;
    class worker_pool;
    struct isolated_environment;

    /// Isolated mode: each context is a worker process of its own (session/isolated_context.hpp). What they
    /// share lives here: the warm pool, the cell lane the main thread polls, and which worker owns which comm.
    class isolated_kind final : public context_kind
    {
    public:
        /// Starts the warm pool (`atrium-worker` beside the kernel, or $ATRIUM_WORKER_EXECUTABLE). Main thread,
        /// before the server serves.
        isolated_kind(client_port& port, worker_settings workers, bool per_user);
        ~isolated_kind() override;

        std::unique_ptr<context> make_context(const std::string& key) override;
        std::size_t cap() const override;
        std::string cap_flags() const override;
        std::int64_t reclaim_idle_ms() const override;
        remote_comms* comms() override;
        std::string describe_lines() const override;
        std::string extra_heading() const override;
        std::string extra_columns(const context::snapshot& snapshot) const override;
        bool ends_contexts_at_shutdown() const override;
        /// Every worker, warm ones too, is killed and reaped.
        void shutdown() override;

    private:
        worker_settings m_settings;
        std::unique_ptr<cell_lane> p_lane;            ///< the main thread's channel to workers
        std::unique_ptr<worker_pool> p_workers;       ///< starts worker processes, keeps some warm
        std::unique_ptr<remote_comms> p_remote_comms; ///< which worker owns which comm
        std::unique_ptr<isolated_environment> p_environment; ///< what its contexts share
    };
}
