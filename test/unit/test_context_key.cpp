// SPDX-License-Identifier: MIT
#include "session/context_key.hpp"
#include "session/note_name.hpp"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using namespace atrium;
using namespace std::chrono_literals;

namespace
{
    binding_config config(binding_mode mode, binding_scope scope)
    {
        return {mode, scope, 0ms, false};
    }

    const request_identity alice{"session-a", "alice", ""};
    const request_identity bob{"session-b", "bob", ""};
}

TEST_CASE("note names")
{
    SECTION("ordinary names, including non-ASCII ones, are accepted")
    {
        for (const char* good : {"a", "report-2024", "team/q3.ipynb", "Übung_1", "数据分析", "x:y@z"})
        {
            CAPTURE(good);
            CHECK_NOTHROW(check_note_name(good));
        }
        CHECK_NOTHROW(check_note_name(std::string(128, 'n')));
        std::string long_unicode;
        for (int i = 0; i < 128; ++i)
        {
            long_unicode += "é";
        }
        CHECK_NOTHROW(check_note_name(long_unicode)); // 128 characters in 256 bytes
    }
    SECTION("what is refused, with the stable id")
    {
        CHECK_THROWS_AS(check_note_name(""), session_error);
        CHECK_THROWS_WITH(check_note_name(""),
                          Catch::StartsWith("[session.bad_note_name]") && Catch::Contains("empty"));
        CHECK_THROWS_WITH(check_note_name(std::string(129, 'n')), Catch::Contains("longer than 128"));
        CHECK_THROWS_WITH(check_note_name(std::string(1 << 20, 'n')), Catch::Contains("longer than 128"));
        CHECK_THROWS_WITH(check_note_name("my note"), Catch::Contains("whitespace"));
        CHECK_THROWS_WITH(check_note_name("tab\there"), Catch::Contains("control"));
        CHECK_THROWS_WITH(check_note_name("line\n"), Catch::Contains("control"));
        CHECK_THROWS_WITH(check_note_name("nbsp\xC2\xA0x"), Catch::Contains("whitespace"));
        CHECK_THROWS_WITH(check_note_name("ideographic\xE3\x80\x80space"), Catch::Contains("whitespace"));
        CHECK_THROWS_WITH(check_note_name("zero\xE2\x80\x8Bwidth"), Catch::Contains("invisible"));
        CHECK_THROWS_WITH(check_note_name("bidi\xE2\x80\xAEtxt"), Catch::Contains("invisible"));
        CHECK_THROWS_WITH(check_note_name("del\x7F"), Catch::Contains("control"));
        CHECK_THROWS_WITH(check_note_name("c1\xC2\x85"), Catch::Contains("control"));
    }
    SECTION("ill-formed UTF-8 is refused and never echoed")
    {
        for (const std::string bad :
             {"\xFF", "a\xC3", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80x"})
        {
            CHECK_THROWS_WITH(check_note_name(bad),
                              Catch::Contains("not valid UTF-8") && !Catch::Contains(bad));
        }
    }
}

TEST_CASE("context keys")
{
    SECTION("shared mode has a single key whatever the scope")
    {
        for (auto scope : {binding_scope::note, binding_scope::user})
        {
            key_resolver resolver(config(binding_mode::shared, scope));
            CHECK(resolver.key_for(alice) == "shared");
            CHECK(resolver.key_for({"s", "bob", "some-note"}) == "shared");
            CHECK(resolver.key_for({"", "", "bad name"}) == "shared");
        }
    }
    SECTION("note scope: hint, else remembered note, else session id")
    {
        for (auto mode : {binding_mode::scoped, binding_mode::isolated})
        {
            key_resolver resolver(config(mode, binding_scope::note));
            CHECK(resolver.key_for(alice) == "note:session-a");
            resolver.remember_note("session-a", "analysis");
            CHECK(resolver.key_for(alice) == "note:analysis");
            CHECK(resolver.key_for({"session-a", "alice", "explicit"}) == "note:explicit");
            CHECK(resolver.key_for(bob) == "note:session-b");
            CHECK(resolver.remembered_note("session-a") == std::optional<std::string>("analysis"));
            CHECK_FALSE(resolver.remembered_note("session-b"));
            resolver.forget_session("session-a");
            CHECK(resolver.key_for(alice) == "note:session-a");
            CHECK(resolver.key_for({"", "", ""}) == "note:anonymous");
        }
    }
    SECTION("only a note keyed by its session alone is unnamed")
    {
        key_resolver scoped(config(binding_mode::scoped, binding_scope::note));
        CHECK_FALSE(scoped.resolve(alice).named);
        CHECK(scoped.resolve({"session-a", "alice", "explicit"}).named);
        scoped.remember_note("session-a", "analysis");
        CHECK(scoped.resolve(alice).named);
        CHECK(scoped.resolve(alice).key == "note:analysis");
        CHECK(key_resolver(config(binding_mode::isolated, binding_scope::user)).resolve(alice).named);
        CHECK(key_resolver(config(binding_mode::shared, binding_scope::note)).resolve(alice).named);
    }
    SECTION("remembered notes are bounded: the oldest choice is forgotten first")
    {
        key_resolver resolver(config(binding_mode::scoped, binding_scope::note), 3);
        for (const char* session : {"s1", "s2", "s3"})
            resolver.remember_note(session, std::string("n-") + session);
        resolver.remember_note("s1", "renamed"); // s1 is now the newest choice
        resolver.remember_note("s4", "n-s4");     // so s2 goes
        CHECK_FALSE(resolver.remembered_note("s2"));
        CHECK(resolver.remembered_note("s1") == std::optional<std::string>("renamed"));
        CHECK(resolver.remembered_note("s3") == std::optional<std::string>("n-s3"));
        CHECK(resolver.remembered_note("s4") == std::optional<std::string>("n-s4"));
        resolver.forget_session("s3");
        resolver.remember_note("s5", "n-s5"); // room again: nothing else goes
        CHECK(resolver.remembered_note("s1"));
        CHECK(resolver.remembered_note("s4"));
    }
    SECTION("two sessions naming the same note share its key")
    {
        key_resolver resolver(config(binding_mode::scoped, binding_scope::note));
        resolver.remember_note("session-a", "shared-notes");
        resolver.remember_note("session-b", "shared-notes");
        CHECK(resolver.key_for(alice) == resolver.key_for(bob));
    }
    SECTION("bad note names are refused and change nothing")
    {
        key_resolver resolver(config(binding_mode::scoped, binding_scope::note));
        resolver.remember_note("session-a", "good");
        CHECK_THROWS_WITH(resolver.remember_note("session-a", "not good"),
                          Catch::StartsWith("[session.bad_note_name]"));
        CHECK(resolver.key_for(alice) == "note:good");
        CHECK_THROWS_AS(resolver.key_for({"session-a", "alice", "bad\nhint"}), session_error);
    }
    SECTION("user scope keys by username; an empty one is anonymous")
    {
        key_resolver resolver(config(binding_mode::scoped, binding_scope::user));
        CHECK(resolver.key_for(alice) == "user:alice");
        CHECK(resolver.key_for({"other-session", "alice", "some-note"}) == "user:alice");
        CHECK(resolver.key_for({"s", "", ""}) == "user:anonymous");
    }
    SECTION("owners of keys")
    {
        CHECK(owner_of_key("user:alice") == "alice");
        CHECK(owner_of_key("user:") == "");
        CHECK(owner_of_key("note:user:alice") == "");
        CHECK(owner_of_key("shared") == "");
    }
}

TEST_CASE("who may act on a context")
{
    SECTION("per-user modes: only your own user key, unless operator view")
    {
        for (auto mode : {binding_mode::scoped, binding_mode::isolated})
        {
            key_resolver resolver(config(mode, binding_scope::user));
            CHECK(resolver.may_access(alice, "user:alice", false));
            CHECK_FALSE(resolver.may_access(alice, "user:bob", false));
            CHECK_FALSE(resolver.may_access(alice, "user:alice2", false));
            CHECK_FALSE(resolver.may_access(alice, "note:x", false));
            CHECK_FALSE(resolver.may_access(alice, "shared", false));
            CHECK(resolver.may_access(alice, "user:bob", true));
            CHECK(resolver.may_access({"s", "", ""}, "user:anonymous", false));
            CHECK_FALSE(resolver.may_access({"s", "", ""}, "user:alice", false));
        }
    }
    SECTION("notes and the shared context are open to everyone")
    {
        key_resolver notes(config(binding_mode::scoped, binding_scope::note));
        CHECK(notes.may_access(alice, "note:session-b", false));
        key_resolver shared(config(binding_mode::shared, binding_scope::user));
        CHECK(shared.may_access(alice, "shared", false));
    }
}

TEST_CASE("key resolution from many threads")
{
    key_resolver resolver(config(binding_mode::scoped, binding_scope::note));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
    {
        threads.emplace_back(
            [&resolver, t]
            {
                const std::string session = "session-" + std::to_string(t);
                for (int i = 0; i < 500; ++i)
                {
                    resolver.remember_note(session, "note-" + std::to_string(t) + "-" + std::to_string(i));
                    (void)resolver.key_for({session, "u", ""});
                    (void)resolver.key_for({"session-" + std::to_string((t + 1) % 4), "u", ""});
                    if (i % 50 == 0)
                    {
                        resolver.forget_session(session);
                    }
                }
            });
    }
    for (auto& thread : threads)
    {
        thread.join();
    }
    for (int t = 0; t < 4; ++t)
    {
        CHECK(resolver.key_for({"session-" + std::to_string(t), "u", ""}) ==
              "note:note-" + std::to_string(t) + "-499");
    }
}
