// SPDX-License-Identifier: MIT
#include "common/template_channel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace atrium
{
    namespace
    {
        constexpr std::size_t most_fds = 4;
        constexpr std::size_t most_bytes = 64 * 1024;
    }

    std::string template_request::encode() const
    {
        return "fork\n" + endpoint + "\n" + cells_endpoint + "\n" + lane_id + "\n" + std::to_string(memory_bytes) +
               "\n" + std::to_string(cpu_seconds) + "\n";
    }

    std::optional<template_request> template_request::decode(const std::string& text)
    {
        std::istringstream in(text);
        std::string verb, memory, cpu;
        template_request request;
        if (!std::getline(in, verb) || verb != "fork" || !std::getline(in, request.endpoint) ||
            !std::getline(in, request.cells_endpoint) || !std::getline(in, request.lane_id) ||
            !std::getline(in, memory) || !std::getline(in, cpu) || request.endpoint.empty() ||
            request.cells_endpoint.empty() || request.lane_id.empty())
            return std::nullopt;
        try
        {
            request.memory_bytes = std::stoull(memory);
            request.cpu_seconds = std::stoull(cpu);
        }
        catch (const std::exception&)
        {
            return std::nullopt;
        }
        return request;
    }

    bool send_datagram(int socket, const std::string& text, const std::vector<int>& fds)
    {
        if (fds.size() > most_fds || text.size() > most_bytes)
        {
            errno = EMSGSIZE;
            return false;
        }
        iovec part{const_cast<char*>(text.data()), text.size()};
        msghdr message{};
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * most_fds)] = {};
        if (!fds.empty())
        {
            message.msg_control = control;
            message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
            cmsghdr* header = CMSG_FIRSTHDR(&message);
            header->cmsg_level = SOL_SOCKET;
            header->cmsg_type = SCM_RIGHTS;
            header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
            std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
        }
        while (true)
        {
            ssize_t sent = sendmsg(socket, &message, MSG_NOSIGNAL);
            if (sent >= 0)
                return static_cast<std::size_t>(sent) == text.size();
            if (errno != EINTR)
                return false;
        }
    }

    std::optional<std::string> receive_datagram(int socket, std::vector<int>* fds)
    {
        std::string buffer(most_bytes, '\0');
        iovec part{buffer.data(), buffer.size()};
        msghdr message{};
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * most_fds)] = {};
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        ssize_t received;
        while ((received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        {
        }
        for (cmsghdr* header = CMSG_FIRSTHDR(&message); received >= 0 && header;
             header = CMSG_NXTHDR(&message, header))
        {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS)
                continue;
            std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i)
            {
                int fd;
                std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
                if (fds)
                    fds->push_back(fd);
                else
                    close(fd);
            }
        }
        if (received <= 0)
        {
            if (received == 0)
                errno = 0;
            return std::nullopt;
        }
        buffer.resize(static_cast<std::size_t>(received));
        return buffer;
    }
}
