// SPDX-License-Identifier: MIT
#include "embed/traceback_format.hpp"

#include <cstdlib>

namespace atrium
{
    namespace
    {
        const std::string cell_prefix = "<atrium-cell-";
        const std::string runtime_prefix = "<atrium-runtime";

        bool is_kernel_frame(const stack_frame& frame)
        {
            return frame.filename.compare(0, runtime_prefix.size(), runtime_prefix) == 0;
        }

        /// "Cell In[3], line 2" for a cell, "File /path/mod.py:12" for a file.
        std::string location(const stack_frame& frame)
        {
            if (frame.filename.compare(0, cell_prefix.size(), cell_prefix) == 0)
            {
                std::string number = frame.filename.substr(cell_prefix.size());
                number = number.substr(0, number.find_first_of(".>"));
                return "Cell In[" + number + "], line " + std::to_string(frame.lineno);
            }
            return "File " + frame.filename + ":" + std::to_string(frame.lineno);
        }

        std::string strip(const std::string& text)
        {
            auto begin = text.find_first_not_of(" \t\r\n");
            auto end = text.find_last_not_of(" \t\r\n");
            return begin == std::string::npos ? std::string() : text.substr(begin, end - begin + 1);
        }

        std::string summary(const std::string& ename, const std::string& evalue)
        {
            return evalue.empty() ? ename : ename + ": " + evalue;
        }
    }

    std::string cell_filename(int execution_count, int serial)
    {
        std::string suffix = serial > 0 ? "." + std::to_string(serial) : std::string();
        return cell_prefix + std::to_string(execution_count) + suffix + ">";
    }

    std::vector<std::string> format_traceback(const std::vector<stack_frame>& frames, const std::string& ename,
                                              const std::string& evalue, bool syntax_error)
    {
        std::vector<std::string> result;
        if (syntax_error)
        {
            // Syntax errors have no stack worth showing: the offending line and a caret say it all.
            std::string text;
            if (!frames.empty())
            {
                const stack_frame& where = frames.back();
                text = location(where) + "\n    " + strip(where.line);
                if (where.column > 0)
                {
                    auto indent = where.line.find_first_not_of(" \t");
                    int caret = where.column - static_cast<int>(indent == std::string::npos ? 0 : indent);
                    text += "\n    " + std::string(static_cast<std::size_t>(std::max(caret - 1, 0)), ' ') + "^";
                }
                text += "\n";
            }
            result.push_back(text + summary(ename, evalue));
            return result;
        }
        std::string header = ename;
        header.resize(std::max<std::size_t>(header.size() + 1, 42), ' ');
        result.push_back(std::string(75, '-'));
        result.push_back(header + "Traceback (most recent call last)");
        for (const auto& frame : frames)
        {
            if (is_kernel_frame(frame))
            {
                continue;
            }
            std::string entry = location(frame);
            if (frame.name != "<module>" && !frame.name.empty())
            {
                entry += ", in " + frame.name;
            }
            if (!frame.line.empty())
            {
                entry += "\n----> " + std::to_string(frame.lineno) + " " + strip(frame.line);
            }
            result.push_back(entry);
        }
        result.push_back(summary(ename, evalue));
        return result;
    }
}
