// SPDX-License-Identifier: MIT
#include "kernel/kernel_options.hpp"

namespace atrium
{
    kernel_options parse_kernel_options(const std::vector<std::string>& args)
    {
        kernel_options options;
        for (std::size_t i = 0; i < args.size(); ++i)
        {
            const std::string& arg = args[i];
            const std::string long_prefix = "--connection-file=";
            if (arg == "-h" || arg == "--help")
            {
                options.show_help = true;
            }
            else if (arg == "--version")
            {
                options.show_version = true;
            }
            else if (arg == "-f" || arg == "--connection-file")
            {
                if (i + 1 >= args.size() || args[i + 1].empty())
                {
                    throw usage_error("[options.missing_value] " + arg + " needs a connection file path");
                }
                options.connection_file = args[++i];
            }
            else if (arg.compare(0, long_prefix.size(), long_prefix) == 0)
            {
                options.connection_file = arg.substr(long_prefix.size());
                if (options.connection_file.empty())
                {
                    throw usage_error("[options.missing_value] --connection-file= needs a path");
                }
            }
            else
            {
                throw usage_error("[options.unknown] unknown argument '" + arg + "'");
            }
        }
        if (options.connection_file.empty() && !options.show_help && !options.show_version)
        {
            throw usage_error("[options.missing_connection_file] a connection file is required (-f FILE)");
        }
        return options;
    }

    std::string usage_text()
    {
        return "usage: atrium -f CONNECTION_FILE\n"
               "  Atrium, a Jupyter kernel for Python. Normally started by a Jupyter client from its kernelspec.\n"
               "  -f, --connection-file FILE   Jupyter connection file (ports, key, signature scheme)\n"
               "  --version                    print the version and exit\n"
               "  -h, --help                   print this help and exit\n";
    }
}
