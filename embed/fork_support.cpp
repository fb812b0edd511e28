// SPDX-License-Identifier: MIT
#include "embed/fork_support.hpp"

#include <pybind11/embed.h>

#include <dlfcn.h>
#include <link.h>
#include <sched.h>

#include <regex>
#include <stdexcept>

namespace py = pybind11;

namespace atrium
{
    void preload_modules(const std::vector<std::string>& modules, bool skip_missing)
    {
        static const std::regex dotted_name(R"([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)");
        for (const auto& name : modules)
        {
            if (!std::regex_match(name, dotted_name))
                throw std::runtime_error("[worker.preload] '" + name + "' is not a module name");
            try
            {
                if (skip_missing && py::module_::import("importlib.util")
                                        .attr("find_spec")(name.substr(0, name.find('.')))
                                        .is_none())
                    continue;
                py::module_::import(name.c_str());
            }
            catch (py::error_already_set& error)
            {
                std::string message = "[worker.preload] '" + name + "': " + error.what();
                error.restore();
                PyErr_Clear();
                throw std::runtime_error(message);
            }
        }
    }

    void freeze_shared_objects()
    {
        py::module_ gc = py::module_::import("gc");
        gc.attr("collect")();
        gc.attr("freeze")();
    }

    void restore_blas_threads(int threads)
    {
        cpu_set_t cpus;
        if (threads <= 0)
            threads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
        if (threads < 2)
            return;
        std::string path;
        dl_iterate_phdr(
            [](dl_phdr_info* info, size_t, void* found) -> int
            {
                const std::string name = info->dlpi_name ? info->dlpi_name : "";
                if (name.find("openblas") == std::string::npos)
                    return 0;
                *static_cast<std::string*>(found) = name;
                return 1;
            },
            &path);
        if (path.empty())
            return;
        void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
        if (!library)
            return;
        // numpy's wheels bundle OpenBLAS with its symbols renamed (scipy_openblas, 64-bit integers).
        for (const char* name : {"scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                                 "openblas_set_num_threads64_", "openblas_set_num_threads"})
        {
            if (void* function = dlsym(library, name))
            {
                reinterpret_cast<void (*)(int)>(function)(threads);
                break;
            }
        }
        dlclose(library);
    }

    void python_before_fork()
    {
        PyOS_BeforeFork();
    }

    void python_after_fork_in_parent()
    {
        PyOS_AfterFork_Parent();
    }

    void python_after_fork_in_child(const std::vector<std::string>& unset_variables)
    {
        PyOS_AfterFork_Child();
        try
        {
            py::module_ os = py::module_::import("os");
            for (const auto& name : unset_variables)
                os.attr("environ").attr("pop")(name, py::none());
            // Two notes drawing the same "random" numbers would be a quiet bug (and a leak of one note's draws to
            // the next): numpy's legacy global generator does not reseed itself on fork, as `random` does.
            py::dict modules = py::module_::import("sys").attr("modules");
            if (modules.contains("numpy.random"))
                modules["numpy.random"].attr("seed")();
        }
        catch (py::error_already_set& error)
        {
            std::string message = std::string("[worker.template] after fork: ") + error.what();
            error.restore();
            PyErr_Clear();
            throw std::runtime_error(message);
        }
    }
}
