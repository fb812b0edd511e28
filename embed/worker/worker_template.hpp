// SPDX-License-Identifier: MIT
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace atrium
{
    /// Thread-count variables of the BLAS/OpenMP libraries the template sets to 1 for itself (unless the user
    /// set them), so that importing numpy starts no thread pool: fork keeps only the calling thread, and a pool
    /// the children think they have would deadlock their first large matrix product.
    const std::vector<std::string>& template_thread_variables();

    /// What a worker forked from the template learns from its request.
    struct forked_worker
    {
        std::string endpoint;
        std::string cells_endpoint;
        std::string lane_id;
        int ring_fd = -1; ///< the output ring the kernel handed over (common/output_ring.hpp), if any
    };

    /// The worker template's life (`atrium-worker --template`, started by session/worker/worker_template.hpp):
    /// needs a started python_runtime without output capture whose GIL this thread holds. Imports `modules`,
    /// checks no other thread is alive, says `ready` (or `failed <why>`, then exits) on `control_fd`, then forks
    /// one worker per request. Returns only in a forked child, which is then set up as a spawned worker is at
    /// exec: parent (through CLONE_PARENT) the kernel, death signal, key pipe on fd 0, log on fds 1 and 2,
    /// resource limits, fresh random state. The template itself exits when the kernel closes the channel.
    /// With `skip_missing`, modules not installed are left out (see preload_modules).
    forked_worker serve_as_template(int control_fd, pid_t kernel_pid, const std::vector<std::string>& modules,
                                    bool skip_missing, const std::vector<std::string>& unset_in_children);
}
