// fake_patroni: settings live under a mutex (tests change them from the test thread); sockets,
// the acceptor and the coroutines live on the fake's own io thread and are touched nowhere else.
#include "tests/support/fake_patroni.hpp"

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/read_until.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <cctype>
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
    case 401: return "Unauthorized";
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

/// The value of header `lower_case_name` in a request head ("" when absent).
std::string header_value(std::string_view head, std::string_view lower_case_name)
{
    std::string lowered(head);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string key = "\r\n" + std::string(lower_case_name) + ":";
    const auto at = lowered.find(key);
    if (at == std::string::npos) return {};
    auto value = head.substr(at + key.size());
    value = value.substr(0, value.find("\r\n"));
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    return std::string(value);
}

std::string response_head(int status, bool http11, std::optional<std::size_t> content_length, bool close)
{
    std::string head = std::string(http11 ? "HTTP/1.1 " : "HTTP/1.0 ") + std::to_string(status) + " " +
                       reason_phrase(status) + "\r\nServer: BaseHTTP/0.6 Python/3.11.2\r\n" +
                       "Content-Type: application/json\r\n";
    if (status == 401) head += "WWW-Authenticate: Basic realm=\"Patroni\"\r\n";
    if (content_length) head += "Content-Length: " + std::to_string(*content_length) + "\r\n";
    if (http11 && close) head += "Connection: close\r\n";
    return head + "\r\n";
}

/// The fake's side of HTTPS: its certificate, and the client CA when one is required.
std::unique_ptr<asio::ssl::context> server_context(const fake_patroni_tls& tls)
{
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    context->use_certificate_chain_file(tls.cert_file);
    context->use_private_key_file(tls.key_file, asio::ssl::context::pem);
    if (!tls.client_ca_file.empty()) {
        context->load_verify_file(tls.client_ca_file);
        context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    }
    if (tls.session_id_context) {
        static constexpr unsigned char id[] = "fake_patroni";
        SSL_CTX_set_session_id_context(context->native_handle(), id, sizeof id - 1);
    }
    return context;
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
        if (!owner_.tls_) {
            co_await serve_requests(*socket, *socket);
            co_return;
        }
        asio::ssl::stream<asio::ip::tcp::socket&> stream(*socket, *owner_.tls_);
        const auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow_awaitable);
        {
            const std::lock_guard lock(owner_.mutex_);
            if (ec)
                ++owner_.tls_failed_;
            else if (SSL_session_reused(stream.native_handle()) == 1)
                ++owner_.tls_resumed_;
        }
        if (!ec) {
            co_await serve_requests(stream, *socket);
            co_return;
        }
        // Our alert is on its way; read until the client gives up, because closing with its
        // request unread would send an RST that can overtake the alert.
        asio::error_code ignored;
        socket->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        co_await drain_until_closed(*socket);
    }

    /// Answers requests on `stream` (the socket itself, or TLS over it) until one closes it.
    template <typename Stream>
    asio::awaitable<void> serve_requests(Stream& stream, asio::ip::tcp::socket& socket)
    {
        std::string pending;
        for (;;) {
            auto buffer = asio::dynamic_buffer(pending, max_request_bytes);
            const auto [ec, n] = co_await asio::async_read_until(stream, buffer, end_of_head, nothrow_awaitable);
            if (ec) co_return;
            const answer_plan plan = owner_.plan_for(std::string_view(pending).substr(0, n));
            pending.erase(0, n);
            if (!co_await answer(stream, socket, plan)) co_return;
        }
    }

    /// Acts out `plan`; true when the connection stays open for another request.
    template <typename Stream>
    asio::awaitable<bool> answer(Stream& stream, asio::ip::tcp::socket& socket, answer_plan plan)
    {
        switch (plan.fault) {
        case patroni_fault::hang:
            co_await drain_until_closed(stream);
            co_return false;
        case patroni_fault::refuse:
            close(socket);
            co_return false;
        case patroni_fault::garbage: {
            // A TLS record header and binary noise: what a misconfigured port would send.
            static constexpr char noise[] = "\x16\x03\x01\x00\xa5 \xff\xfe<html>not http at all\r\n\r\n";
            const std::string garbage(noise, sizeof noise - 1);
            co_await send_and_close(stream, socket, garbage);
            co_return false;
        }
        case patroni_fault::close_mid_body: {
            const std::string text = response_head(200, false, 1000, true) + std::string(10, '{');
            co_await send_and_close(stream, socket, text);
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
            co_await send_and_close(stream, socket, text);
            co_return false;
        }
        const auto [ec, n] = co_await asio::async_write(stream, asio::buffer(text), nothrow_awaitable);
        co_return !ec;
    }

    static void close(asio::ip::tcp::socket& socket)
    {
        asio::error_code ignored;
        socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

    /// Writes `bytes`, then FIN: the request was read completely, so close() sends no RST. Over
    /// TLS no close_notify comes first, as from Python's ssl module (and so from Patroni).
    template <typename Stream>
    static asio::awaitable<void> send_and_close(Stream& stream, asio::ip::tcp::socket& socket, std::string bytes)
    {
        (void)co_await asio::async_write(stream, asio::buffer(bytes), nothrow_awaitable);
        close(socket);
    }

    /// Reads and drops whatever comes until the peer closes (or stop() closes the socket).
    template <typename Stream>
    static asio::awaitable<void> drain_until_closed(Stream& stream)
    {
        std::array<char, 512> sink{};
        for (;;) {
            const auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), nothrow_awaitable);
            if (ec) co_return;
        }
    }

    fake_patroni& owner_;
    asio::ip::tcp::acceptor acceptor_;
    std::vector<std::weak_ptr<asio::ip::tcp::socket>> connections_;
};

fake_patroni::fake_patroni() : fake_patroni(std::unique_ptr<asio::ssl::context>{}) {}

fake_patroni::fake_patroni(const fake_patroni_tls& tls) : fake_patroni(server_context(tls)) {}

fake_patroni::fake_patroni(std::unique_ptr<asio::ssl::context> tls)
    : patroni_{200, patroni_json({}).dump()},
      cluster_{200, R"({"members": []})"},
      tls_(std::move(tls)),
      server_(std::make_unique<server>(*this))
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
    return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
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

void fake_patroni::set_required_authorization(std::string value)
{
    const std::lock_guard lock(mutex_);
    required_authorization_ = std::move(value);
}

fake_patroni::answer_plan fake_patroni::plan_for(std::string_view head)
{
    const std::string path = request_path(head);
    const std::lock_guard lock(mutex_);
    ++counts_[path];
    ++total_requests_;
    changed_.notify_all();

    answer_plan plan{fault_, delay_, {}, keep_alive_, content_length_};
    if (!required_authorization_.empty() && header_value(head, "authorization") != required_authorization_) {
        ++unauthorized_;
        plan.answer = {401, R"({"error": "authentication required"})"};
    } else if (path == "/patroni") {
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

std::size_t fake_patroni::counter(const std::size_t& value) const
{
    const std::lock_guard lock(mutex_);
    return value;
}

std::size_t fake_patroni::total_requests() const { return counter(total_requests_); }

std::size_t fake_patroni::connections_accepted() const { return counter(connections_); }

std::size_t fake_patroni::unauthorized_requests() const { return counter(unauthorized_); }

std::size_t fake_patroni::tls_handshakes_failed() const { return counter(tls_failed_); }

std::size_t fake_patroni::tls_sessions_resumed() const { return counter(tls_resumed_); }

void fake_patroni::reset_counts()
{
    const std::lock_guard lock(mutex_);
    counts_.clear();
    total_requests_ = 0;
    connections_ = 0;
    unauthorized_ = 0;
    tls_failed_ = 0;
    tls_resumed_ = 0;
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
