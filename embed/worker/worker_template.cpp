// SPDX-License-Identifier: MIT
#include "embed/worker/worker_template.hpp"

#include "common/channel_mac.hpp"
#include "common/template_channel.hpp"
#include "embed/fork_support.hpp"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace atrium
{
    namespace
    {
        std::size_t thread_count()
        {
            std::size_t count = 0;
            if (DIR* tasks = opendir("/proc/self/task"))
            {
                while (dirent* entry = readdir(tasks))
                    count += entry->d_name[0] != '.';
                closedir(tasks);
            }
            return count;
        }

        void set_limit(int resource, std::uint64_t value)
        {
            if (value == 0)
                return;
            rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
            if (resource == RLIMIT_CPU)
                limit.rlim_max = static_cast<rlim_t>(value + 5); // as worker_process: SIGXCPU first
            setrlimit(resource, &limit);
        }

        [[noreturn]] void fail(int control_fd, const std::string& why)
        {
            std::cerr << "atrium-worker (template): " << why << std::endl;
            send_datagram(control_fd, "failed " + why);
            _exit(1);
        }

        /// The child's half of a fork: become the worker the request describes.
        forked_worker become_worker(int control_fd, pid_t kernel_pid, const template_request& request, int key_fd,
                                    int log_fd, const std::vector<std::string>& unset_in_children)
        {
            prctl(PR_SET_NAME, "atrium-worker");
            close(control_fd); // siblings and the kernel's channel to the template are none of a worker's business
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != kernel_pid)
                _exit(111); // the kernel died before the line above took effect
            dup2(key_fd, 0);
            dup2(log_fd, 1);
            dup2(log_fd, 2);
            close(key_fd);
            if (log_fd > 2)
                close(log_fd);
            set_limit(RLIMIT_AS, request.memory_bytes);
            set_limit(RLIMIT_CPU, request.cpu_seconds);
            try
            {
                python_after_fork_in_child(unset_in_children);
                auto set_for_template = [&](const char* name)
                {
                    return std::find(unset_in_children.begin(), unset_in_children.end(), name) !=
                           unset_in_children.end();
                };
                // OpenBLAS reads OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else counts the CPUs.
                const char* omp = std::getenv("OMP_NUM_THREADS");
                if (set_for_template("OPENBLAS_NUM_THREADS"))
                    restore_blas_threads(!set_for_template("OMP_NUM_THREADS") && omp ? std::atoi(omp) : 0);
            }
            catch (const std::exception& e)
            {
                // A worker in this state must not serve a note; the code tells the kernel it was the fork's setup
                // (the kernel then counts it against the template), the line says why.
                std::cerr << "atrium-worker: " << e.what() << std::endl;
                _exit(forked_setup_failed_exit_code);
            }
            return {request.endpoint, request.cells_endpoint, request.lane_id};
        }
    }

    const std::vector<std::string>& template_thread_variables()
    {
        static const std::vector<std::string> names = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                       "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS"};
        return names;
    }

    forked_worker serve_as_template(int control_fd, pid_t kernel_pid, const std::vector<std::string>& modules,
                                    bool skip_missing, const std::vector<std::string>& unset_in_children)
    {
        try
        {
            preload_modules(modules, skip_missing);
            channel_mac::load_library(); // shared with every worker, as the modules are
            freeze_shared_objects();
        }
        catch (const std::exception& e)
        {
            fail(control_fd, e.what());
        }
        // fork copies only the calling thread: a pool some module started (BLAS, Dask, a logging thread) would be
        // missing in every worker while its locks and counters say it runs.
        if (std::size_t threads = thread_count(); threads != 1)
            fail(control_fd, "[worker.preload] after the imports " + std::to_string(threads) +
                                 " threads are running; a worker forked now would miss all but one");
        if (!send_datagram(control_fd, "ready"))
            _exit(1);
        while (true)
        {
            std::vector<int> fds;
            auto text = receive_datagram(control_fd, &fds);
            if (!text)
                _exit(0); // the kernel closed the channel (or is gone): nothing more to fork
            auto request = template_request::decode(*text);
            if (!request || fds.size() < 3 || fds.size() > 4) // the fourth, if any: the worker's output ring
            {
                for (int fd : fds)
                    close(fd);
                send_datagram(control_fd, "failed [worker.template] not a fork request");
                continue;
            }
            python_before_fork();
            // CLONE_PARENT: the worker is the kernel's child, as a spawned one is, so the kernel reaps it, learns how
            // it ended, and its death signal follows the kernel, not this template; the template's death costs no
            // running note. Raw clone skips glibc's fork handlers, which a single-threaded process does not need
            // (checked above); glibc's cached thread id in the child stays the template's, which only
            // pthread_setschedparam-style calls on the main thread would notice.
            long child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0);
            if (child == 0)
            {
                // First thing, before anything that could fail or hang: the kernel must be able to find this
                // process even if the template dies before its "forked" reply (it then kills it).
                pid_t self = static_cast<pid_t>(syscall(SYS_getpid));
                send(fds[2], &self, sizeof self, MSG_NOSIGNAL);
                close(fds[2]);
                forked_worker worker =
                    become_worker(control_fd, kernel_pid, *request, fds[0], fds[1], unset_in_children);
                worker.ring_fd = fds.size() == 4 ? fds[3] : -1;
                return worker;
            }
            const int clone_error = errno;
            python_after_fork_in_parent();
            for (int fd : fds)
                close(fd);
            if (child < 0)
                send_datagram(control_fd, std::string("failed [worker.template] clone: ") + std::strerror(clone_error));
            else
                send_datagram(control_fd, "forked " + std::to_string(child));
        }
    }
}
