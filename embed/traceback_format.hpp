// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

namespace atrium
{
    /// One frame of a Python traceback, as `traceback.extract_tb` reports it.
    struct stack_frame
    {
        std::string filename;
        int lineno = 0;
        std::string name;
        std::string line;
        int column = 0; ///< 1-based caret position for syntax errors, 0 when none
    };

    /// Cells are compiled under this filename so tracebacks and `inspect.getsource` can find them.
    /// `serial` distinguishes cells that did not advance the count (not stored in history).
    std::string cell_filename(int execution_count, int serial = 0);

    /// The `traceback` list of an error message: frames of the kernel's own code are hidden and cells are
    /// named as the user saw them (`Cell In[3], line 2`).
    std::vector<std::string> format_traceback(const std::vector<stack_frame>& frames, const std::string& ename,
                                              const std::string& evalue, bool syntax_error);
}
