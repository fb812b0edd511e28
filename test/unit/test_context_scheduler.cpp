// SPDX-License-Identifier: MIT
#include "session/context_scheduler.hpp"

#include <catch2/catch.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using atrium::context_scheduler;
using atrium::scheduler_error;
using namespace std::chrono_literals;

namespace
{
    /// Long enough never to be reached when things work; a wait that times out fails its check instead of
    /// hanging the run. Correctness never depends on timing.
    constexpr auto patience = 10s;

    /// Opens once; every wait ends then, or after `patience` so a failing test cannot hang.
    class gate
    {
    public:
        void open()
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_open = true;
            m_changed.notify_all();
        }
        bool wait()
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            return m_changed.wait_for(lock, patience, [this] { return m_open; });
        }

    private:
        std::mutex m_mutex;
        std::condition_variable m_changed;
        bool m_open = false;
    };

    /// Counts events and lets a test wait for the n-th.
    class counter
    {
    public:
        void add()
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            ++m_count;
            m_changed.notify_all();
        }
        bool wait_for_count(int n)
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            return m_changed.wait_for(lock, patience, [&] { return m_count >= n; });
        }
        int count()
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            return m_count;
        }

    private:
        std::mutex m_mutex;
        std::condition_variable m_changed;
        int m_count = 0;
    };

    /// Appends from any thread.
    class journal
    {
    public:
        void add(std::string entry)
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_entries.push_back(std::move(entry));
        }
        std::vector<std::string> entries()
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            return m_entries;
        }

    private:
        std::mutex m_mutex;
        std::vector<std::string> m_entries;
    };

    /// Polls a condition that has no event to wait on (threads ending on their own).
    template <typename Condition> bool eventually(Condition condition)
    {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        while (!condition())
        {
            if (std::chrono::steady_clock::now() > deadline)
            {
                return false;
            }
            std::this_thread::sleep_for(1ms);
        }
        return true;
    }
}

TEST_CASE("jobs of one key run in submission order")
{
    context_scheduler scheduler;
    journal order;
    counter done;
    for (int i = 0; i < 200; ++i)
    {
        scheduler.submit("note:a",
                         [&, i]
                         {
                             order.add(std::to_string(i));
                             done.add();
                         });
    }
    REQUIRE(done.wait_for_count(200));
    auto entries = order.entries();
    REQUIRE(entries.size() == 200);
    for (int i = 0; i < 200; ++i)
    {
        CHECK(entries[static_cast<std::size_t>(i)] == std::to_string(i));
    }
    CHECK(eventually([&] { return scheduler.stats("note:a").completed == 200; }));
    CHECK(scheduler.stats("note:a").queued == 0);
}

TEST_CASE("different keys run side by side")
{
    context_scheduler scheduler;
    std::promise<void> b_ran;
    auto b_ran_future = b_ran.get_future();
    std::atomic<bool> a_saw_b{false};
    gate a_started;
    counter done;
    scheduler.submit("note:a",
                     [&]
                     {
                         a_started.open();
                         // Blocks until B has run: only possible if B does not wait behind A.
                         a_saw_b = b_ran_future.wait_for(patience) == std::future_status::ready;
                         done.add();
                     });
    REQUIRE(a_started.wait());
    CHECK(scheduler.stats("note:a").running);
    scheduler.submit("note:b",
                     [&]
                     {
                         b_ran.set_value();
                         done.add();
                     });
    REQUIRE(done.wait_for_count(2));
    CHECK(a_saw_b);
    CHECK(scheduler.keys() == std::vector<std::string>{"note:a", "note:b"});
}

TEST_CASE("a key's jobs never overlap, even across many keys")
{
    context_scheduler scheduler(3);
    const int keys = 8, per_key = 50;
    std::vector<std::atomic<int>> active(keys);
    std::atomic<bool> overlapped{false};
    counter done;
    for (int i = 0; i < per_key; ++i)
    {
        for (int k = 0; k < keys; ++k)
        {
            scheduler.submit("key" + std::to_string(k),
                             [&, k]
                             {
                                 if (active[static_cast<std::size_t>(k)]++ != 0)
                                 {
                                     overlapped = true;
                                 }
                                 std::this_thread::yield();
                                 active[static_cast<std::size_t>(k)]--;
                                 done.add();
                             });
        }
    }
    REQUIRE(done.wait_for_count(keys * per_key));
    CHECK_FALSE(overlapped);
    CHECK(scheduler.worker_count() <= 3);
}

TEST_CASE("taking a key's queue")
{
    context_scheduler scheduler;
    gate a_started, b_started, release;
    std::atomic<int> a_later_ran{0};
    counter b_done;
    scheduler.submit("note:a",
                     [&]
                     {
                         a_started.open();
                         release.wait();
                     });
    scheduler.submit("note:a", [&] { ++a_later_ran; });
    scheduler.submit("note:a", [&] { ++a_later_ran; });
    scheduler.submit("note:b",
                     [&]
                     {
                         b_started.open();
                         release.wait();
                         b_done.add();
                     });
    scheduler.submit("note:b", [&] { b_done.add(); });
    REQUIRE(a_started.wait());
    REQUIRE(b_started.wait());

    auto taken = scheduler.take_queued("note:a");
    CHECK(taken.size() == 2);
    CHECK(scheduler.stats("note:a").queued == 0);
    CHECK(scheduler.stats("note:a").running);
    CHECK(scheduler.stats("note:b").queued == 1);
    CHECK(scheduler.take_queued("note:never").empty());

    release.open();
    REQUIRE(b_done.wait_for_count(2));
    CHECK(eventually([&] { return scheduler.stats("note:a").completed == 1; }));
    CHECK(a_later_ran == 0);
    SECTION("the taken jobs are the caller's to run or drop")
    {
        for (auto& job : taken)
        {
            job();
        }
        CHECK(a_later_ran == 2);
    }
    SECTION("the key takes new work afterwards")
    {
        counter again;
        scheduler.submit("note:a", [&] { again.add(); });
        CHECK(again.wait_for_count(1));
    }
}

TEST_CASE("taking the queue of a key still waiting for a worker")
{
    context_scheduler scheduler(1);
    gate a_started, release;
    std::atomic<int> b_ran{0};
    counter a_done;
    scheduler.submit("note:a",
                     [&]
                     {
                         a_started.open();
                         release.wait();
                         a_done.add();
                     });
    REQUIRE(a_started.wait());
    scheduler.submit("note:b", [&] { ++b_ran; });
    scheduler.submit("note:a", [&] { a_done.add(); });
    CHECK(scheduler.take_queued("note:b").size() == 1);
    release.open();
    REQUIRE(a_done.wait_for_count(2));
    CHECK(b_ran == 0);
    CHECK(scheduler.stats("note:b").completed == 0);
}

TEST_CASE("a job that throws does not stop its key")
{
    context_scheduler scheduler;
    counter done;
    scheduler.submit("k", [] { throw std::runtime_error("cell failed"); });
    scheduler.submit("k", [] { throw 42; });
    scheduler.submit("k", [&] { done.add(); });
    REQUIRE(done.wait_for_count(1));
    CHECK(eventually([&] { return scheduler.stats("k").completed == 3; }));
    CHECK(scheduler.stats("k").failed == 2);
}

TEST_CASE("shutdown")
{
    SECTION("running jobs finish, queued ones are returned in submission order, every worker is joined")
    {
        context_scheduler scheduler;
        gate started, release;
        std::atomic<bool> finished{false};
        std::atomic<int> dropped_ran{0};
        scheduler.submit("note:a",
                         [&]
                         {
                             started.open();
                             release.wait();
                             finished = true;
                         });
        REQUIRE(started.wait());
        scheduler.submit("note:a", [&] { ++dropped_ran; });
        scheduler.submit("note:c", [&] { release.wait(); }); // may start before shutdown; need not
        scheduler.submit("note:a", [&] { ++dropped_ran; });

        auto stopping = std::async(std::launch::async, [&] { return scheduler.shutdown(); });
        REQUIRE(eventually([&] { return !scheduler.accepting(); }));
        CHECK_THROWS_WITH(scheduler.submit("note:a", [] {}), Catch::StartsWith("[scheduler.stopped]"));
        CHECK_THROWS_AS(scheduler.submit("note:z", [] {}), scheduler_error);
        release.open();
        REQUIRE(stopping.wait_for(patience) == std::future_status::ready);
        auto dropped = stopping.get();

        CHECK(finished);
        CHECK(scheduler.worker_count() == 0);
        // note:c's job may have started before shutdown began, or been dropped.
        const auto dropped_a = std::count_if(dropped.begin(), dropped.end(),
                                             [](const auto& job) { return job.key == "note:a"; });
        CHECK(dropped_a == 2);
        CHECK(dropped.size() - static_cast<std::size_t>(dropped_a) <= 1);
        CHECK(dropped_ran == 0);
        CHECK(scheduler.stats("note:a").queued == 0);
        CHECK(scheduler.shutdown().empty());
    }
    SECTION("dropped jobs keep the order they were submitted in")
    {
        context_scheduler scheduler(1);
        gate started, release;
        scheduler.submit("x",
                         [&]
                         {
                             started.open();
                             release.wait();
                         });
        REQUIRE(started.wait());
        for (const char* key : {"b", "a", "b", "c", "a"})
        {
            scheduler.submit(key, [] {});
        }
        auto stopping = std::async(std::launch::async, [&] { return scheduler.shutdown(); });
        REQUIRE(eventually([&] { return !scheduler.accepting(); }));
        release.open();
        auto dropped = stopping.get();
        std::vector<std::string> keys;
        for (const auto& job : dropped)
        {
            keys.push_back(job.key);
        }
        CHECK(keys == std::vector<std::string>{"b", "a", "b", "c", "a"});
    }
    SECTION("a job cannot shut down its own scheduler")
    {
        context_scheduler scheduler;
        std::promise<std::string> error;
        scheduler.submit("k",
                         [&]
                         {
                             try
                             {
                                 scheduler.shutdown();
                                 error.set_value("no error");
                             }
                             catch (const std::logic_error& e)
                             {
                                 error.set_value(e.what());
                             }
                         });
        auto message = error.get_future();
        REQUIRE(message.wait_for(patience) == std::future_status::ready);
        CHECK_THAT(message.get(), Catch::StartsWith("[scheduler.shutdown_from_job]"));
    }
    SECTION("the destructor joins a busy scheduler")
    {
        std::atomic<int> ran{0};
        {
            context_scheduler scheduler;
            for (int k = 0; k < 10; ++k)
            {
                scheduler.submit(std::to_string(k), [&] { ++ran; });
            }
        }
        CHECK(ran <= 10);
    }
}

TEST_CASE("workers come and go with the work")
{
    SECTION("no work, no threads")
    {
        context_scheduler scheduler;
        CHECK(scheduler.worker_count() == 0);
        CHECK(scheduler.stats("never").completed == 0);
        CHECK_FALSE(scheduler.stats("never").running);
        CHECK(scheduler.keys().empty());
    }
    SECTION("idle workers end after the idle period")
    {
        context_scheduler scheduler(0, 20ms);
        counter done;
        std::atomic<std::size_t> workers_seen{0};
        for (int k = 0; k < 50; ++k)
        {
            scheduler.submit("note:" + std::to_string(k),
                             [&]
                             {
                                 workers_seen = std::max(workers_seen.load(), scheduler.worker_count());
                                 done.add();
                             });
        }
        REQUIRE(done.wait_for_count(50));
        CHECK(workers_seen >= 1);
        CHECK(eventually([&] { return scheduler.worker_count() == 0; }));
        CHECK(scheduler.keys().size() == 50);

        // and new work starts a worker again
        counter again;
        scheduler.submit("note:0", [&] { again.add(); });
        CHECK(again.wait_for_count(1));
        CHECK(eventually([&] { return scheduler.stats("note:0").completed == 2; }));
    }
    SECTION("an idle worker takes the next key instead of a new thread starting")
    {
        context_scheduler scheduler(0, 10s);
        counter done;
        for (int i = 0; i < 20; ++i)
        {
            scheduler.submit("note:" + std::to_string(i), [&] { done.add(); });
            REQUIRE(done.wait_for_count(i + 1));
            // Lets the worker get back to waiting, so the next key finds it idle. If it has not yet, a
            // second worker starts, which is allowed; only a scheduler that never reuses reaches 20.
            std::this_thread::sleep_for(2ms);
        }
        CHECK(scheduler.worker_count() < 20);
    }
}

TEST_CASE("a bounded scheduler")
{
    SECTION("never runs more keys at once than it has workers")
    {
        context_scheduler scheduler(2);
        std::atomic<int> active{0}, most{0};
        gate release;
        counter started, done;
        for (int k = 0; k < 6; ++k)
        {
            scheduler.submit("note:" + std::to_string(k),
                             [&]
                             {
                                 const int now = ++active;
                                 int seen = most;
                                 while (now > seen && !most.compare_exchange_weak(seen, now))
                                 {
                                 }
                                 started.add();
                                 release.wait();
                                 --active;
                                 done.add();
                             });
        }
        REQUIRE(started.wait_for_count(2));
        CHECK(scheduler.worker_count() == 2);
        CHECK(started.count() == 2);
        release.open();
        REQUIRE(done.wait_for_count(6));
        CHECK(most == 2);
        CHECK(scheduler.worker_count() <= 2);
    }
    SECTION("waiting keys take turns job by job")
    {
        context_scheduler scheduler(1);
        journal order;
        gate first_started, release;
        counter done;
        scheduler.submit("a",
                         [&]
                         {
                             first_started.open();
                             release.wait();
                             order.add("a1");
                             done.add();
                         });
        REQUIRE(first_started.wait());
        for (int i = 2; i <= 3; ++i)
        {
            scheduler.submit("a",
                             [&, i]
                             {
                                 order.add("a" + std::to_string(i));
                                 done.add();
                             });
        }
        for (int i = 1; i <= 3; ++i)
        {
            scheduler.submit("b",
                             [&, i]
                             {
                                 order.add("b" + std::to_string(i));
                                 done.add();
                             });
        }
        scheduler.submit("c",
                         [&]
                         {
                             order.add("c1");
                             done.add();
                         });
        release.open();
        REQUIRE(done.wait_for_count(7));
        CHECK(order.entries() == std::vector<std::string>{"a1", "b1", "c1", "a2", "b2", "a3", "b3"});
    }
}

TEST_CASE("workers block SIGINT, and submitting leaves the caller's mask alone")
{
    sigset_t before, after;
    pthread_sigmask(SIG_BLOCK, nullptr, &before);
    context_scheduler scheduler;
    std::promise<bool> blocked;
    scheduler.submit("k",
                     [&]
                     {
                         sigset_t mask;
                         pthread_sigmask(SIG_BLOCK, nullptr, &mask);
                         blocked.set_value(sigismember(&mask, SIGINT) == 1);
                     });
    auto result = blocked.get_future();
    REQUIRE(result.wait_for(patience) == std::future_status::ready);
    CHECK(result.get());
    pthread_sigmask(SIG_BLOCK, nullptr, &after);
    CHECK(sigismember(&after, SIGINT) == sigismember(&before, SIGINT));
}

TEST_CASE("scheduler bookkeeping")
{
    context_scheduler scheduler;
    SECTION("an empty job is refused")
    {
        CHECK_THROWS_WITH(scheduler.submit("k", context_scheduler::job{}),
                          Catch::StartsWith("[scheduler.empty_job]"));
        CHECK(scheduler.keys().empty());
    }
    SECTION("statistics and forgetting")
    {
        gate started, release;
        const auto before = context_scheduler::clock::now();
        scheduler.submit("k",
                         [&]
                         {
                             started.open();
                             release.wait();
                         });
        scheduler.submit("k", [] {});
        REQUIRE(started.wait());
        auto stats = scheduler.stats("k");
        CHECK(stats.running);
        CHECK(stats.queued == 1);
        CHECK(stats.completed == 0);
        CHECK(stats.last_activity >= before);
        release.open();
        REQUIRE(eventually([&] { return scheduler.stats("k").completed == 2; }));
        CHECK(eventually([&] { return scheduler.forget("k"); }));
        CHECK(scheduler.keys().empty());
        CHECK(scheduler.forget("never-seen"));
    }
    SECTION("a key forgotten while busy goes once its work is done")
    {
        gate started, release;
        scheduler.submit("k",
                         [&]
                         {
                             started.open();
                             release.wait();
                         });
        scheduler.submit("k", [] {});
        REQUIRE(started.wait());
        CHECK_FALSE(scheduler.forget("k"));
        CHECK(scheduler.keys() == std::vector<std::string>{"k"});
        release.open();
        CHECK(eventually([&] { return scheduler.keys().empty(); }));
    }
    SECTION("new work keeps a key that was forgotten while busy")
    {
        gate started, release;
        scheduler.submit("k",
                         [&]
                         {
                             started.open();
                             release.wait();
                         });
        REQUIRE(started.wait());
        CHECK_FALSE(scheduler.forget("k"));
        scheduler.submit("k", [] {});
        release.open();
        REQUIRE(eventually([&] { return scheduler.stats("k").completed == 2; }));
        CHECK(scheduler.keys() == std::vector<std::string>{"k"});
    }
}
