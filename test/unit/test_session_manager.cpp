// SPDX-License-Identifier: MIT
// The session manager against a fake kind of context and a fake port: keys, the table's lifecycle, magics and
// routing, without Python, workers or sockets.
#include "session/client_port.hpp"
#include "session/context.hpp"
#include "session/context_kind.hpp"
#include "session/session_manager.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <vector>

using namespace atrium;
using namespace std::chrono_literals;

namespace
{
    class fake_request final : public client_request
    {
    public:
        fake_request(nlohmann::json header, nlohmann::json content, nlohmann::json metadata = nlohmann::json::object())
            : m_header(std::move(header))
            , m_content(std::move(content))
            , m_metadata(std::move(metadata))
        {
        }
        const nlohmann::json& header() const override { return m_header; }
        const nlohmann::json& parent_header() const override { return m_parent; }
        const nlohmann::json& metadata() const override { return m_metadata; }
        const nlohmann::json& content() const override { return m_content; }
        std::shared_ptr<client_request> with_content(nlohmann::json content) const override
        {
            return std::make_shared<fake_request>(m_header, std::move(content), m_metadata);
        }

    private:
        nlohmann::json m_header;
        nlohmann::json m_content;
        nlohmann::json m_metadata;
        nlohmann::json m_parent = nlohmann::json::object();
    };

    client_request_ptr request(const std::string& msg_type, const std::string& session, const std::string& user,
                               nlohmann::json content)
    {
        return std::make_shared<fake_request>(
            nlohmann::json{{"msg_type", msg_type}, {"session", session}, {"username", user}, {"msg_id", "m"}},
            std::move(content));
    }

    struct fake_port final : client_port
    {
        std::vector<std::pair<std::string, nlohmann::json>> replies;
        std::vector<std::pair<std::string, nlohmann::json>> published;

        void publish_output_impl(const std::string& msg_type, const nlohmann::json&, nlohmann::json content,
                                 nlohmann::json) override
        {
            published.emplace_back(msg_type, std::move(content));
        }
        void send_reply_impl(const client_request&, const std::string& reply_type, nlohmann::json content,
                             nlohmann::json, reply_written) override
        {
            replies.emplace_back(reply_type, std::move(content));
        }
        std::string send_to_stdin_impl(const client_request&, const std::string&, nlohmann::json) override
        {
            return "prompt";
        }
        void abort_requests_before_last_reply_impl() override {}
        void stop_soon_impl(std::chrono::milliseconds) override {}
        void serve_on_main_thread_impl(int, std::function<void()>) override {}
    };

    /// What the fake contexts were asked, by key.
    struct journal
    {
        std::map<std::string, std::vector<std::string>> calls;
        std::vector<std::string> destroyed;
        std::map<std::string, bool> running;
    };

    class fake_context final : public context
    {
    public:
        fake_context(std::string key, journal& log)
            : m_key(std::move(key))
            , m_log(log)
        {
        }
        ~fake_context() override { m_log.destroyed.push_back(m_key); }

    private:
        void note(const std::string& what) { m_log.calls[m_key].push_back(what); }
        void execute_impl(client_request_ptr request, std::uint64_t, bool reset_magic, release_fn release) override
        {
            note((reset_magic ? "reset_magic " : "execute ") + request->content().value("code", ""));
            release();
        }
        void quick_impl(client_request_ptr request, release_fn release) override
        {
            note(request->header().value("msg_type", ""));
            release();
        }
        void comm_impl(const std::string& msg_type, nlohmann::json, nlohmann::json) override { note(msg_type); }
        int input_match_impl(const std::string&, const std::string&) override { return 0; }
        void answer_input_impl(const std::string&) override {}
        void interrupt_impl() override { note("interrupt"); }
        void reset_impl() override { note("reset"); }
        void tell_next_cell_impl(std::string notice) override { note("told " + notice.substr(0, 20)); }
        bool ended_impl() const override { return false; }
        bool idle_impl(std::int64_t&) override { return !running_impl(); }
        bool running_impl() override { return m_log.running[m_key]; }
        int executions_impl() override { return 7; }
        snapshot describe_impl(int claims) override { return {running_impl(), claims, 7, 0, 0}; }

        std::string m_key;
        journal& m_log;
    };

    class fake_kind final : public context_kind
    {
    public:
        fake_kind(journal& log, std::size_t cap)
            : m_log(log)
            , m_cap(cap)
        {
        }
        std::unique_ptr<context> make_context(const std::string& key) override
        {
            return std::make_unique<fake_context>(key, m_log);
        }
        std::size_t cap() const override { return m_cap; }
        std::string cap_flags() const override { return "--max-contexts"; }
        std::int64_t reclaim_idle_ms() const override { return 0; }
        remote_comms* comms() override { return nullptr; }
        std::string describe_lines() const override { return {}; }
        std::string extra_heading() const override { return {}; }
        std::string extra_columns(const context::snapshot&) const override { return {}; }
        bool ends_contexts_at_shutdown() const override { return true; }
        void shutdown() override {}

    private:
        journal& m_log;
        std::size_t m_cap;
    };

    binding_config scoped(binding_scope scope)
    {
        return {binding_mode::scoped, scope, 0ms, false};
    }
}

TEST_CASE("the session manager")
{
    journal log;
    fake_port port;

    SECTION("each note's requests reach that note's context; %note moves a session to a named note")
    {
        session_manager sessions(scoped(binding_scope::note), {}, port, std::make_unique<fake_kind>(log, 16));
        sessions.execute(request("execute_request", "s1", "", {{"code", "a = 1"}}), 1);
        sessions.quick(request("complete_request", "s1", "", {{"code", "a"}, {"cursor_pos", 1}}));
        sessions.execute(request("execute_request", "s2", "", {{"code", "b = 2"}}), 2);
        sessions.execute(request("execute_request", "s2", "", {{"code", "%note shared\nc = 3"}}), 3);
        CHECK(log.calls["note:s1"] == std::vector<std::string>{"execute a = 1", "complete_request"});
        CHECK(log.calls["note:s2"] == std::vector<std::string>{"execute b = 2"});
        CHECK(log.calls["note:shared"] == std::vector<std::string>{"execute c = 3"});
    }

    SECTION("Atrium's own magics are answered by the manager, %reset_context is left to the context")
    {
        session_manager sessions(scoped(binding_scope::note), {}, port, std::make_unique<fake_kind>(log, 16));
        sessions.execute(request("execute_request", "s1", "", {{"code", "x = 1"}}), 1);
        sessions.execute(request("execute_request", "s1", "", {{"code", "%contexts"}}), 2);
        REQUIRE(port.replies.size() == 1);
        CHECK(port.replies[0].first == "execute_reply");
        CHECK(port.replies[0].second["execution_count"] == 7); // numbered by the context's count
        sessions.execute(request("execute_request", "s1", "", {{"code", "%reset_context"}}), 3);
        CHECK(log.calls["note:s1"].back() == "reset_magic %reset_context");
    }

    SECTION("at the cap the least recently used idle unnamed note is reclaimed, and told so when it returns")
    {
        session_manager sessions(scoped(binding_scope::note), {}, port, std::make_unique<fake_kind>(log, 2));
        sessions.execute(request("execute_request", "s1", "", {{"code", "1"}}), 1);
        sessions.execute(request("execute_request", "s2", "", {{"code", "2"}}), 2);
        sessions.execute(request("execute_request", "s3", "", {{"code", "3"}}), 3);
        CHECK(log.destroyed == std::vector<std::string>{"note:s1"});
        sessions.execute(request("execute_request", "s1", "", {{"code", "4"}}), 4);
        CHECK(log.calls["note:s1"].back() == "execute 4");
        CHECK(log.calls["note:s1"][1].rfind("told [session.reclaimed]", 0) == 0);
    }

    SECTION("at the cap with every context busy, the request gets [session.too_many_contexts]")
    {
        session_manager sessions(scoped(binding_scope::note), {}, port, std::make_unique<fake_kind>(log, 1));
        sessions.execute(request("execute_request", "s1", "", {{"code", "1"}}), 1);
        log.running["note:s1"] = true;
        sessions.execute(request("execute_request", "s2", "", {{"code", "2"}}), 2);
        REQUIRE(port.replies.size() == 1);
        CHECK(port.replies[0].second["evalue"].get<std::string>().rfind("[session.too_many_contexts]", 0) == 0);
        CHECK(log.destroyed.empty());
        log.running["note:s1"] = false;
    }

    SECTION("an interrupt reaches the requester's context; a server's reaches the running cells it may reach")
    {
        session_manager sessions(scoped(binding_scope::user), {}, port, std::make_unique<fake_kind>(log, 16));
        sessions.execute(request("execute_request", "s1", "alice", {{"code", "1"}}), 1);
        sessions.execute(request("execute_request", "s2", "bob", {{"code", "2"}}), 2);
        log.running["user:alice"] = log.running["user:bob"] = true;
        sessions.interrupt({"s9", "alice", ""});
        CHECK(log.calls["user:alice"].back() == "interrupt");
        CHECK(log.calls["user:bob"].back() == "execute 2"); // per-user: never another user's cell
        sessions.interrupt({"server", "", ""});
        CHECK(log.calls["user:bob"].back() == "execute 2");
        log.running.clear();
    }

    SECTION("a control reset reaches the requester's context only, and says whether it had one")
    {
        session_manager sessions(scoped(binding_scope::note), {}, port, std::make_unique<fake_kind>(log, 16));
        sessions.execute(request("execute_request", "s1", "", {{"code", "1"}}), 1);
        CHECK(sessions.reset_context({"s1", "", ""})["found"] == true);
        CHECK(sessions.reset_context({"s2", "", ""})["found"] == false);
        CHECK(log.calls["note:s1"].back() == "reset");
    }

    SECTION("shutdown ends the contexts of a kind that holds processes")
    {
        session_manager sessions(scoped(binding_scope::note), {}, port, std::make_unique<fake_kind>(log, 16));
        sessions.execute(request("execute_request", "s1", "", {{"code", "1"}}), 1);
        sessions.stop();
        CHECK(log.destroyed == std::vector<std::string>{"note:s1"});
    }
}
