// SPDX-License-Identifier: MIT
#pragma once

namespace atrium
{
    /// Keeps the worker's megabyte output buffers (a coalesced stream chunk, its signed frame) on the heap
    /// between messages. Call first in main, before any thread starts.
    void tune_worker_heap();
}
