// SPDX-License-Identifier: MIT
#include "kernel/connection_file.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace atrium
{
    namespace
    {
        std::string port_of(const nlohmann::json& config, const char* name)
        {
            auto it = config.find(name);
            if (it == config.end() || !(it->is_number_integer() || it->is_string()))
            {
                throw std::runtime_error(std::string("[config.connection_file] missing or invalid '") + name + "'");
            }
            return it->is_string() ? it->get<std::string>() : std::to_string(it->get<long>());
        }
    }

    xeus::xconfiguration read_connection_file(const std::string& path)
    {
        std::ifstream input(path);
        if (!input)
        {
            throw std::runtime_error("[config.connection_file] cannot read '" + path + "'");
        }
        nlohmann::json config = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
        if (!config.is_object())
        {
            throw std::runtime_error("[config.connection_file] '" + path + "' is not a JSON object");
        }
        xeus::xconfiguration result;
        result.m_transport = config.value("transport", "tcp");
        result.m_ip = config.value("ip", "127.0.0.1");
        result.m_signature_scheme = config.value("signature_scheme", "hmac-sha256");
        result.m_key = config.value("key", "");
        result.m_shell_port = port_of(config, "shell_port");
        result.m_control_port = port_of(config, "control_port");
        result.m_stdin_port = port_of(config, "stdin_port");
        result.m_iopub_port = port_of(config, "iopub_port");
        result.m_hb_port = port_of(config, "hb_port");
        return result;
    }
}
