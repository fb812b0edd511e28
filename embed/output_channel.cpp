// SPDX-License-Identifier: MIT
#include "embed/output_channel.hpp"

#include <signal.h>

namespace atrium
{
    output_channel::output_channel(output_sink& sink, std::chrono::milliseconds flush_delay)
        : m_sink(sink)
        , m_coalescer([this](const std::string& name, std::string text)
                      { m_sink.publish("stream", {{"name", name}, {"text", std::move(text)}}, nlohmann::json::object()); })
        , m_delay(flush_delay)
    {
        // SIGINT is for the main thread's running cell, never for this timer.
        sigset_t blocked, previous;
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGINT);
        pthread_sigmask(SIG_BLOCK, &blocked, &previous);
        m_timer = std::thread([this] { run_timer(); });
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    }

    output_channel::~output_channel()
    {
        {
            std::lock_guard<std::mutex> lock(m_timer_mutex);
            m_stop = true;
        }
        m_timer_wake.notify_one();
        m_timer.join();
        m_coalescer.flush();
    }

    void output_channel::write(std::string_view stream_name, std::string_view text)
    {
        if (m_coalescer.write(stream_name, text))
        {
            {
                std::lock_guard<std::mutex> lock(m_timer_mutex);
                m_armed = true;
            }
            m_timer_wake.notify_one();
        }
    }

    void output_channel::publish(const std::string& msg_type, nlohmann::json content, nlohmann::json metadata)
    {
        m_coalescer.in_order([&] { m_sink.publish(msg_type, std::move(content), std::move(metadata)); });
    }

    void output_channel::flush()
    {
        m_coalescer.flush();
    }

    std::optional<std::string> output_channel::request_input(const std::string& prompt, bool password)
    {
        flush(); // the user must see everything printed before the prompt
        return m_sink.request_input(prompt, password);
    }

    void output_channel::run_timer()
    {
        std::unique_lock<std::mutex> lock(m_timer_mutex);
        while (!m_stop)
        {
            m_timer_wake.wait(lock, [&] { return m_stop || m_armed; });
            if (m_stop)
                break;
            // Let more text accumulate for one delay, then send whatever is pending.
            m_timer_wake.wait_for(lock, m_delay, [&] { return m_stop; });
            m_armed = false;
            lock.unlock();
            m_coalescer.flush();
            lock.lock();
        }
    }
}
