// SPDX-License-Identifier: MIT
#include "kernel/host/host_control.hpp"

#include "kernel/host/front_hub.hpp"
#include "common/signal_free_thread.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>

namespace atrium
{
    namespace
    {
        namespace nl = nlohmann;

        constexpr std::size_t max_line = 64 * 1024;
        constexpr std::size_t max_clients = 64;

        sockaddr_un address_of(const std::string& path)
        {
            sockaddr_un address{};
            address.sun_family = AF_UNIX;
            if (path.empty() || path.size() >= sizeof(address.sun_path))
                throw std::runtime_error("[host.bad_socket_path] --host-socket: a path of 1 to " +
                                         std::to_string(sizeof(address.sun_path) - 1) + " bytes");
            std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
            return address;
        }

        /// True when something listens on `path`: a host, perhaps too busy to answer at once. Only a socket
        /// nobody listens on (a killed host's) is stale.
        bool host_listens(const std::string& path)
        {
            sockaddr_un address = address_of(path);
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0)
                return false;
            const bool listening = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
            close(fd);
            return listening;
        }

        ino_t inode_of(const std::string& path)
        {
            struct stat status
            {
            };
            return stat(path.c_str(), &status) == 0 ? status.st_ino : 0;
        }

        bool same_user(int fd)
        {
            ucred peer{};
            socklen_t size = sizeof(peer);
            return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 && peer.uid == getuid();
        }

        void send_line(int fd, const nl::json& answer)
        {
            std::string line = answer.dump(-1, ' ', false, nl::json::error_handler_t::replace) + "\n";
            std::size_t sent = 0;
            while (sent < line.size())
            {
                ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    return; // the client left; its request was served all the same
                sent += static_cast<std::size_t>(n);
            }
        }
    }

    host_control::host_control(std::string path, front_hub& hub, int linger_seconds)
        : m_path(std::move(path))
        , m_hub(hub)
        , m_linger_seconds(linger_seconds)
    {
        sockaddr_un address = address_of(m_path);
        if (host_listens(m_path))
            throw host_already_running("[host.already_running] a host already listens on " + m_path);
        ::unlink(m_path.c_str()); // a stale socket of a host that died
        m_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const mode_t old_mask = umask(0077); // never readable by others, even for a moment
        const bool bound =
            m_listener >= 0 && bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
        umask(old_mask);
        if (!bound || chmod(m_path.c_str(), 0600) != 0 || listen(m_listener, 16) != 0)
        {
            const std::string why = std::strerror(errno);
            if (m_listener >= 0)
                close(m_listener);
            throw std::runtime_error("[host.bad_socket_path] cannot listen on " + m_path + ": " + why);
        }
        m_inode = inode_of(m_path);
        m_stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        m_thread = start_signal_free_thread([this] { serve(); });
    }

    host_control::~host_control()
    {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = write(m_stop, &one, sizeof(one));
        if (m_thread.joinable())
            m_thread.join();
        close(m_listener);
        close(m_stop);
        if (inode_of(m_path) == m_inode) // still ours: a host that replaced it keeps its own
            ::unlink(m_path.c_str());
    }

    nl::json host_control::answer(front_hub& hub, const std::string& line)
    {
        nl::json request = nl::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!request.is_object() || !request.contains("op") || !request["op"].is_string())
            return {{"ok", false},
                    {"error", "[host.bad_request] expected one JSON object per line, with an \"op\" string"}};
        return hub.command(std::move(request));
    }

    void host_control::serve()
    {
        std::map<int, std::string> clients; // fd -> what it sent that has no newline yet
        auto idle_since = std::chrono::steady_clock::now();
        bool idle = true; // no front since idle_since
        bool stopping = false;
        while (!m_hub.ended())
        {
            std::vector<pollfd> fds{{m_stop, POLLIN, 0}, {m_listener, POLLIN, 0}};
            for (auto& [fd, pending] : clients)
                fds.push_back({fd, POLLIN, 0});
            int ready = poll(fds.data(), fds.size(), 1000);
            if (ready < 0 && errno != EINTR)
                break;
            if (fds[0].revents & POLLIN)
                break;
            if (fds[1].revents & POLLIN)
            {
                int client = accept4(m_listener, nullptr, nullptr, SOCK_CLOEXEC);
                if (client >= 0 && (!same_user(client) || clients.size() >= max_clients))
                {
                    send_line(client, {{"ok", false}, {"error", "[host.refused] only the host's own user may connect, "
                                                                "64 at a time"}});
                    close(client);
                }
                else if (client >= 0)
                {
                    // A client that stops reading its answers must not stall everyone's: sends give up after 1 s.
                    timeval second{1, 0};
                    setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &second, sizeof(second));
                    clients[client];
                }
            }
            for (std::size_t i = 2; i < fds.size(); ++i)
            {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                const int fd = fds[i].fd;
                std::string& pending = clients[fd];
                char buffer[16384];
                ssize_t n = read(fd, buffer, sizeof(buffer));
                bool keep = n > 0;
                if (keep)
                    pending.append(buffer, static_cast<std::size_t>(n));
                for (std::size_t end; keep && (end = pending.find('\n')) != std::string::npos;)
                {
                    std::string line = pending.substr(0, end);
                    pending.erase(0, end + 1);
                    send_line(fd, answer(m_hub, line));
                    idle_since = std::chrono::steady_clock::now(); // a provisioner about to open a front is activity
                }
                if (keep && pending.size() > max_line)
                {
                    send_line(fd, {{"ok", false}, {"error", "[host.bad_request] a line longer than 64 KiB"}});
                    keep = false;
                }
                if (!keep)
                {
                    close(fd);
                    clients.erase(fd);
                }
            }
            // With no front for `--host-linger` seconds, the host ends (workers and cluster with it).
            if (m_hub.fronts() > 0)
                idle = false;
            else if (!idle)
            {
                idle = true;
                idle_since = std::chrono::steady_clock::now();
            }
            if (!stopping && m_linger_seconds >= 0 && idle &&
                std::chrono::steady_clock::now() - idle_since >= std::chrono::seconds(m_linger_seconds))
            {
                std::cerr << "[atrium] [host.linger_over] no front for " << m_linger_seconds << " s: the host ends"
                          << std::endl;
                m_hub.command({{"op", "stop"}});
                stopping = true;
            }
        }
        for (auto& [fd, pending] : clients)
            close(fd);
    }
}
