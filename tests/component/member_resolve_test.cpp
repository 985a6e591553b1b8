// Members given by host name (issue 17, "Host names in server lines"): host_resolver waits for a
// lookup under a deadline without blocking, and the poller looks the name up again every
// resolve_interval (else every interval), so the snapshot follows a member whose address changes,
// stops routing to one whose name no longer resolves, and never looks an IP literal up. The
// lookups are scripted through the poller's lookup seam; one section asks the real resolver.
#include "health/poller/patroni_poller.hpp"
#include "health/resolve/host_resolver.hpp"
#include "tests/support/poller_harness.hpp"

#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using patroxy::health::cluster_snapshot;
using patroxy::health::host_resolver;
using patroxy::health::incident_kind;
using patroxy::health::lookup_fn;
using patroxy::health::lookup_result;
using endpoint = asio::ip::tcp::endpoint;
using index_list = std::vector<std::uint32_t>;

namespace {

endpoint at(const char* address, std::uint16_t port = 5432) { return {asio::ip::make_address(address), port}; }

/// A name server the test scripts: every lookup gets the current answer, posted to the io_context
/// as a real one would arrive, or none at all while `hang` is set (kept in `pending`).
struct scripted_dns {
    asio::io_context& io;
    lookup_result answer;
    bool hang = false;
    std::vector<std::string> asked; ///< the host of every lookup started, in order
    std::vector<std::function<void(lookup_result)>> pending;

    explicit scripted_dns(asio::io_context& context) : io(context) {}

    void resolve_to(const char* address)
    {
        answer = {{}, {at(address)}};
        hang = false;
    }
    void fail(std::error_code ec)
    {
        answer = {ec, {}};
        hang = false;
    }

    [[nodiscard]] lookup_fn fn()
    {
        return [this](const std::string& host, std::uint16_t port, std::function<void(lookup_result)> done) {
            asked.push_back(host);
            if (hang) {
                pending.push_back(std::move(done));
                return;
            }
            lookup_result r = answer;
            for (auto& e : r.endpoints) e.port(port);
            asio::post(io, [done = std::move(done), r = std::move(r)] { done(r); });
        };
    }
};

/// One resolve() under a deadline of `limit`, run to its end on `io`.
lookup_result resolve_once(asio::io_context& io, host_resolver& resolver, std::chrono::milliseconds limit,
                           const std::function<void()>& meanwhile = {})
{
    std::optional<lookup_result> out;
    asio::steady_timer deadline(io, limit);
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out = co_await resolver.resolve(deadline); }, asio::detached);
    if (meanwhile) asio::post(io, meanwhile);
    io.restart();
    io.run_for(limit + 2s);
    REQUIRE(out);
    return *out;
}

/// node1 by host name "pg1", node2 by IP literal, both without a Patroni API, on one static
/// listener; lookups every 30 ms.
struct resolve_rig : patroxy::test::poller_harness {
    scripted_dns dns{io};

    resolve_rig()
    {
        cfg.members = {{"node1", "pg1", 5432, ""}, {"node2", "10.0.0.9", 5432, ""}};
        patroxy::config::listener l;
        l.name = "static";
        l.servers = {"node1", "node2"};
        cfg.listeners = {l};
        cfg.health.interval = 30ms;
        cfg.health.fast_interval = 10ms;
        cfg.health.timeout = 100ms;
    }

    void start() { poller_harness::start({}, dns.fn()); }

    [[nodiscard]] std::size_t lines_with(std::string_view part) const
    {
        return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const std::string& e) {
            return e.find(part) != std::string::npos;
        }));
    }
};

bool routes_node1_at(const cluster_snapshot& s, const char* address)
{
    return s.members.at(0).endpoint == at(address) && s.members.at(0).address_error.empty() &&
           s.eligible.at(0) == index_list{0, 1};
}

} // namespace

TEST_CASE("host_resolver: an answer wakes the waiting caller at once", "[component][resolve]")
{
    asio::io_context io;
    scripted_dns dns(io);
    dns.resolve_to("10.0.0.1");
    host_resolver resolver(io.get_executor(), "pg1", 5433, dns.fn());
    const auto started = std::chrono::steady_clock::now();
    const auto r = resolve_once(io, resolver, 5s);
    CHECK(std::chrono::steady_clock::now() - started < 1s); // not the 5 s deadline
    CHECK_FALSE(r.error);
    CHECK(r.endpoints == std::vector<endpoint>{at("10.0.0.1", 5433)});
    CHECK(dns.asked == std::vector<std::string>{"pg1"});
}

TEST_CASE("host_resolver: failures, deadlines and cancels come back as errors", "[component][resolve]")
{
    asio::io_context io;
    scripted_dns dns(io);
    host_resolver resolver(io.get_executor(), "pg1", 5432, dns.fn());
    SECTION("the lookup's own error")
    {
        dns.fail(asio::error::host_not_found);
        CHECK(resolve_once(io, resolver, 1s).error == asio::error::host_not_found);
    }
    SECTION("an answer without addresses is host_not_found")
    {
        dns.answer = {};
        CHECK(resolve_once(io, resolver, 1s).error == asio::error::host_not_found);
    }
    SECTION("no answer by the deadline: timed_out; the late answer serves the next resolve, no lookup is queued")
    {
        dns.hang = true;
        CHECK(resolve_once(io, resolver, 50ms).error == asio::error::timed_out);
        CHECK(resolve_once(io, resolver, 50ms).error == asio::error::timed_out);
        CHECK(dns.asked.size() == 1);
        REQUIRE(dns.pending.size() == 1);
        // The answer arrives while the third resolve waits.
        const auto r = resolve_once(io, resolver, 1s, [&] { dns.pending.front()({{}, {at("10.0.0.7")}}); });
        CHECK_FALSE(r.error);
        CHECK(r.endpoints == std::vector<endpoint>{at("10.0.0.7")});
        CHECK(dns.asked.size() == 1);
    }
    SECTION("cancel() wakes the caller with operation_aborted, and the next resolve asks again")
    {
        dns.hang = true;
        CHECK(resolve_once(io, resolver, 5s, [&] { resolver.cancel(); }).error == asio::error::operation_aborted);
        dns.resolve_to("10.0.0.2");
        CHECK(resolve_once(io, resolver, 1s).endpoints == std::vector<endpoint>{at("10.0.0.2")});
        CHECK(dns.asked.size() == 2);
    }
}

TEST_CASE("host_resolver: the real resolver answers for localhost and fails a name that does not exist",
          "[component][resolve]")
{
    asio::io_context io;
    SECTION("localhost")
    {
        host_resolver resolver(io.get_executor(), "localhost", 5432);
        const auto r = resolve_once(io, resolver, 5s);
        REQUIRE_FALSE(r.error);
        for (const auto& e : r.endpoints) CHECK(e.address().is_loopback());
    }
    SECTION("no-such-member.invalid")
    {
        host_resolver resolver(io.get_executor(), "no-such-member.invalid", 5432);
        const auto r = resolve_once(io, resolver, 5s);
        CHECK(r.error);
        CHECK(r.endpoints.empty());
    }
}

TEST_CASE("poller: a member by host name follows its address, is dropped while it does not resolve, and comes back",
          "[component][poller][resolve]")
{
    resolve_rig rig;
    rig.dns.resolve_to("10.0.0.1");
    rig.start();
    // Before the first answer the member has no address: nothing routes to it.
    CHECK(rig.poller->current()->eligible.at(0) == index_list{1});
    CHECK(rig.poller->current()->members.at(0).address_error == "pg1 has not been looked up yet");

    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return routes_node1_at(s, "10.0.0.1"); }, 2s));
    CHECK(rig.logged("info: member node1: pg1 resolves to 10.0.0.1"));

    rig.dns.resolve_to("10.0.0.2");
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return routes_node1_at(s, "10.0.0.2"); }, 2s));
    CHECK(rig.lines_with("member node1: pg1 now resolves to 10.0.0.2 (was 10.0.0.1)") == 1);

    rig.dns.fail(asio::error::host_not_found);
    REQUIRE(rig.run_until(
        [](const cluster_snapshot& s) {
            return s.eligible.at(0) == index_list{1} && s.unaddressed.at(0) == index_list{0};
        },
        2s));
    const auto& failed = rig.poller->current()->members.at(0);
    CHECK(failed.address_error.starts_with("cannot resolve pg1: "));
    CHECK(failed.up); // by its checks: the address alone is missing
    CHECK(std::any_of(rig.poller->current()->incidents.begin(), rig.poller->current()->incidents.end(),
                      [](const auto& i) { return i.kind == incident_kind::no_address; }));
    // A few more failed rounds: still one line.
    const auto asked = rig.dns.asked.size();
    REQUIRE(rig.run_until([&](const cluster_snapshot&) { return rig.dns.asked.size() >= asked + 3; }, 2s));
    CHECK(rig.lines_with("warning: member node1: cannot resolve pg1: ") == 1);

    rig.dns.resolve_to("10.0.0.2");
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return routes_node1_at(s, "10.0.0.2"); }, 2s));
    CHECK(rig.logged("info: member node1: pg1 resolves again to 10.0.0.2"));

    // node2 is an IP literal: never looked up, always at its address.
    CHECK(std::all_of(rig.dns.asked.begin(), rig.dns.asked.end(), [](const std::string& h) { return h == "pg1"; }));
    CHECK(rig.poller->current()->members.at(1).endpoint == at("10.0.0.9"));
}

TEST_CASE("poller: a name with several addresses keeps the one in use while it is among them",
          "[component][poller][resolve]")
{
    resolve_rig rig;
    rig.dns.resolve_to("10.0.0.1");
    rig.start();
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return routes_node1_at(s, "10.0.0.1"); }, 2s));
    rig.dns.answer.endpoints = {at("10.0.0.3"), at("10.0.0.1")};
    const auto asked = rig.dns.asked.size();
    REQUIRE(rig.run_until([&](const cluster_snapshot&) { return rig.dns.asked.size() >= asked + 3; }, 2s));
    CHECK(rig.poller->current()->members.at(0).endpoint == at("10.0.0.1"));
    CHECK(rig.lines_with("now resolves to") == 0);
}

TEST_CASE("poller: lookups every resolve_interval when set, else every health interval", "[component][poller][resolve]")
{
    resolve_rig rig;
    rig.dns.resolve_to("10.0.0.1");
    SECTION("resolve_interval 40ms, interval 1s")
    {
        rig.cfg.health.interval = 1s;
        rig.cfg.resolve_interval = 40ms;
        rig.start();
        rig.io.run_for(420ms);
        CHECK(rig.dns.asked.size() >= 4); // every interval would be 1
        CHECK(rig.dns.asked.size() <= 12);
    }
    SECTION("no resolve_interval, interval 100ms")
    {
        rig.cfg.health.interval = 100ms;
        rig.start();
        rig.io.run_for(420ms);
        CHECK(rig.dns.asked.size() >= 2);
        CHECK(rig.dns.asked.size() <= 6);
    }
}

TEST_CASE("poller: a name server that does not answer leaves the member unroutable after health.timeout, "
          "with one lookup outstanding",
          "[component][poller][resolve]")
{
    resolve_rig rig;
    rig.dns.hang = true;
    rig.start();
    REQUIRE(rig.run_until(
        [](const cluster_snapshot& s) {
            return s.members.at(0).address_error == "cannot resolve pg1: no answer within 100 ms";
        },
        2s));
    CHECK(rig.logged("warning: member node1: cannot resolve pg1: no answer within 100 ms"));
    rig.io.run_for(300ms);
    CHECK(rig.dns.asked.size() == 1);
    CHECK(rig.poller->current()->eligible.at(0) == index_list{1});

    // The late answer is taken by the round waiting for it (new lookups would hang: 10.0.0.4 can
    // only come from the first one).
    REQUIRE(rig.dns.pending.size() == 1);
    rig.dns.pending.front()({{}, {at("10.0.0.4")}});
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return routes_node1_at(s, "10.0.0.4"); }, 2s));
}
