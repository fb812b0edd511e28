// SPDX-License-Identifier: MIT
#include "session/context_scheduler.hpp"

#include "common/signal_free_thread.hpp"

#include <algorithm>
#include <iterator>
#include <system_error>

namespace atrium
{
    namespace
    {
    }

    context_scheduler::context_scheduler(std::size_t max_workers, std::chrono::milliseconds idle_exit)
        : m_max_workers(max_workers), m_idle_exit(idle_exit)
    {
    }

    context_scheduler::~context_scheduler()
    {
        shutdown();
    }

    void context_scheduler::submit(const std::string& key, job work)
    {
        if (!work)
        {
            throw scheduler_error("[scheduler.empty_job] no job to run for '" + key + "'");
        }
        join_exited();
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_stopping)
        {
            throw scheduler_error("[scheduler.stopped] the scheduler is shutting down; '" + key +
                                  "' takes no more work");
        }
        auto& state = m_keys[key];
        state.forget_when_done = false; // new work: the key is in use again
        state.queue.push_back({m_next_sequence++, std::move(work)});
        state.last_activity = clock::now();
        // A key with queued work is always claimed or waiting: an earlier job already got it a worker.
        if (state.claimed || state.waiting)
        {
            return;
        }
        state.waiting = true;
        m_waiting_keys.push_back(key);
        if (m_waiting_keys.size() <= m_idle_workers)
        {
            m_work_waiting.notify_one();
        }
        else if (m_max_workers == 0 || m_workers.size() < m_max_workers)
        {
            try
            {
                start_worker_locked();
            }
            catch (const std::system_error& e)
            {
                m_waiting_keys.pop_back();
                state.waiting = false;
                state.queue.pop_back();
                throw scheduler_error(std::string("[scheduler.no_thread] cannot start a worker for '") + key +
                                      "': " + e.what());
            }
        }
        // Otherwise every worker is busy and the bound is reached: the key waits for the next free worker.
    }

    std::vector<context_scheduler::job> context_scheduler::take_queued(const std::string& key)
    {
        std::vector<job> taken;
        std::lock_guard<std::mutex> lock(m_mutex);
        auto found = m_keys.find(key);
        if (found == m_keys.end())
        {
            return taken;
        }
        auto& state = found->second;
        taken.reserve(state.queue.size());
        for (auto& queued : state.queue)
        {
            taken.push_back(std::move(queued.work));
        }
        state.queue.clear();
        if (state.waiting)
        {
            m_waiting_keys.erase(std::find(m_waiting_keys.begin(), m_waiting_keys.end(), key));
            state.waiting = false;
        }
        return taken;
    }

    context_scheduler::key_stats context_scheduler::stats(const std::string& key) const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto found = m_keys.find(key);
        if (found == m_keys.end())
        {
            return {};
        }
        const auto& state = found->second;
        return {state.running, state.queue.size(), state.completed, state.failed, state.last_activity};
    }

    std::vector<std::string> context_scheduler::keys() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::vector<std::string> result;
        result.reserve(m_keys.size());
        for (const auto& entry : m_keys)
        {
            result.push_back(entry.first);
        }
        return result;
    }

    bool context_scheduler::forget(const std::string& key)
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        auto found = m_keys.find(key);
        if (found == m_keys.end())
        {
            return true;
        }
        // A serving worker holds a reference to the entry, so it stays while the key is claimed.
        auto& state = found->second;
        if (state.claimed || state.waiting || state.running || !state.queue.empty())
        {
            state.forget_when_done = true;
            return false;
        }
        m_keys.erase(found);
        return true;
    }

    std::size_t context_scheduler::worker_count() const
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_workers.size();
    }

    bool context_scheduler::accepting() const noexcept
    {
        return !m_stopping;
    }

    std::vector<context_scheduler::keyed_job> context_scheduler::shutdown()
    {
        std::vector<std::pair<std::uint64_t, keyed_job>> dropped;
        std::vector<std::thread> ended;
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            if (m_workers.count(std::this_thread::get_id()) != 0)
            {
                throw std::logic_error(
                    "[scheduler.shutdown_from_job] a job cannot shut down its own scheduler");
            }
            m_stopping = true;
            for (auto& [key, state] : m_keys)
            {
                for (auto& queued : state.queue)
                {
                    dropped.push_back({queued.sequence, {key, std::move(queued.work)}});
                }
                state.queue.clear();
                state.waiting = false;
            }
            m_waiting_keys.clear();
            m_work_waiting.notify_all();
            m_worker_ended.wait(lock, [this] { return m_workers.empty(); });
            ended.swap(m_ended);
        }
        for (auto& thread : ended)
        {
            thread.join();
        }
        std::sort(dropped.begin(), dropped.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<keyed_job> result;
        result.reserve(dropped.size());
        for (auto& entry : dropped)
        {
            result.push_back(std::move(entry.second));
        }
        return result;
    }

    void context_scheduler::worker_main()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_stopping)
        {
            if (m_waiting_keys.empty())
            {
                ++m_idle_workers;
                const bool woken = m_work_waiting.wait_for(
                    lock, m_idle_exit, [this] { return !m_waiting_keys.empty() || m_stopping; });
                --m_idle_workers;
                if (!woken)
                {
                    break;
                }
                continue;
            }
            std::string key = std::move(m_waiting_keys.front());
            m_waiting_keys.pop_front();
            serve_key(lock, key);
        }

        // Hand this thread to the scheduler to join, and join the one that ended before it: so at most
        // one ended worker is ever left unjoined, and shutdown joining the last one waits for the chain.
        std::vector<std::thread> earlier;
        earlier.swap(m_ended);
        auto self = m_workers.find(std::this_thread::get_id());
        m_ended.push_back(std::move(self->second));
        m_workers.erase(self);
        m_worker_ended.notify_all();
        lock.unlock();
        for (auto& thread : earlier)
        {
            thread.join();
        }
    }

    void context_scheduler::serve_key(std::unique_lock<std::mutex>& lock, const std::string& key)
    {
        // std::map references stay valid while other keys come and go; forget() leaves claimed keys alone.
        key_state& state = m_keys[key];
        state.waiting = false;
        state.claimed = true;
        while (!state.queue.empty())
        {
            job work = std::move(state.queue.front().work);
            state.queue.pop_front();
            state.running = true;
            state.last_activity = clock::now();
            lock.unlock();
            bool failed = false;
            try
            {
                work();
            }
            catch (...)
            {
                // The job's owner reports its own errors; here a throw only must not stop the key's queue.
                failed = true;
            }
            // Whatever the job captured is released before the lock is taken again.
            work = nullptr;
            lock.lock();
            state.running = false;
            ++state.completed;
            state.failed += failed ? 1 : 0;
            state.last_activity = clock::now();
            if (!state.queue.empty() && must_yield_locked())
            {
                state.claimed = false;
                state.waiting = true;
                m_waiting_keys.push_back(key);
                return;
            }
        }
        state.claimed = false;
        if (state.forget_when_done)
            m_keys.erase(key);
    }

    bool context_scheduler::must_yield_locked() const
    {
        // Only a bounded scheduler with every worker taken makes keys wait; then they take turns per job.
        return m_max_workers != 0 && m_workers.size() >= m_max_workers &&
               m_waiting_keys.size() > m_idle_workers;
    }

    void context_scheduler::start_worker_locked()
    {
        std::thread worker = start_signal_free_thread([this] { worker_main(); });
        // The worker first takes m_mutex, which the caller holds, so it is registered before it can end.
        const auto id = worker.get_id();
        m_workers.emplace(id, std::move(worker));
    }

    void context_scheduler::join_exited()
    {
        std::vector<std::thread> ended;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            ended.swap(m_ended);
        }
        for (auto& thread : ended)
        {
            // A job submitting more work runs on a worker that is alive, so it never finds itself here.
            thread.join();
        }
    }
}
