// SPDX-License-Identifier: MIT
#include "common/output_ring.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace atrium
{
    namespace
    {
        constexpr std::size_t mapping_bytes = output_ring::header_bytes + output_ring::data_bytes;
        constexpr int required_seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

        std::string failed(const char* what)
        {
            return std::string(what) + ": " + std::strerror(errno);
        }

        /// The kernel's release mark: written by the kernel, read by the worker, in shared memory.
        std::atomic<std::uint64_t>& consumed_mark(char* mapping)
        {
            static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "a lock-free counter is shareable");
            return *reinterpret_cast<std::atomic<std::uint64_t>*>(mapping);
        }
    }

    output_ring::output_ring(int fd, char* mapping) noexcept
        : m_fd(fd)
        , m_mapping(mapping)
    {
    }

    output_ring::output_ring(output_ring&& other) noexcept
        : m_fd(other.m_fd)
        , m_mapping(other.m_mapping)
        , m_next(other.m_next)
        , m_trimmed_at(other.m_trimmed_at)
    {
        other.m_fd = -1;
        other.m_mapping = nullptr;
    }

    output_ring& output_ring::operator=(output_ring&& other) noexcept
    {
        if (this != &other)
        {
            unmap();
            std::swap(m_fd, other.m_fd);
            std::swap(m_mapping, other.m_mapping);
            m_next = other.m_next;
            m_trimmed_at = other.m_trimmed_at;
        }
        return *this;
    }

    output_ring::~output_ring()
    {
        unmap();
    }

    void output_ring::unmap() noexcept
    {
        if (m_mapping)
            munmap(m_mapping, mapping_bytes);
        if (m_fd >= 0)
            close(m_fd);
        m_mapping = nullptr;
        m_fd = -1;
    }

    std::optional<output_ring> output_ring::create(std::string& why)
    {
        int fd = memfd_create("atrium-output", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
        {
            why = failed("memfd_create");
            return std::nullopt;
        }
        // Sealed against resizing, the kernel's mapping can never fault: a worker can punch holes (they read
        // as zeros, and the signature check refuses them) but not take pages from under it.
        if (ftruncate(fd, static_cast<off_t>(mapping_bytes)) != 0 || fcntl(fd, F_ADD_SEALS, required_seals) != 0)
        {
            why = failed("sizing and sealing a memfd");
            close(fd);
            return std::nullopt;
        }
        return map_ring(fd, false, why);
    }

    std::optional<output_ring> output_ring::join(int fd, std::string& why)
    {
        struct stat status;
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fstat(fd, &status) != 0 ||
            static_cast<std::size_t>(status.st_size) != mapping_bytes)
        {
            why = "descriptor " + std::to_string(fd) + " is not a ring of " + std::to_string(mapping_bytes) + " bytes";
            close(fd);
            return std::nullopt;
        }
        return map_ring(fd, true, why);
    }

    std::optional<output_ring> output_ring::map_ring(int fd, bool data_writable, std::string& why)
    {
        void* mapping = mmap(nullptr, mapping_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mapping != MAP_FAILED && !data_writable &&
            mprotect(static_cast<char*>(mapping) + header_bytes, data_bytes, PROT_READ) != 0)
        {
            munmap(mapping, mapping_bytes);
            mapping = MAP_FAILED;
        }
        if (mapping == MAP_FAILED)
        {
            why = failed("mapping the ring");
            close(fd);
            return std::nullopt;
        }
        return output_ring(fd, static_cast<char*>(mapping));
    }

    std::uint64_t output_ring::consumed() const noexcept
    {
        return consumed_mark(m_mapping).load(std::memory_order_acquire);
    }

    std::optional<std::uint64_t> output_ring::put(std::string_view bytes)
    {
        if (bytes.empty() || bytes.size() > data_bytes)
            return std::nullopt;
        std::uint64_t position = m_next;
        const std::size_t offset = position % data_bytes;
        if (offset + bytes.size() > data_bytes)
            position += data_bytes - offset; // never across the end: the chunk starts over at the beginning
        // The kernel's mark is the worker's own past position unless the kernel is wrong: then nothing fits.
        const std::uint64_t released = consumed();
        if (released > m_next || position + bytes.size() - released > data_bytes)
            return std::nullopt;
        std::memcpy(m_mapping + header_bytes + position % data_bytes, bytes.data(), bytes.size());
        m_next = position + bytes.size();
        return position;
    }

    bool output_ring::trim_if_drained()
    {
        if (m_next == m_trimmed_at || consumed() != m_next)
            return false;
        // A hole reads as zeros and keeps the size: the kernel's mapping stays whole.
        if (fallocate(m_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(header_bytes),
                      static_cast<off_t>(data_bytes)) != 0)
            return false;
        m_trimmed_at = m_next;
        return true;
    }

    bool output_ring::copy_out(std::uint64_t position, std::uint64_t bytes, std::string& out) const
    {
        const std::uint64_t offset = position % data_bytes;
        if (bytes == 0 || bytes > data_bytes - offset)
            return false;
        out.assign(m_mapping + header_bytes + offset, static_cast<std::size_t>(bytes));
        return true;
    }

    void output_ring::release(std::uint64_t through)
    {
        if (through > consumed())
            consumed_mark(m_mapping).store(through, std::memory_order_release);
    }
}
