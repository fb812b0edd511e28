// SPDX-License-Identifier: MIT
#pragma once

#include "kernel/host/front_hub.hpp"
#include "kernel/host/host_control.hpp"
#include "session/binding.hpp"

#include <xeus/xkernel_configuration.hpp>
#include <xeus/xeus_context.hpp>
#include <xeus/xserver.hpp>
#include <zmq.hpp>

namespace atrium
{
    /// The configuration of a host's own kernel: inproc endpoints in the host's ZeroMQ context, reachable from
    /// this process alone, so without a key. Fronts relay to them (docs/host.md).
    xeus::xconfiguration host_kernel_configuration();
    /// The server of a host's kernel: Atrium's zmq_server on those endpoints, without a key (xeus makes one
    /// up for a configuration without).
    std::unique_ptr<xeus::xserver> make_host_kernel_server(xeus::xcontext& context, const xeus::xconfiguration& config,
                                                           nl::json::error_handler_t eh);

    /// Host mode's parts besides the kernel: the fronts' hub and the control socket. Made after the kernel
    /// bound its endpoints; the hub closes when the kernel's server stops.
    class host
    {
    public:
        /// Throws host_already_running, or std::runtime_error when the control socket cannot be made.
        host(zmq::context_t& context, const std::string& control_socket, int linger_seconds,
             const binding_config& binding);

        /// Served by the kernel's main thread (zmq_server::add_main_service).
        front_hub& hub()
        {
            return m_hub;
        }

    private:
        front_hub m_hub;
        host_control m_control; ///< destroyed first: its thread uses the hub
    };
}
