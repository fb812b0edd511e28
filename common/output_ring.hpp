// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atrium
{
    /// Shared memory through which an isolated worker hands big output (a 1 MiB stream chunk, an image) to the
    /// kernel. Through the worker's ZeroMQ link each chunk was copied into a unix socket and out again by an
    /// I/O thread on each side: ~15 % of an isolated stream's CPU, all of it in system calls (issue 15). Here
    /// the worker copies a chunk into the ring and the link carries only its position, inside a frame signed
    /// over the chunk's bytes (worker_wire); the kernel copies the bytes out and checks the signature on its
    /// copy, so a worker that rewrites the ring meanwhile only gets its own message refused.
    ///
    /// The kernel makes the ring, a memfd sealed against resizing (so that its mapping can never fault, whatever
    /// the worker does), and hands it to the worker as it starts it (an inherited descriptor, or one more
    /// descriptor in the template's fork request). A worker started without one sends everything on the link.
    ///
    /// Positions count every byte ever placed (u64, they never wrap); a chunk lies at its position modulo the
    /// ring's size and never across its end (the writer skips to the start instead). The kernel publishes how
    /// far it has copied in the first bytes of the mapping, which only the worker reads, and only after a
    /// chunk's message proved genuine: a chunk that does not fit before the kernel catches up goes on the link.
    class output_ring
    {
    public:
        /// Chunks smaller than this go on the link: the ring saves copies of big ones only.
        static constexpr std::size_t min_chunk_bytes = 64 * 1024;
        static constexpr std::size_t data_bytes = std::size_t{4} << 20;
        static constexpr std::size_t header_bytes = 4096;

        /// The kernel's: a new sealed ring, its data mapped read-only here; nullopt (with `why`) when the system
        /// cannot make one.
        static std::optional<output_ring> create(std::string& why);
        /// The worker's: maps the ring the kernel handed over as `fd` (taken over: closed on failure, else made
        /// close-on-exec); nullopt (with `why`) when it is not one.
        static std::optional<output_ring> join(int fd, std::string& why);

        output_ring(output_ring&& other) noexcept;
        output_ring& operator=(output_ring&& other) noexcept;
        output_ring(const output_ring&) = delete;
        output_ring& operator=(const output_ring&) = delete;
        ~output_ring();

        int fd() const noexcept
        {
            return m_fd;
        }

        /// The worker's (one thread): copies `bytes` in and returns their position; nullopt when they do not
        /// fit now (or are too big for the ring).
        std::optional<std::uint64_t> put(std::string_view bytes);
        /// The kernel's (one thread): copies the chunk at `position` into `out`; false when `position` and
        /// `bytes` do not name a chunk inside the ring.
        bool copy_out(std::uint64_t position, std::uint64_t bytes, std::string& out) const;
        /// The kernel's: everything before `through` has been copied and proved genuine; the worker may reuse it.
        /// The mark only moves forward.
        void release(std::uint64_t through);
        /// The worker's, when its output has gone quiet: once the kernel has copied everything, the ring's
        /// pages go back to the system (a note that streamed once does not keep 4 MiB for good). True if it
        /// freed them.
        bool trim_if_drained();

    private:
        output_ring(int fd, char* mapping) noexcept;
        static std::optional<output_ring> map_ring(int fd, bool data_writable, std::string& why);
        std::uint64_t consumed() const noexcept;
        void unmap() noexcept; ///< gives the mapping and the descriptor back

        int m_fd = -1;
        char* m_mapping = nullptr;
        std::uint64_t m_next = 0;       ///< the worker's: the position of the next chunk
        std::uint64_t m_trimmed_at = 0; ///< the worker's: m_next when the pages were last given back
    };
}
