// SPDX-License-Identifier: MIT
#include "common/cell_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace atrium::cell_socket
{
    namespace
    {
        /// The address of `@name`; its length counts the leading NUL and the name, no terminator (abstract).
        socklen_t abstract_address(const std::string& endpoint, sockaddr_un& address)
        {
            if (endpoint.size() < 2 || endpoint[0] != '@' || endpoint.size() > sizeof(address.sun_path))
                throw std::runtime_error("[worker.spawn] not an abstract unix socket endpoint: " + endpoint);
            std::memset(&address, 0, sizeof address);
            address.sun_family = AF_UNIX;
            std::memcpy(address.sun_path + 1, endpoint.data() + 1, endpoint.size() - 1);
            return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + endpoint.size());
        }

        [[noreturn]] void fail(const std::string& what, const std::string& endpoint, int fd)
        {
            const int error = errno;
            if (fd >= 0)
                close(fd);
            throw std::runtime_error("[worker.spawn] cannot " + what + " " + endpoint + ": " + std::strerror(error));
        }
    }

    int listen_on(const std::string& endpoint)
    {
        sockaddr_un address;
        const socklen_t length = abstract_address(endpoint, address);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            fail("create a socket for", endpoint, fd);
        if (bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0)
            fail("bind", endpoint, fd);
        if (listen(fd, SOMAXCONN) != 0)
            fail("listen on", endpoint, fd);
        return fd;
    }

    int connect_to(const std::string& endpoint)
    {
        sockaddr_un address;
        const socklen_t length = abstract_address(endpoint, address);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
            fail("create a socket for", endpoint, fd);
        int result;
        do
            result = connect(fd, reinterpret_cast<const sockaddr*>(&address), length);
        while (result != 0 && errno == EINTR);
        if (result != 0)
            fail("connect to", endpoint, fd);
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
            fail("configure the connection to", endpoint, fd);
        return fd;
    }

    send_result send(int socket, std::string_view datagram)
    {
        // The receiver's bound, whatever this socket's buffer would allow (tuned hosts raise wmem_default; a
        // datagram the receiver must refuse would cost the connection and everything queued behind it).
        if (datagram.size() > max_datagram_bytes)
            return send_result::too_large;
        while (true)
        {
            if (::send(socket, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
                return send_result::sent; // a datagram goes whole
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return send_result::would_block;
            if (errno == EMSGSIZE)
                return send_result::too_large;
            return send_result::gone;
        }
    }

    receive_result receive(int socket, std::string& into)
    {
        // The length first (MSG_PEEK | MSG_TRUNC returns the whole datagram's), so the buffer is sized once.
        int resets = 0;
        while (true)
        {
            char probe;
            ssize_t length = recv(socket, &probe, 1, MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC);
            // ECONNRESET: the peer closed with datagrams of ours unread. Linux reports that once, before the
            // datagrams the peer sent us first, which are still to be read (then end of stream).
            if (length < 0 && (errno == EINTR || (errno == ECONNRESET && ++resets < 4)))
                continue;
            if (length < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return receive_result::nothing;
            if (length <= 0)
                return receive_result::closed; // 0: end of stream (a seqpacket socket never carries empty ones we send)
            if (static_cast<std::size_t>(length) > max_datagram_bytes)
            {
                (void)!recv(socket, &probe, 1, MSG_DONTWAIT); // dropped whole
                return receive_result::oversize;
            }
            into.resize(static_cast<std::size_t>(length));
            ssize_t read = recv(socket, into.data(), into.size(), MSG_DONTWAIT);
            if (read < 0 && (errno == EINTR || (errno == ECONNRESET && ++resets < 4)))
                continue;
            if (read != length)
                return receive_result::closed;
            return receive_result::message;
        }
    }

    long peer_uid(int socket)
    {
        ucred credentials{};
        socklen_t size = sizeof credentials;
        if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0)
            return -1;
        return static_cast<long>(credentials.uid);
    }
}
