// Exhaustion: patroxy out of file descriptors pauses its accepts (one log line, a counter, no busy
// loop) and resumes once descriptors are free; a client that stops reading during a large COPY OUT
// leaves patroxy's memory flat, because patroxy stops reading the server while the client's
// socket is full.
#include <catch2/catch.hpp>

#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"
#include "tests/support/proc_stats.hpp"

#include <future>
#include <memory>
#include <thread>

#include <sys/resource.h>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pg_bytes = patroxy::test::pg_bytes;
using steady = std::chrono::steady_clock;

/// How often `needle` occurs in `text`.
std::size_t occurrences(const std::string& text, std::string_view needle)
{
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
    return n;
}

/// Sets the soft RLIMIT_NOFILE of `pid` to `soft` and restores the previous limit on destruction.
class descriptor_limit {
public:
    descriptor_limit(pid_t pid, rlim_t soft) : pid_(pid)
    {
        if (::prlimit(pid_, RLIMIT_NOFILE, nullptr, &previous_) != 0) throw std::runtime_error("prlimit: read failed");
        const rlimit lowered{soft, previous_.rlim_max};
        if (::prlimit(pid_, RLIMIT_NOFILE, &lowered, nullptr) != 0) throw std::runtime_error("prlimit: set failed");
    }
    descriptor_limit(const descriptor_limit&) = delete;
    descriptor_limit& operator=(const descriptor_limit&) = delete;
    ~descriptor_limit() { (void)::prlimit(pid_, RLIMIT_NOFILE, &previous_, nullptr); }

private:
    pid_t pid_;
    rlimit previous_{};
};

/// The value of the sample `series` (a full line prefix such as `name{labels}`) in Prometheus text.
std::optional<double> metric_value(const std::string& text, const std::string& series)
{
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return std::nullopt;
    return std::stod(text.substr(at + series.size() + 2));
}

} // namespace

TEST_CASE("exhaustion: out of descriptors, accepts pause without a busy loop and resume when descriptors free up",
          "[proxy][exhaustion]")
{
    const auto port = free_port();
    const auto stats = free_port();
    auto config = shared_cluster_config({listener_spec("fd_lsn", port, {"pg1"})});
    config.startup_timeout = "60s"; // the connections that use up the descriptors send nothing
    config.extra_json = R"("stats": {"bind": "127.0.0.1:)" + std::to_string(stats) + R"("})";
    patroxy_process proxy(PATROXY_BINARY, config);
    REQUIRE(poll_until(
        [&] {
            try {
                return http_get(stats, "/metrics").status == 200;
            } catch (const std::exception&) {
                return false;
            }
        },
        5s));
    {
        auto warm = connect_via(port);
        REQUIRE(query_value(warm.get(), "SELECT 1") == "1");
    }

    std::vector<std::unique_ptr<raw_connection>> held;
    std::future<std::string> waiting;
    {
        // No descriptor above the highest open one: once the holes below it are taken, accept fails.
        const auto highest = highest_fd(proxy.pid());
        REQUIRE(highest.has_value());
        descriptor_limit limit(proxy.pid(), static_cast<rlim_t>(*highest) + 1);
        // Silent connections take the free descriptors (patroxy waits for their startup packet),
        // until one is left in the backlog. Bounded: the holes are a handful.
        while (held.size() < 64 && !proxy.wait_for_log("accepts paused", 100ms))
            held.push_back(std::make_unique<raw_connection>(port));
        REQUIRE(proxy.wait_for_log("accepts paused", 2s));
        INFO(proxy.log());
        CHECK(proxy.log().find("Too many open files (the descriptor limit is " + std::to_string(*highest + 1)) !=
              std::string::npos);

        // A client that arrives now waits in the backlog.
        waiting = std::async(std::launch::async, [port] {
            auto conn = pq_connect(conninfo_for(port, "sslmode=disable connect_timeout=30"));
            if (PQstatus(conn.get()) != CONNECTION_OK) return std::string("failed: ") + PQerrorMessage(conn.get());
            return query_value(conn.get(), "SELECT 42");
        });

        // Paused is quiet: no CPU spent retrying (a busy loop would use a whole core, 2000 ms here),
        // one log line however long it lasts.
        const auto cpu_before = cpu_time(proxy.pid());
        std::this_thread::sleep_for(2s);
        const auto cpu_after = cpu_time(proxy.pid());
        REQUIRE(cpu_before.has_value());
        REQUIRE(cpu_after.has_value());
        const auto used = *cpu_after - *cpu_before;
        UNSCOPED_INFO("patroxy CPU while paused for 2 s: " << used.count() << " ms");
        CHECK(used < 300ms);
        CHECK(occurrences(proxy.log(), "accepts paused") == 1);
        CHECK(waiting.wait_for(0s) == std::future_status::timeout);
        CHECK(proxy.running());

        // Descriptors free up (the limit stays as low): accepts resume and the waiting client is served.
        held.clear();
        REQUIRE(waiting.wait_for(10s) == std::future_status::ready);
        CHECK(waiting.get() == "42");
        CHECK(proxy.wait_for_log("accepts resumed after", 2s));
    }
    INFO(proxy.log());
    const auto metrics = http_get(stats, "/metrics");
    REQUIRE(metrics.status == 200);
    const auto pauses = metric_value(metrics.body, R"(patroxy_listener_accept_pauses_total{listener="fd_lsn"})");
    REQUIRE(pauses.has_value());
    CHECK(*pauses >= 1);
    const auto json = http_get(stats, "/stats.json");
    CHECK_THAT(json.body, Catch::Contains(R"("accept_pauses":)"));
    CHECK_THAT(json.body, !Catch::Contains(R"("accept_pauses":0)"));
    auto after = connect_via(port);
    CHECK(query_value(after.get(), "SELECT 1") == "1");
    CHECK(proxy.running());
}

namespace {

/// What a client that stopped reading mid-COPY saw patroxy do.
struct stalled_copy {
    std::size_t baseline_kb = 0;  ///< patroxy's RSS before the COPY
    std::size_t peak_kb = 0;      ///< the most during the stall and the drain after it
    std::uint64_t copy_bytes = 0; ///< CopyData payload the client got in the end
    bool completed = false;       ///< CommandComplete and ReadyForQuery came after the data
    char last_type = 0;           ///< the type of the last message read (an 'E' says what failed)
};

/// COPY OUT of `rows` rows of 1 kB (1023 'x' and a newline) through patroxy; the client reads
/// nothing for `stall`, then everything. patroxy's RSS is sampled all along.
stalled_copy copy_out_with_stalled_client(std::size_t rows, std::chrono::milliseconds stall)
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, shared_cluster_config({listener_spec("copy_lsn", port, {"pg1"})}));
    raw_connection raw(port);
    const auto ready = raw.startup(5s);
    REQUIRE_FALSE(ready.empty());
    REQUIRE(ready.back().type == 'Z');
    stalled_copy out;
    out.baseline_kb = rss_kb(proxy.pid()).value_or(0);
    const auto sample = [&] { out.peak_kb = std::max(out.peak_kb, rss_kb(proxy.pid()).value_or(0)); };

    REQUIRE(raw.send(pg_bytes::query("COPY (SELECT repeat('x', 1023) FROM generate_series(1, " + std::to_string(rows) +
                                     ")) TO STDOUT")));
    const auto stall_end = steady::now() + stall;
    while (steady::now() < stall_end) {
        sample();
        std::this_thread::sleep_for(50ms);
    }
    // Until ReadyForQuery; an ErrorResponse or a silence of 10 s ends it incomplete.
    for (std::size_t messages = 0;; ++messages) {
        auto m = raw.read_message(10s);
        if (!m || m->type == 'E') break;
        out.last_type = m->type;
        if (m->type == 'd') out.copy_bytes += m->body.size();
        if (m->type == 'Z') {
            out.completed = true;
            break;
        }
        if (messages % 4096 == 0) sample();
    }
    sample();
    return out;
}

} // namespace

TEST_CASE("exhaustion: a client that stops reading during a 200 MB COPY OUT keeps patroxy's memory flat",
          "[proxy][exhaustion][copy]")
{
    constexpr std::size_t rows = 200 * 1024; // 200 MiB of CopyData
    const auto r = copy_out_with_stalled_client(rows, 3s);
    INFO("patroxy RSS " << r.baseline_kb << " kB before, at most " << r.peak_kb << " kB while the client stalled and drained");
    CHECK(r.completed);
    CHECK(r.last_type == 'Z');
    CHECK(r.copy_bytes == rows * 1024);
    // A proxy that kept reading the server would hold most of 200 MB after 3 s; patroxy holds its
    // relay buffers only.
    CHECK(r.peak_kb < r.baseline_kb + 16 * 1024);
}

TEST_CASE("exhaustion: the same with 1 GB (by hand: integration_tests '[copy-1g]')", "[.][copy-1g]")
{
    constexpr std::size_t rows = 1024 * 1024; // 1 GiB
    const auto r = copy_out_with_stalled_client(rows, 5s);
    WARN("patroxy RSS " << r.baseline_kb << " kB before, at most " << r.peak_kb << " kB during the 1 GiB COPY OUT");
    CHECK(r.completed);
    CHECK(r.last_type == 'Z');
    CHECK(r.copy_bytes == rows * 1024);
    CHECK(r.peak_kb < r.baseline_kb + 16 * 1024);
}
