// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

namespace atrium
{
    /// One of Atrium's own line magics (`%note`, `%contexts`, `%reset_context`): they act on contexts, so the
    /// session manager answers them rather than the context's Python.
    struct kernel_magic
    {
        std::string name;     ///< without the `%`
        std::string argument; ///< the rest of the line, trimmed
    };

    /// What a cell asks of the session manager. Every rule about where Atrium's magics may stand is here.
    struct magic_cell
    {
        enum class kind
        {
            code,         ///< no magic of ours to answer first: run `code` (a `%contexts` line in it is rewritten)
            magics,       ///< only our magics, blank lines and comments: answer `magics` in order
            note_then_code, ///< `%note NAME` then code: attach, then run `code` (the rest) in that note
            refused,      ///< a magic where it cannot work: `error` says why
        };
        kind what = kind::code;
        std::vector<kernel_magic> magics;
        std::string code;
        std::string error; ///< `[magic.*]` id and explanation, for `refused`
    };

    /// Reads a cell as IPython would place line magics: a line whose first non-blank character is `%`.
    /// `%contexts` among code becomes a call printing the table where it stands (`_atrium.kernel_magic`);
    /// `%note` and `%reset_context` among code are refused (`[magic.whole_cell]`), as is `%reset_context` with
    /// other magics than `%note` before it (`[magic.reset_alone]`). Cell magics and other `%` lines are left to
    /// Python.
    magic_cell read_magic_cell(const std::string& code);
}
