// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atrium
{
    // The kernel's control channel to its worker template: a SOCK_SEQPACKET socket pair, one message per
    // datagram, never reachable by any other process (the template gets its end as fd 3 at exec; workers it
    // forks close it). The template answers once `ready` (or `failed <why>`), then one answer per request:
    // `forked <pid>` or `failed <why>`. No key ever crosses it: each request carries three fds, the read end of
    // a pipe holding that worker's key, the kernel's log, and a socket the child sends its own pid into first
    // thing (so the kernel finds and kills a child it never adopted, when the template dies or hangs before its
    // reply), and a fourth when the kernel made the worker an output ring (common/output_ring.hpp); the
    // template closes them all once it has forked, so it never holds a secret a later sibling could inherit.

    /// A forked worker whose setup after the fork failed (Python's after-fork hooks) exits with this code,
    /// before it says hello: the kernel blames the template for it.
    inline constexpr int forked_setup_failed_exit_code = 113;

    /// What one forked worker needs beyond what it inherits from the template.
    struct template_request
    {
        std::string endpoint;       ///< its channel to the kernel
        std::string cells_endpoint; ///< the kernel's cell_lane
        std::string lane_id;        ///< its name on the lane
        std::uint64_t memory_bytes = 0;
        std::uint64_t cpu_seconds = 0;

        std::string encode() const;
        /// Empty when `text` is not a request.
        static std::optional<template_request> decode(const std::string& text);
    };

    /// Sends one datagram with `fds` attached (SCM_RIGHTS); false with errno set when it cannot. Never raises
    /// SIGPIPE.
    bool send_datagram(int socket, const std::string& text, const std::vector<int>& fds = {});
    /// Receives one datagram, blocking; attached fds are appended to `fds` (close-on-exec). Empty at end of
    /// stream or on error (errno set; 0 at end of stream).
    std::optional<std::string> receive_datagram(int socket, std::vector<int>* fds = nullptr);
}
