// SPDX-License-Identifier: MIT
#include "session/kernel_magic.hpp"

#include <catch2/catch.hpp>

using namespace atrium;
using kind = magic_cell::kind;

TEST_CASE("where Atrium's magics may stand in a cell")
{
    SECTION("cells without our magics are left alone")
    {
        for (const char* code : {"x = 1", "", "%%time\nx = 1", "%timeit x", "# %contexts", "s = '%contexts'"})
        {
            CAPTURE(code);
            magic_cell cell = read_magic_cell(code);
            CHECK(cell.what == kind::code);
            CHECK(cell.code == code);
        }
    }

    SECTION("a magic alone, with blank lines and comments around it")
    {
        magic_cell cell = read_magic_cell("\n# what runs?\n  %contexts  \n\n");
        REQUIRE(cell.what == kind::magics);
        REQUIRE(cell.magics.size() == 1);
        CHECK(cell.magics[0].name == "contexts");
        CHECK(cell.magics[0].argument.empty());
    }

    SECTION("several magics answer in order; %note keeps its whole argument")
    {
        magic_cell cell = read_magic_cell("%note team/q3 report\n%contexts\n");
        REQUIRE(cell.what == kind::magics);
        REQUIRE(cell.magics.size() == 2);
        CHECK(cell.magics[0].name == "note");
        CHECK(cell.magics[0].argument == "team/q3 report");
        CHECK(cell.magics[1].name == "contexts");
    }

    SECTION("a leading %note attaches, and the rest of the cell runs in that note")
    {
        magic_cell cell = read_magic_cell("# first\n%note A\nx = 1\nprint(x)");
        REQUIRE(cell.what == kind::note_then_code);
        CHECK(cell.magics[0].argument == "A");
        CHECK(cell.code == "x = 1\nprint(x)");
    }

    SECTION("%contexts among code prints the table where it stands, also indented")
    {
        magic_cell cell = read_magic_cell("x = 1\n%contexts\nif x:\n    %contexts\ny = 2\n");
        REQUIRE(cell.what == kind::code);
        CHECK(cell.code == "x = 1\n"
                           "print(__import__('_atrium').kernel_magic('contexts', ''), end='')\n"
                           "if x:\n"
                           "    print(__import__('_atrium').kernel_magic('contexts', ''), end='')\n"
                           "y = 2\n");
    }

    SECTION("magics that act on the whole context are refused among code, with an id")
    {
        for (const char* code : {"x = 1\n%reset_context", "x = 1\n%note A", "%note\nx = 1"})
        {
            CAPTURE(code);
            magic_cell cell = read_magic_cell(code);
            CHECK(cell.what == kind::refused);
            CHECK(cell.error.rfind("[magic.whole_cell]", 0) == 0);
        }
    }

    SECTION("%reset_context goes last, after %note only")
    {
        CHECK(read_magic_cell("%note A\n%reset_context").what == kind::magics);
        CHECK(read_magic_cell("%reset_context\n%contexts").what == kind::refused);
        CHECK(read_magic_cell("%contexts\n%reset_context").error.rfind("[magic.reset_alone]", 0) == 0);
    }
}
