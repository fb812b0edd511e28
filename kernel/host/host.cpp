// SPDX-License-Identifier: MIT
#include "kernel/host/host.hpp"

#include "kernel/zmq_server.hpp"

namespace atrium
{
    namespace
    {
        const std::string endpoint_prefix = "inproc://atrium-host:";

        kernel_endpoints host_kernel_endpoints()
        {
            return {endpoint_prefix + "shell", endpoint_prefix + "control", endpoint_prefix + "stdin"};
        }
    }

    xeus::xconfiguration host_kernel_configuration()
    {
        xeus::xconfiguration config;
        config.m_transport = "inproc";
        config.m_ip = "atrium-host"; // the server binds `inproc://atrium-host:<port>`
        config.m_shell_port = "shell";
        config.m_control_port = "control";
        config.m_stdin_port = "stdin";
        config.m_iopub_port = "iopub";
        config.m_hb_port = "hb";
        config.m_signature_scheme = "hmac-sha256";
        config.m_key = "";
        return config;
    }

    std::unique_ptr<xeus::xserver> make_host_kernel_server(xeus::xcontext& context, const xeus::xconfiguration& config,
                                                           nl::json::error_handler_t eh)
    {
        xeus::xconfiguration keyless = config;
        keyless.m_key.clear();
        return make_zmq_server(context, keyless, eh);
    }

    host::host(zmq::context_t& context, const std::string& control_socket, int linger_seconds,
               const binding_config& binding)
        : m_hub(context, host_kernel_endpoints(),
                {{"mode", to_string(binding.mode)}, {"scope", to_string(binding.scope)}})
        , m_control(control_socket, m_hub, linger_seconds)
    {
    }
}
