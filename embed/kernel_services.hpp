// SPDX-License-Identifier: MIT
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <utility>

namespace atrium
{
    /// In an isolated worker: asks the kernel process for a service (`pool.*`, `compute.address`) and returns its
    /// answer header and payload. Python reaches it as `_atrium.kernel_call`; throws `interrupted` when the cell
    /// is interrupted while waiting.
    using kernel_caller =
        std::function<std::pair<nlohmann::json, std::string>(const std::string& op, const nlohmann::json& args, std::string blob)>;

    /// Marks this process as an isolated worker whose kernel services go through `caller`. Call before the
    /// Python runtime starts: the runtime installs a by-value pool when it sees it runs in a worker.
    void set_kernel_caller(kernel_caller caller);

    /// In the kernel: answers one of Atrium's own magics for the user `username` (`%contexts` among code).
    using kernel_magic_handler =
        std::function<std::string(const std::string& name, const std::string& argument, const std::string& username)>;

    /// Makes `_atrium.kernel_magic(name, argument)` (and a worker's `kernel.magic` call) ask `handler`, which is
    /// called without the GIL.
    void set_kernel_magic_handler(kernel_magic_handler handler);

    /// In the kernel: serves a worker's service call with the kernel's own pool and compute context, on behalf
    /// of the user the caller's thread was marked with (set_thread_requester). Takes the GIL. Never throws:
    /// failures come back as `{"error": class name, "message": text}`.
    nlohmann::json serve_worker_call(const std::string& op, const nlohmann::json& args, std::string& blob);
}
