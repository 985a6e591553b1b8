// patroxy_tls_connect: connect per transaction over TLS, the way a driver that resumes TLS
// sessions would do it. Each transaction opens a TCP connection, sends an SSLRequest, does the
// TLS handshake (offering the thread's last session with --resume), starts a session (trust
// authentication), runs `SELECT 1`, sends Terminate and closes. libpq 15 cannot do this part:
// every PGconn builds its own SSL_CTX and offers no session, so a reconnecting libpq client always
// pays a full handshake. This client shows what resumption on the client leg saves where the
// server side offers it (patroxy's terminating listener with session_tickets), and that it saves
// nothing where it does not (PostgreSQL: no tickets, no session cache).
//
// One blocking thread per client (OpenSSL over the socket, every read and write bounded by
// --io-timeout). The JSON report on stdout has patroxy_loadgen's fields (tps, latency_ms,
// transactions, all_transactions, errors, first_error) and what TLS did: handshakes, resumed,
// the protocol and cipher, and with --ktls how many connections OpenSSL moved to kernel TLS.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr int exit_ok = 0;
constexpr int exit_errors = 1;
constexpr int exit_usage = 2;

struct options {
    std::string host = "127.0.0.1";
    unsigned port = 0;
    std::string user = "postgres";
    std::string dbname = "postgres";
    unsigned clients = 8;
    double duration_s = 10.0;
    double warmup_s = 1.0;
    double time_limit_s = 0.0; ///< 0: warmup + duration + 30
    std::uint64_t max_transactions = 5'000'000;
    unsigned io_timeout_ms = 5000;
    bool resume = false;
    bool plaintext = false;
    bool ktls = false;
    int max_tls = 0; ///< 0: OpenSSL's highest; 12 or 13
};

void usage(std::FILE* to)
{
    std::fputs(
        "usage: patroxy_tls_connect --port P [options]\n"
        "  --host H            IPv4 address (default 127.0.0.1)\n"
        "  --port P            PostgreSQL, HAProxy or patroxy port (required)\n"
        "  --user U, --dbname D  startup parameters (default postgres, postgres; trust auth only)\n"
        "  --clients N         concurrent clients, one thread each (default 8)\n"
        "  --duration S        measured seconds (default 10)\n"
        "  --warmup S          seconds run before the window, not counted (default 1)\n"
        "  --max-transactions N  end the window once N are counted (default 5000000)\n"
        "  --time-limit S      no transaction starts after this (default warmup + duration + 30)\n"
        "  --io-timeout MS     bound of every connect, read and write (default 5000)\n"
        "  --resume            offer the thread's last TLS session on every connect\n"
        "  --plaintext         no SSLRequest: plaintext connects (a reference row)\n"
        "  --ktls              SSL_OP_ENABLE_KTLS; the report counts connections on kernel TLS\n"
        "  --max-tls 12|13     highest TLS version offered (default: TLS 1.3)\n"
        "A transaction: connect, SSLRequest, handshake, startup, SELECT 1, Terminate, close.\n"
        "The JSON report goes to stdout. Exit status 0 without errors, 1 when some transaction\n"
        "failed, 2 on bad usage.\n",
        to);
}

bool parse_number(std::string_view text, double& out)
{
    const std::string copy(text);
    char* end = nullptr;
    const double v = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size() || !(v >= 0.0) || v > 86400.0) return false;
    out = v;
    return true;
}

template <typename T>
bool parse_count(std::string_view text, T& out)
{
    double v = 0;
    if (!parse_number(text, v) || v < 1 || v != std::floor(v)) return false;
    out = static_cast<T>(v);
    return true;
}

std::string parse_options(int argc, char** argv, options& o)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") return "help";
        if (arg == "--resume") { o.resume = true; continue; }
        if (arg == "--plaintext") { o.plaintext = true; continue; }
        if (arg == "--ktls") { o.ktls = true; continue; }
        if (i + 1 >= argc) return "option " + std::string(arg) + " needs a value";
        const std::string_view v = argv[++i];
        bool ok = true;
        if (arg == "--host") o.host = v;
        else if (arg == "--port") ok = parse_count(v, o.port) && o.port < 65536;
        else if (arg == "--user") o.user = v;
        else if (arg == "--dbname") o.dbname = v;
        else if (arg == "--clients") ok = parse_count(v, o.clients) && o.clients <= 1024;
        else if (arg == "--duration") ok = parse_number(v, o.duration_s);
        else if (arg == "--warmup") ok = parse_number(v, o.warmup_s);
        else if (arg == "--time-limit") ok = parse_number(v, o.time_limit_s);
        else if (arg == "--max-transactions") ok = parse_count(v, o.max_transactions);
        else if (arg == "--io-timeout") ok = parse_count(v, o.io_timeout_ms);
        else if (arg == "--max-tls") {
            ok = v == "12" || v == "13";
            o.max_tls = v == "12" ? 12 : 13;
        } else return "unknown option " + std::string(arg);
        if (!ok) return "bad value for " + std::string(arg) + ": " + std::string(v);
    }
    if (o.port == 0) return "--port is required";
    if (o.time_limit_s == 0.0) o.time_limit_s = o.warmup_s + o.duration_s + 30.0;
    return {};
}

std::string openssl_errors()
{
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        if (!text.empty()) text += "; ";
        text += buf;
    }
    return text;
}

/// The run's timeline and what every thread adds to.
struct timeline {
    clock_type::time_point start, warm_end, end, hard_end;
    std::uint64_t max_transactions = 0;
    std::atomic<std::uint64_t> counted{0};
    std::atomic<std::int64_t> closed_at_ns{0}; ///< when max_transactions was reached (0 = not)
};

struct thread_result {
    std::vector<std::int64_t> latencies_ns;
    std::uint64_t transactions = 0;     ///< counted in the window
    std::uint64_t all_transactions = 0; ///< completed at any time, warmup included
    std::uint64_t handshakes = 0;       ///< TLS handshakes completed (all transactions)
    std::uint64_t resumed = 0;          ///< of which resumed a session
    std::uint64_t ktls_send = 0, ktls_recv = 0;
    std::uint64_t errors = 0;
    std::string first_error;
    std::string version, cipher; ///< of the last handshake
};

/// One connection: a socket, and OpenSSL over it once the server said 'S'.
class connection {
public:
    connection() = default;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection()
    {
        if (ssl_) SSL_free(ssl_);
        if (fd_ >= 0) ::close(fd_);
    }

    std::string open(const sockaddr_in& addr, unsigned timeout_ms)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(timeout_ms / 1000);
        tv.tv_usec = static_cast<suseconds_t>((timeout_ms % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); // SO_SNDTIMEO bounds connect() too
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
            return std::string("connect: ") + std::strerror(errno);
        return {};
    }

    /// SSLRequest, then the handshake; `session` is offered when not null.
    std::string start_tls(SSL_CTX* ctx, SSL_SESSION* session)
    {
        static constexpr unsigned char ssl_request[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
        if (auto e = write_all(ssl_request, sizeof ssl_request); !e.empty()) return e;
        char answer = 0;
        const auto n = ::recv(fd_, &answer, 1, 0);
        if (n != 1) return n == 0 ? "closed after the SSLRequest" : std::string("SSLRequest: ") + std::strerror(errno);
        if (answer != 'S') return std::string("the server answered the SSLRequest with '") + answer + "'";
        ssl_ = SSL_new(ctx);
        if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return "SSL_new: " + openssl_errors();
        if (session) SSL_set_session(ssl_, session);
        ERR_clear_error();
        if (SSL_connect(ssl_) != 1) {
            const int saved = errno;
            auto text = openssl_errors();
            return "TLS handshake: " + (text.empty() ? std::string(std::strerror(saved)) : text);
        }
        return {};
    }

    std::string write_all(const void* data, std::size_t size)
    {
        const auto* p = static_cast<const char*>(data);
        while (size > 0) {
            long n = 0;
            if (ssl_) {
                ERR_clear_error();
                n = SSL_write(ssl_, p, static_cast<int>(size));
                if (n <= 0) return "SSL_write: " + describe_ssl_error(static_cast<int>(n));
            } else {
                n = ::send(fd_, p, size, MSG_NOSIGNAL);
                if (n < 0) return std::string("send: ") + std::strerror(errno);
            }
            p += n;
            size -= static_cast<std::size_t>(n);
        }
        return {};
    }

    /// Reads backend messages until ReadyForQuery; an ErrorResponse or an authentication request
    /// other than AuthenticationOk is an error.
    std::string read_until_ready()
    {
        for (;;) {
            while (buffered() >= 5) {
                const char type = static_cast<char>(buf_[pos_]);
                std::uint32_t len = 0;
                std::memcpy(&len, &buf_[pos_ + 1], 4);
                len = ntohl(len);
                if (len < 4 || len > (1u << 20)) return "malformed message from the server";
                if (buffered() < 1 + len) break;
                const unsigned char* body = &buf_[pos_ + 5];
                const std::size_t body_len = len - 4;
                pos_ += 1 + len;
                if (type == 'Z') return {};
                if (type == 'E') return "server error: " + error_text(body, body_len);
                if (type == 'R') {
                    std::uint32_t code = 1;
                    if (body_len >= 4) std::memcpy(&code, body, 4);
                    if (ntohl(code) != 0)
                        return "the server asks for authentication " + std::to_string(ntohl(code)) + " (trust only)";
                }
            }
            if (pos_ > 0) {
                buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
                pos_ = 0;
            }
            unsigned char chunk[16384];
            long n = 0;
            if (ssl_) {
                ERR_clear_error();
                n = SSL_read(ssl_, chunk, sizeof chunk);
                if (n <= 0) return "SSL_read: " + describe_ssl_error(static_cast<int>(n));
            } else {
                n = ::recv(fd_, chunk, sizeof chunk, 0);
                if (n == 0) return "the server closed the connection";
                if (n < 0) return std::string("recv: ") + std::strerror(errno);
            }
            buf_.insert(buf_.end(), chunk, chunk + n);
        }
    }

    /// close_notify, without waiting for the server's.
    void shutdown_tls()
    {
        if (ssl_) SSL_shutdown(ssl_);
    }

    SSL* ssl() const noexcept { return ssl_; }

private:
    std::size_t buffered() const noexcept { return buf_.size() - pos_; }

    std::string describe_ssl_error(int ret)
    {
        const int saved = errno;
        const int code = SSL_get_error(ssl_, ret);
        if (code == SSL_ERROR_ZERO_RETURN) return "the server closed TLS";
        if (code == SSL_ERROR_SYSCALL) {
            auto text = openssl_errors();
            if (!text.empty()) return text;
            return saved == 0 ? "EOF" : (saved == EAGAIN ? std::string("timed out") : std::strerror(saved));
        }
        auto text = openssl_errors();
        return text.empty() ? "SSL error " + std::to_string(code) : text;
    }

    static std::string error_text(const unsigned char* body, std::size_t size)
    {
        std::string code, message;
        std::size_t i = 0;
        while (i < size && body[i] != 0) {
            const char field = static_cast<char>(body[i++]);
            const auto* start = reinterpret_cast<const char*>(body + i);
            const std::size_t len = ::strnlen(start, size - i);
            if (field == 'C') code.assign(start, len);
            if (field == 'M') message.assign(start, len);
            i += len + 1;
        }
        return code + " " + message;
    }

    int fd_ = -1;
    SSL* ssl_ = nullptr;
    std::vector<unsigned char> buf_;
    std::size_t pos_ = 0;
};

std::string startup_packet(const options& o)
{
    std::string body;
    auto add = [&body](std::string_view s) {
        body.append(s);
        body.push_back('\0');
    };
    add("user");
    add(o.user);
    add("database");
    add(o.dbname);
    add("application_name");
    add("patroxy_bench");
    body.push_back('\0');
    std::string packet(8, '\0');
    const std::uint32_t len = htonl(static_cast<std::uint32_t>(8 + body.size()));
    const std::uint32_t version = htonl(196608); // 3.0
    std::memcpy(packet.data(), &len, 4);
    std::memcpy(packet.data() + 4, &version, 4);
    return packet + body;
}

std::string query_packet(std::string_view sql)
{
    std::string packet(5, '\0');
    packet[0] = 'Q';
    const std::uint32_t len = htonl(static_cast<std::uint32_t>(4 + sql.size() + 1));
    std::memcpy(packet.data() + 1, &len, 4);
    packet.append(sql);
    packet.push_back('\0');
    return packet;
}

struct transaction_outcome {
    std::string error;
    bool tls = false, resumed = false, ktls_send = false, ktls_recv = false;
};

/// One connect-per-transaction round; `session` is the thread's last session (replaced by this
/// connection's when resuming).
transaction_outcome one_transaction(const options& o, const sockaddr_in& addr, SSL_CTX* ctx, SSL_SESSION*& session,
                                    const std::string& startup, const std::string& query)
{
    static constexpr unsigned char terminate[] = {'X', 0, 0, 0, 4};
    transaction_outcome out;
    connection c;
    // Each step returns "" or what went wrong; the first failure ends the transaction.
    const auto failed = [&out](std::string error) {
        out.error = std::move(error);
        return !out.error.empty();
    };
    if (failed(c.open(addr, o.io_timeout_ms))) return out;
    if (!o.plaintext) {
        if (failed(c.start_tls(ctx, o.resume ? session : nullptr))) return out;
        out.tls = true;
        out.resumed = SSL_session_reused(c.ssl()) == 1;
        out.ktls_send = BIO_get_ktls_send(SSL_get_wbio(c.ssl()));
        out.ktls_recv = BIO_get_ktls_recv(SSL_get_rbio(c.ssl()));
    }
    if (failed(c.write_all(startup.data(), startup.size())) || failed(c.read_until_ready())) return out;
    if (failed(c.write_all(query.data(), query.size())) || failed(c.read_until_ready())) return out;
    // TLS 1.3 tickets came after the handshake and were read with the answers: the session
    // to offer next time is the newest one.
    if (o.resume && c.ssl()) {
        if (SSL_SESSION* s = SSL_get1_session(c.ssl())) {
            if (session) SSL_SESSION_free(session);
            session = s;
        }
    }
    if (failed(c.write_all(terminate, sizeof terminate))) return out;
    c.shutdown_tls();
    return out;
}

void run_client(const options& o, const sockaddr_in& addr, SSL_CTX* ctx, timeline& tl, thread_result& r)
{
    const std::string startup = startup_packet(o), query = query_packet("SELECT 1");
    SSL_SESSION* session = nullptr;
    for (;;) {
        const auto t0 = clock_type::now();
        if (t0 >= tl.end || t0 >= tl.hard_end || tl.closed_at_ns.load(std::memory_order_relaxed) != 0) break;
        const auto outcome = one_transaction(o, addr, ctx, session, startup, query);
        const auto t1 = clock_type::now();
        if (!outcome.error.empty()) {
            ++r.errors;
            if (r.first_error.empty()) r.first_error = outcome.error;
            std::this_thread::sleep_for(std::chrono::milliseconds(10)); // no busy loop on a dead server
            continue;
        }
        ++r.all_transactions;
        if (outcome.tls) {
            ++r.handshakes;
            r.resumed += outcome.resumed;
            r.ktls_send += outcome.ktls_send;
            r.ktls_recv += outcome.ktls_recv;
        }
        if (t1 >= tl.warm_end && t1 <= tl.end) {
            r.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
            ++r.transactions;
            if (tl.counted.fetch_add(1, std::memory_order_relaxed) + 1 == tl.max_transactions) {
                tl.closed_at_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(t1.time_since_epoch()).count());
            }
        }
    }
    if (session) SSL_SESSION_free(session);
}

double percentile_ms(const std::vector<std::int64_t>& sorted, double p)
{
    if (sorted.empty()) return 0.0;
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) / 1e6;
}

std::string json_string(const std::string& s)
{
    std::ostringstream out;
    out << '"';
    for (const char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') out << '\\' << ch;
        else if (u < 0x20) out << "\\u" << std::hex << std::setw(4) << std::setfill('0') << static_cast<unsigned>(u) << std::dec;
        else out << ch;
    }
    out << '"';
    return out.str();
}

std::string report(const options& o, const timeline& tl, const std::vector<thread_result>& results)
{
    thread_result all;
    for (const auto& r : results) {
        all.latencies_ns.insert(all.latencies_ns.end(), r.latencies_ns.begin(), r.latencies_ns.end());
        all.transactions += r.transactions;
        all.all_transactions += r.all_transactions;
        all.handshakes += r.handshakes;
        all.resumed += r.resumed;
        all.ktls_send += r.ktls_send;
        all.ktls_recv += r.ktls_recv;
        all.errors += r.errors;
        if (all.first_error.empty()) all.first_error = r.first_error;
        if (!r.version.empty()) all.version = r.version, all.cipher = r.cipher;
    }
    std::sort(all.latencies_ns.begin(), all.latencies_ns.end());
    auto end = tl.end;
    if (const auto closed = tl.closed_at_ns.load(); closed != 0)
        end = std::min(end, clock_type::time_point(std::chrono::duration_cast<clock_type::duration>(std::chrono::nanoseconds(closed))));
    const double window = std::chrono::duration<double>(end - tl.warm_end).count();
    const double tps = window > 0 ? static_cast<double>(all.transactions) / window : 0.0;
    double mean_ns = 0;
    for (const auto v : all.latencies_ns) mean_ns += static_cast<double>(v);
    if (!all.latencies_ns.empty()) mean_ns /= static_cast<double>(all.latencies_ns.size());

    std::ostringstream out;
    out << std::fixed << std::setprecision(3);
    out << "{\n"
        << "  \"mode\": \"" << (o.plaintext ? "connect-plaintext" : o.resume ? "connect-tls-resume" : "connect-tls") << "\",\n"
        << "  \"clients\": " << o.clients << ",\n"
        << "  \"threads\": " << o.clients << ",\n"
        << "  \"window_s\": " << window << ",\n"
        << "  \"transactions\": " << all.transactions << ",\n"
        << "  \"all_transactions\": " << all.all_transactions << ",\n"
        << "  \"queries\": " << all.transactions << ",\n"
        << "  \"tps\": " << tps << ",\n"
        << "  \"qps\": " << tps << ",\n"
        << "  \"bytes\": 0,\n"
        << "  \"bytes_per_s\": 0,\n"
        << "  \"latency_ms\": {\"p50\": " << std::setprecision(4) << percentile_ms(all.latencies_ns, 50)
        << ", \"p90\": " << percentile_ms(all.latencies_ns, 90) << ", \"p99\": " << percentile_ms(all.latencies_ns, 99)
        << ", \"max\": " << percentile_ms(all.latencies_ns, 100) << ", \"mean\": " << mean_ns / 1e6 << "},\n"
        << "  \"handshakes\": " << all.handshakes << ",\n"
        << "  \"resumed\": " << all.resumed << ",\n"
        << "  \"ktls_requested\": " << (o.ktls ? "true" : "false") << ",\n"
        << "  \"ktls_send\": " << all.ktls_send << ",\n"
        << "  \"ktls_recv\": " << all.ktls_recv << ",\n"
        << "  \"tls_version\": " << json_string(all.version) << ",\n"
        << "  \"cipher\": " << json_string(all.cipher) << ",\n"
        << "  \"errors\": " << all.errors << ",\n"
        << "  \"first_error\": " << json_string(all.first_error) << "\n"
        << "}\n";
    return out.str();
}

/// The protocol and cipher of one handshake with the server (what the run negotiates), or "".
void probe_tls(const options& o, const sockaddr_in& addr, SSL_CTX* ctx, thread_result& r)
{
    if (o.plaintext) return;
    connection c;
    if (!c.open(addr, o.io_timeout_ms).empty() || !c.start_tls(ctx, nullptr).empty()) return;
    r.version = SSL_get_version(c.ssl());
    r.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(c.ssl()));
    c.shutdown_tls();
}

} // namespace

int main(int argc, char** argv)
{
    options o;
    if (const auto problem = parse_options(argc, argv, o); !problem.empty()) {
        if (problem == "help") {
            usage(stdout);
            return exit_ok;
        }
        std::fprintf(stderr, "patroxy_tls_connect: %s\n", problem.c_str());
        usage(stderr);
        return exit_usage;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
    if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) {
        std::fprintf(stderr, "patroxy_tls_connect: --host must be an IPv4 address\n");
        return exit_usage;
    }

    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        std::fprintf(stderr, "patroxy_tls_connect: SSL_CTX_new: %s\n", openssl_errors().c_str());
        return exit_errors;
    }
    // sslmode=require: encrypted, nothing verified (the run's own throwaway certificates).
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o.max_tls == 12) SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    // Sessions are kept by the threads themselves (SSL_get1_session), not in a shared cache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (o.ktls) SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);

    timeline tl;
    tl.max_transactions = o.max_transactions;
    tl.start = clock_type::now();
    const auto secs = [](double s) { return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s)); };
    tl.warm_end = tl.start + secs(o.warmup_s);
    tl.end = tl.warm_end + secs(o.duration_s);
    tl.hard_end = tl.start + secs(o.time_limit_s);

    std::vector<thread_result> results(o.clients);
    std::vector<std::thread> threads;
    threads.reserve(o.clients);
    for (unsigned i = 0; i < o.clients; ++i)
        threads.emplace_back([&, i] { run_client(o, addr, ctx, tl, results[i]); });
    for (auto& t : threads) t.join();
    probe_tls(o, addr, ctx, results[0]);
    SSL_CTX_free(ctx);

    const std::string json = report(o, tl, results);
    std::fputs(json.c_str(), stdout);
    std::uint64_t errors = 0;
    for (const auto& r : results) errors += r.errors;
    return errors == 0 ? exit_ok : exit_errors;
}
