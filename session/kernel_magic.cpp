// SPDX-License-Identifier: MIT
#include "session/kernel_magic.hpp"

#include <sstream>

namespace atrium
{
    namespace
    {
        const char* const blanks = " \t\r";

        bool is_ours(const std::string& name)
        {
            return name == "note" || name == "contexts" || name == "reset_context";
        }

        /// The magic on `line`, or an empty name: `%name argument`, the argument being the rest of the line as
        /// IPython hands it to a line magic.
        kernel_magic magic_on(const std::string& line)
        {
            auto begin = line.find_first_not_of(blanks);
            if (begin == std::string::npos || line[begin] != '%' || line.compare(begin, 2, "%%") == 0)
                return {};
            std::string rest = line.substr(begin + 1);
            auto name_end = rest.find_first_of(blanks);
            kernel_magic magic{rest.substr(0, name_end), ""};
            if (name_end != std::string::npos)
            {
                auto argument = rest.find_first_not_of(blanks, name_end);
                if (argument != std::string::npos)
                    magic.argument = rest.substr(argument, rest.find_last_not_of(blanks) + 1 - argument);
            }
            return is_ours(magic.name) ? magic : kernel_magic{};
        }

        bool is_ignorable(const std::string& line)
        {
            auto first = line.find_first_not_of(blanks);
            return first == std::string::npos || line[first] == '#';
        }

        std::vector<std::string> lines_of(const std::string& code)
        {
            std::vector<std::string> lines;
            std::istringstream in(code);
            for (std::string line; std::getline(in, line);)
                lines.push_back(line);
            return lines;
        }
    }

    magic_cell read_magic_cell(const std::string& code)
    {
        magic_cell cell;
        cell.code = code;
        if (code.find('%') == std::string::npos)
            return cell; // every magic starts with one: most cells need no line splitting
        std::vector<std::string> lines = lines_of(code);
        std::vector<std::size_t> magic_lines;
        bool has_code = false;
        for (std::size_t i = 0; i < lines.size(); ++i)
        {
            if (!magic_on(lines[i]).name.empty())
                magic_lines.push_back(i);
            else if (!is_ignorable(lines[i]))
                has_code = true;
        }
        if (magic_lines.empty())
            return cell;

        if (!has_code)
        {
            cell.what = magic_cell::kind::magics;
            for (std::size_t i : magic_lines)
                cell.magics.push_back(magic_on(lines[i]));
            for (std::size_t i = 0; i < cell.magics.size(); ++i)
            {
                const std::string& name = cell.magics[i].name;
                bool after_notes_only = true;
                for (std::size_t j = 0; j < i; ++j)
                    after_notes_only = after_notes_only && cell.magics[j].name == "note";
                if (name == "reset_context" && (!after_notes_only || i + 1 != cell.magics.size()))
                {
                    cell.what = magic_cell::kind::refused;
                    cell.error = "[magic.reset_alone] %reset_context must be the cell's last magic, after %note only";
                    return cell;
                }
            }
            return cell;
        }

        // Code with magics: `%note NAME` leading the cell attaches the session, then the rest runs there.
        std::size_t first_line = 0;
        while (first_line < lines.size() && is_ignorable(lines[first_line]))
            ++first_line;
        kernel_magic leading = magic_on(lines[first_line]);
        std::size_t from = 0;
        if (leading.name == "note" && !leading.argument.empty())
        {
            cell.what = magic_cell::kind::note_then_code;
            cell.magics.push_back(leading);
            from = first_line + 1;
        }
        std::string rest;
        for (std::size_t i = from; i < lines.size(); ++i)
        {
            kernel_magic magic = magic_on(lines[i]);
            if (magic.name == "contexts")
            {
                // Printed where it stands, as IPython runs a line magic among code.
                auto indent = lines[i].substr(0, lines[i].find_first_not_of(blanks));
                rest += indent + "print(__import__('_atrium').kernel_magic('contexts', ''), end='')\n";
            }
            else if (!magic.name.empty())
            {
                cell.what = magic_cell::kind::refused;
                cell.error = "[magic.whole_cell] %" + magic.name + " acts on the whole context: give it a cell of its "
                             "own (only %contexts and a leading %note NAME may stand among code)";
                return cell;
            }
            else
            {
                rest += lines[i] + "\n";
            }
        }
        if (!code.empty() && code.back() != '\n' && !rest.empty())
            rest.pop_back();
        cell.code = rest;
        return cell;
    }
}
