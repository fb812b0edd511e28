// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

namespace atrium
{
    // The Python side of forking workers from a template process (embed/worker/worker_template.hpp). Every
    // function runs on the main thread while it holds the GIL (a started python_runtime, before release_gil()).

    /// Imports each module in order; throws `[worker.preload] '<name>': <error>` at the first that fails or is not
    /// a dotted module name. With `skip_missing`, a module the environment does not have is left out (the default
    /// list must not fail where numpy is not installed); one that is there and fails to import still throws.
    void preload_modules(const std::vector<std::string>& modules, bool skip_missing);

    /// After the imports: one full collection, then gc.freeze(). Python 3.11 has no immortal objects, and a
    /// collection writes into the header of every object it tracks; frozen objects are never visited, so a
    /// child's collections leave the pages it shares with the template alone.
    void freeze_shared_objects();

    /// Around the fork, as os.fork() does: Python's locks are taken before and released or reset after.
    void python_before_fork();
    void python_after_fork_in_parent();
    /// In the new child: Python's own at-fork hooks (the `random` module reseeds itself, `threading` forgets
    /// the template's thread states), then numpy's global RandomState, if imported, takes fresh OS entropy, and
    /// `unset_variables` leave os.environ (the thread limits the template set only for itself).
    void python_after_fork_in_child(const std::vector<std::string>& unset_variables);

    /// In the new child, when the template held OpenBLAS to one thread (OPENBLAS_NUM_THREADS=1 set for the
    /// template alone): gives the worker the pool OpenBLAS would have started, `threads` threads, or with 0 one per
    /// CPU it may run on, through the library's own openblas_set_num_threads. Nothing when no OpenBLAS is loaded.
    void restore_blas_threads(int threads);
}
