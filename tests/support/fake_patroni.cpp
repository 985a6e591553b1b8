// fake_patroni: settings live under a mutex (tests change them from the test thread); sockets,
// the acceptor and the coroutines live on the fake's own io thread and are touched nowhere else.
#include "tests/support/fake_patroni.hpp"

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <future>
#include <iostream>
#include <stdexcept>

namespace patroxy::test {
namespace {

constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t max_request_bytes = 64 * 1024;
constexpr std::string_view end_of_head = "\r\n\r\n";

/// Logs what escaped a coroutine: in a test helper a silent `detached` would hide a bug.
void report_exception(const std::exception_ptr& e)
{
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::cerr << "fake_patroni: " << ex.what() << '\n';
    }
}

std::string reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/// The path of "GET /path?query HTTP/1.1", without the query.
std::string request_path(std::string_view head)
{
    const auto first = head.find(' ');
    if (first == std::string_view::npos) return {};
    const auto end = head.find_first_of(" ?\r\n", first + 1);
    return std::string(head.substr(first + 1, end == std::string_view::npos ? std::string_view::npos : end - first - 1));
}

std::string response_head(int status, bool http11, std::optional<std::size_t> content_length, bool close)
{
    std::string head = std::string(http11 ? "HTTP/1.1 " : "HTTP/1.0 ") + std::to_string(status) + " " +
                       reason_phrase(status) + "\r\nServer: BaseHTTP/0.6 Python/3.11.2\r\n" +
                       "Content-Type: application/json\r\n";
    if (content_length) head += "Content-Length: " + std::to_string(*content_length) + "\r\n";
    if (http11 && close) head += "Connection: close\r\n";
    return head + "\r\n";
}

} // namespace

/// What the fake does with one request, decided (and counted) when the request arrives.
struct fake_patroni::answer_plan {
    patroni_fault fault = patroni_fault::none;
    std::chrono::milliseconds delay{0};
    route answer;
    bool keep_alive = false;
    bool content_length = true;
};

class fake_patroni::server {
public:
    explicit server(fake_patroni& owner) : owner_(owner), acceptor_(owner.io_) {}

    /// Binds 127.0.0.1:port (0 = any) and starts accepting; returns the bound port.
    std::uint16_t listen(std::uint16_t port)
    {
        const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
        try {
            acceptor_.open(endpoint.protocol());
            acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
            acceptor_.bind(endpoint);
            acceptor_.listen();
        } catch (...) {
            asio::error_code ignored;
            acceptor_.close(ignored);
            throw;
        }
        asio::co_spawn(owner_.io_, accept_loop(), report_exception);
        return acceptor_.local_endpoint().port();
    }

    /// Closes the acceptor and every open connection, like a Patroni process that died.
    void stop()
    {
        asio::error_code ignored;
        acceptor_.close(ignored);
        for (const auto& weak : connections_)
            if (const auto socket = weak.lock()) socket->close(ignored);
        connections_.clear();
    }

private:
    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(nothrow_awaitable);
            if (ec) co_return; // closed by stop(); listen() starts a new loop
            {
                const std::lock_guard lock(owner_.mutex_);
                ++owner_.connections_;
            }
            auto shared = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
            std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
            connections_.push_back(shared);
            asio::co_spawn(owner_.io_, serve(shared), report_exception);
        }
    }

    asio::awaitable<void> serve(std::shared_ptr<asio::ip::tcp::socket> socket)
    {
        std::string pending;
        for (;;) {
            auto buffer = asio::dynamic_buffer(pending, max_request_bytes);
            const auto [ec, n] = co_await asio::async_read_until(*socket, buffer, end_of_head, nothrow_awaitable);
            if (ec) co_return;
            const std::string path = request_path(std::string_view(pending).substr(0, n));
            pending.erase(0, n);
            const answer_plan plan = owner_.plan_for(path);
            if (!co_await answer(*socket, plan)) co_return;
        }
    }

    /// Acts out `plan`; true when the connection stays open for another request.
    asio::awaitable<bool> answer(asio::ip::tcp::socket& socket, answer_plan plan)
    {
        switch (plan.fault) {
        case patroni_fault::hang:
            co_await drain_until_closed(socket);
            co_return false;
        case patroni_fault::refuse:
            close(socket);
            co_return false;
        case patroni_fault::garbage: {
            // A TLS record header and binary noise: what a misconfigured port would send.
            static constexpr char noise[] = "\x16\x03\x01\x00\xa5 \xff\xfe<html>not http at all\r\n\r\n";
            const std::string garbage(noise, sizeof noise - 1);
            co_await send_and_close(socket, garbage);
            co_return false;
        }
        case patroni_fault::close_mid_body: {
            const std::string text = response_head(200, false, 1000, true) + std::string(10, '{');
            co_await send_and_close(socket, text);
            co_return false;
        }
        case patroni_fault::http_500:
            plan.answer = {500, R"({"error": "internal server error"})"};
            plan.keep_alive = false;
            break;
        case patroni_fault::delay: {
            asio::steady_timer timer(socket.get_executor(), plan.delay);
            (void)co_await timer.async_wait(nothrow_awaitable);
            break;
        }
        case patroni_fault::none:
            break;
        }
        const bool keep = plan.keep_alive && plan.content_length;
        const std::optional<std::size_t> length =
            plan.content_length ? std::optional<std::size_t>(plan.answer.body.size()) : std::nullopt;
        const std::string text = response_head(plan.answer.status, plan.keep_alive, length, !keep) + plan.answer.body;
        if (!keep) {
            co_await send_and_close(socket, text);
            co_return false;
        }
        const auto [ec, n] = co_await asio::async_write(socket, asio::buffer(text), nothrow_awaitable);
        co_return !ec;
    }

    static void close(asio::ip::tcp::socket& socket)
    {
        asio::error_code ignored;
        socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

    /// Writes `bytes`, then FIN: the request was read completely, so close() sends no RST.
    static asio::awaitable<void> send_and_close(asio::ip::tcp::socket& socket, std::string bytes)
    {
        (void)co_await asio::async_write(socket, asio::buffer(bytes), nothrow_awaitable);
        close(socket);
    }

    /// Reads and drops whatever comes until the peer closes (or stop() closes the socket).
    static asio::awaitable<void> drain_until_closed(asio::ip::tcp::socket& socket)
    {
        std::array<char, 512> sink{};
        for (;;) {
            const auto [ec, n] = co_await socket.async_read_some(asio::buffer(sink), nothrow_awaitable);
            if (ec) co_return;
        }
    }

    fake_patroni& owner_;
    asio::ip::tcp::acceptor acceptor_;
    std::vector<std::weak_ptr<asio::ip::tcp::socket>> connections_;
};

fake_patroni::fake_patroni()
    : patroni_{200, patroni_json({}).dump()}, cluster_{200, R"({"members": []})"}, server_(std::make_unique<server>(*this))
{
    port_ = server_->listen(0);
    thread_ = std::thread([this] {
        auto work = asio::make_work_guard(io_);
        io_.run();
    });
}

fake_patroni::~fake_patroni()
{
    io_.stop();
    thread_.join();
    server_.reset();
}

std::string fake_patroni::api_url() const
{
    return "http://127.0.0.1:" + std::to_string(port_);
}

void fake_patroni::run_on_server(std::function<void()> f)
{
    std::packaged_task<void()> task(std::move(f));
    auto done = task.get_future();
    asio::post(io_, [&task] { task(); });
    done.get();
}

void fake_patroni::set_patroni_body(std::string json)
{
    const std::lock_guard lock(mutex_);
    patroni_.body = std::move(json);
}

void fake_patroni::set_cluster_body(std::string json)
{
    const std::lock_guard lock(mutex_);
    cluster_.body = std::move(json);
}

void fake_patroni::set_status(int status)
{
    const std::lock_guard lock(mutex_);
    patroni_.status = cluster_.status = status;
}

void fake_patroni::set_route(std::string path, int status, std::string body)
{
    const std::lock_guard lock(mutex_);
    routes_[std::move(path)] = route{status, std::move(body)};
}

void fake_patroni::set_fault(patroni_fault fault, std::chrono::milliseconds delay)
{
    patroni_fault previous;
    {
        const std::lock_guard lock(mutex_);
        previous = fault_;
        fault_ = fault;
        delay_ = delay;
    }
    if (fault == patroni_fault::refuse && previous != patroni_fault::refuse)
        run_on_server([this] { server_->stop(); });
    else if (fault != patroni_fault::refuse && previous == patroni_fault::refuse)
        run_on_server([this] { (void)server_->listen(port_); });
}

void fake_patroni::set_keep_alive(bool keep_alive)
{
    const std::lock_guard lock(mutex_);
    keep_alive_ = keep_alive;
}

void fake_patroni::set_content_length(bool send)
{
    const std::lock_guard lock(mutex_);
    content_length_ = send;
}

fake_patroni::answer_plan fake_patroni::plan_for(std::string_view path)
{
    const std::lock_guard lock(mutex_);
    ++counts_[std::string(path)];
    ++total_requests_;
    changed_.notify_all();

    answer_plan plan{fault_, delay_, {}, keep_alive_, content_length_};
    if (path == "/patroni") {
        plan.answer = patroni_;
    } else if (path == "/cluster") {
        plan.answer = cluster_;
    } else if (const auto it = routes_.find(path); it != routes_.end()) {
        plan.answer = it->second;
    } else {
        plan.answer = {503, patroni_.body}; // Patroni's generic handler for unknown paths
    }
    return plan;
}

std::size_t fake_patroni::request_count(std::string_view path) const
{
    const std::lock_guard lock(mutex_);
    const auto it = counts_.find(path);
    return it == counts_.end() ? 0 : it->second;
}

std::size_t fake_patroni::total_requests() const
{
    const std::lock_guard lock(mutex_);
    return total_requests_;
}

std::size_t fake_patroni::connections_accepted() const
{
    const std::lock_guard lock(mutex_);
    return connections_;
}

void fake_patroni::reset_counts()
{
    const std::lock_guard lock(mutex_);
    counts_.clear();
    total_requests_ = 0;
    connections_ = 0;
}

bool fake_patroni::wait_for_requests(std::string_view path, std::size_t n, std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
        const auto it = counts_.find(path);
        return it != counts_.end() && it->second >= n;
    });
}

nlohmann::json patroni_json(const patroni_member& m)
{
    using nlohmann::json;
    const bool leader = m.role == "master" || m.role == "primary" || m.role == "standby_leader";
    json body = {{"state", m.state}, {"role", m.role}};
    if (m.postgres_running) {
        body["postmaster_start_time"] = "2026-11-22 03:25:16.162682+00:00";
        body["server_version"] = m.server_version;
        if (leader)
            body["xlog"] = {{"location", m.xlog_location}};
        else
            body["xlog"] = {{"received_location", m.received_location},
                            {"replayed_location", m.replayed_location},
                            {"replayed_timestamp", "2026-11-22 03:26:46.408307+00:00"},
                            {"paused", m.paused}};
        body["timeline"] = m.timeline;
        if (!m.replication.empty()) {
            json list = json::array();
            for (const auto& r : m.replication)
                list.push_back({{"usename", r.usename},
                                {"application_name", r.application_name},
                                {"client_addr", r.client_addr},
                                {"state", r.state},
                                {"sync_state", r.sync_state},
                                {"sync_priority", r.sync_priority}});
            body["replication"] = std::move(list);
        }
    }
    if (m.cluster_unlocked) body["cluster_unlocked"] = true;
    if (!m.tags.empty()) body["tags"] = m.tags;
    body["dcs_last_seen"] = 1795318397;
    body["database_system_identifier"] = "7710831728323457699";
    body["patroni"] = {{"version", m.version}, {"scope", m.scope}};
    return body;
}

nlohmann::json cluster_json(const std::vector<cluster_member>& members, bool pause)
{
    using nlohmann::json;
    json list = json::array();
    for (const auto& m : members) {
        json entry = {{"name", m.name},         {"role", m.role}, {"state", m.state}, {"api_url", m.api_url},
                      {"host", m.host},         {"port", m.port}, {"timeline", m.timeline}};
        if (!m.lag.is_null()) entry["lag"] = m.lag;
        if (!m.tags.empty()) entry["tags"] = m.tags;
        list.push_back(std::move(entry));
    }
    json body = {{"members", std::move(list)}};
    if (pause) body["pause"] = true;
    return body;
}

} // namespace patroxy::test
