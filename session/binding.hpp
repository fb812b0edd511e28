// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>

namespace atrium
{
    /// How requests share interpreter contexts (the Zeppelin interpreter binding modes).
    enum class binding_mode
    {
        shared,   ///< one namespace and one FIFO queue for everyone
        scoped,   ///< one namespace per key in the kernel process; different keys run side by side
        isolated, ///< one worker process per key
    };

    /// What a key is made of in the scoped and isolated modes; irrelevant in shared mode.
    enum class binding_scope
    {
        note, ///< one client session (notebook), or the note it named
        user, ///< the username in the message header
    };

    /// A binding setting Atrium cannot act on; `what()` starts with a stable id such as `[binding.bad_mode]`.
    struct binding_error : std::invalid_argument
    {
        using std::invalid_argument::invalid_argument;
    };

    struct binding_config
    {
        binding_mode mode = binding_mode::shared;
        binding_scope scope = binding_scope::note;
        /// Contexts idle for longer than this are culled; zero means never.
        std::chrono::milliseconds cull_idle_after{0};
        /// `%contexts` lists every context even when users may only touch their own.
        bool operator_view = false;
    };

    /// Each key belongs to one user, so access is checked: not shared, scope user.
    bool is_per_user(const binding_config& config) noexcept;

    /// Case-insensitive; throws `binding_error` (`[binding.bad_mode]`, `[binding.bad_scope]`).
    binding_mode parse_mode(const std::string& text);
    binding_scope parse_scope(const std::string& text);
    /// Seconds as a non-negative decimal (`90`, `0.5`); throws `[binding.bad_cull]`.
    std::chrono::milliseconds parse_cull_seconds(const std::string& text);
    /// `1/true/yes` or `0/false/no`, case-insensitive; throws `[binding.bad_operator_view]`.
    bool parse_operator_view(const std::string& text);

    std::string to_string(binding_mode mode);
    std::string to_string(binding_scope scope);
    /// `shared`, `scoped/note`, `isolated/user`, plus the cull period when there is one: for logs and
    /// `%contexts`.
    std::string describe(const binding_config& config);

    using getenv_function = std::function<const char*(const char*)>;

    /// Reads ATRIUM_MODE, ATRIUM_SCOPE, ATRIUM_CULL_IDLE_SECONDS and ATRIUM_OPERATOR_VIEW; unset or empty
    /// variables keep the defaults. Errors name the variable after the id.
    binding_config binding_from_environment(const getenv_function& getenv_fn);
}
