// SPDX-License-Identifier: MIT
#include "kernel_launcher.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace atrium_client
{
    namespace
    {
        /// A free loopback port, found as jupyter_client finds one: bind to port 0 and read what was chosen.
        std::string free_port(zmq::context_t& context)
        {
            zmq::socket_t probe(context, zmq::socket_type::rep);
            probe.set(zmq::sockopt::linger, 0);
            probe.bind("tcp://127.0.0.1:*");
            std::string endpoint = probe.get(zmq::sockopt::last_endpoint);
            return endpoint.substr(endpoint.rfind(':') + 1);
        }

        std::string random_key()
        {
            std::random_device device;
            char buffer[65];
            for (int i = 0; i < 8; ++i)
                std::snprintf(buffer + 8 * i, 9, "%08x", device());
            return std::string(buffer, 64);
        }

        nlohmann::json read_json(const std::string& path)
        {
            std::ifstream in(path);
            if (!in)
                throw std::runtime_error("[client.bad_kernelspec] cannot read " + path);
            try
            {
                return nlohmann::json::parse(in);
            }
            catch (const nlohmann::json::exception& e)
            {
                throw std::runtime_error("[client.bad_kernelspec] " + path + " is not JSON: " + e.what());
            }
        }
    }

    kernel_launcher::kernel_launcher(const std::string& kernel_json)
    {
        nlohmann::json spec = read_json(kernel_json);
        if (!spec.contains("argv") || !spec["argv"].is_array() || spec["argv"].empty())
            throw std::runtime_error("[client.bad_kernelspec] " + kernel_json + " has no argv");

        char pattern[] = "/tmp/atrium-client-XXXXXX";
        if (!mkdtemp(pattern))
            throw std::runtime_error("[client.spawn] cannot make a directory for the connection file");
        m_directory = pattern;
        m_connection_file = m_directory + "/kernel.json";
        {
            zmq::context_t context;
            nlohmann::json connection = {{"transport", "tcp"}, {"ip", "127.0.0.1"}, {"signature_scheme", "hmac-sha256"},
                                         {"key", random_key()}};
            for (const char* port : {"shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"})
                connection[port] = std::stoi(free_port(context));
            std::ofstream(m_connection_file) << connection.dump(2);
        }

        std::vector<std::string> argv;
        for (const auto& item : spec["argv"])
        {
            std::string arg = item.get<std::string>();
            auto at = arg.find("{connection_file}");
            if (at != std::string::npos)
                arg.replace(at, 17, m_connection_file);
            argv.push_back(arg);
        }
        std::vector<std::pair<std::string, std::string>> env;
        if (spec.contains("env") && spec["env"].is_object())
            for (const auto& [name, value] : spec["env"].items())
                env.emplace_back(name, value.get<std::string>());

        std::vector<char*> raw;
        for (auto& arg : argv)
            raw.push_back(arg.data());
        raw.push_back(nullptr);
        m_pid = fork();
        if (m_pid < 0)
            throw std::runtime_error("[client.spawn] fork failed");
        if (m_pid == 0)
        {
            for (const auto& [name, value] : env)
                setenv(name.c_str(), value.c_str(), 1);
            dup2(STDERR_FILENO, STDOUT_FILENO); // the kernel's own notices stay out of the cells' output
            execvp(raw[0], raw.data());
            std::fprintf(stderr, "[client.spawn] cannot run %s\n", raw[0]);
            _exit(127);
        }
    }

    bool kernel_launcher::wait_for_exit(double seconds)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (m_pid > 0)
        {
            int status = 0;
            if (waitpid(m_pid, &status, WNOHANG) == m_pid)
            {
                m_pid = 0;
                break;
            }
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return true;
    }

    kernel_launcher::~kernel_launcher()
    {
        if (m_pid > 0 && !wait_for_exit(0))
        {
            ::kill(m_pid, SIGKILL); // a kernel that did not shut down when asked is not left behind
            waitpid(m_pid, nullptr, 0);
        }
        std::remove(m_connection_file.c_str());
        rmdir(m_directory.c_str());
    }
}
