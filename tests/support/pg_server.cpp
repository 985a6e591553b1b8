// Starts and stops the real PostgreSQL 15 servers of the integration tier.
#include "tests/support/pg_server.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace patroxy::test {

namespace {

using namespace std::chrono_literals;

std::string pg_binary(std::string_view name) { return std::string(pg_bin_dir) + "/" + std::string(name); }

/// Runs a setup command as postgres (when root) with its output in `log`; throws with that output.
void run_setup_step(std::vector<std::string> argv, const std::string& cwd, const std::string& log)
{
    const std::string what = argv.front();
    process_options options(std::move(argv));
    options.output_file = log;
    options.working_dir = cwd;
    options.as_postgres = true;
    options.parent_death_signal = SIGKILL;
    const int status = run_command(options, 60s);
    if (status != 0)
        throw std::runtime_error(what + " failed with status " + std::to_string(status) + ":\n" + read_file(log));
}

void chown_to_postgres(const std::string& path)
{
    if (::geteuid() != 0)
        return;
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr)
        throw std::runtime_error("running as root but there is no 'postgres' user");
    if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::system_error(errno, std::generic_category(), "chown " + path);
}

} // namespace

std::string conninfo_for(std::uint16_t port, std::string_view extra)
{
    std::string s = "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres connect_timeout=10";
    if (!extra.empty())
        s += " " + std::string(extra);
    return s;
}

// Delegating: once the deferred constructor returns, a throw here runs the destructor (stop()).
pg_server::pg_server(pg_server_options options) : pg_server(std::move(options), deferred{})
{
    start_postmaster();
    wait_ready();
}

std::vector<std::unique_ptr<pg_server>> pg_server::start_many(const std::vector<pg_server_options>& options)
{
    // Each stage runs for all servers before the next, so the initdbs and the server startups
    // overlap; a throw destroys (stops) whatever was started.
    std::vector<std::unique_ptr<pg_server>> servers;
    for (const auto& o : options)
        servers.push_back(std::unique_ptr<pg_server>(new pg_server(o, deferred{})));
    for (auto& s : servers)
        s->start_postmaster();
    for (auto& s : servers)
        s->wait_ready();
    return servers;
}

pg_server::pg_server(pg_server_options options, deferred)
    : options_(std::move(options)), dir_(make_temp_dir("patroxy-pg")), port_(free_port())
{
    try {
        chown_to_postgres(dir_);
        process_options initdb({pg_binary("initdb"), "-D", data_dir(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                "--locale=C", "--no-sync", "--no-instructions"});
        initdb.output_file = dir_ + "/initdb.log";
        initdb.working_dir = dir_;
        initdb.as_postgres = true;
        initdb.parent_death_signal = SIGKILL;
        initdb_ = subprocess(initdb);
    } catch (...) {
        stop();
        throw;
    }
}

void pg_server::start_postmaster()
{
    const auto initdb_status = initdb_.wait_for(60s);
    if (initdb_status != 0)
        throw std::runtime_error("initdb failed with status " + std::to_string(initdb_status.value_or(-1)) + ":\n" +
                                 read_file(dir_ + "/initdb.log"));

    const std::string data = data_dir();
    // Fast and small: nothing here needs durability, and two servers share a small CI box.
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << "\n# patroxy integration test fixture\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << dir_ << "'\n"
         << "max_connections = 100\n"
         << "shared_buffers = 16MB\n"
         << "fsync = off\n"
         << "synchronous_commit = off\n"
         << "full_page_writes = off\n"
         << "max_parallel_workers_per_gather = 0\n"
         << "logging_collector = off\n";
    if (options_.ssl && !options_.ssl_cert_file.empty()) {
        std::filesystem::copy_file(options_.ssl_cert_file, data + "/server.crt");
        std::filesystem::copy_file(options_.ssl_key_file, data + "/server.key");
        chown_to_postgres(data + "/server.crt");
        chown_to_postgres(data + "/server.key");
    } else if (options_.ssl) {
        run_setup_step({"openssl", "req", "-new", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-keyout", "server.key", "-out", "server.crt", "-days", "7",
                        "-subj", "/CN=127.0.0.1"},
                       data, dir_ + "/openssl.log");
    }
    if (options_.ssl) {
        // PostgreSQL refuses a key that group or others can read.
        if (::chmod((data + "/server.key").c_str(), 0600) != 0)
            throw std::system_error(errno, std::generic_category(), "chmod server.key");
        conf << "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
    }
    for (const auto& line : options_.settings)
        conf << line << "\n";
    conf.close();
    if (!conf)
        throw std::runtime_error("cannot write " + data + "/postgresql.conf");
    if (!options_.hba.empty()) {
        const std::string trust = read_file(data + "/pg_hba.conf");
        std::ofstream hba(data + "/pg_hba.conf", std::ios::trunc);
        for (const auto& line : options_.hba)
            hba << line << "\n";
        hba << trust;
        if (!hba)
            throw std::runtime_error("cannot write " + data + "/pg_hba.conf");
    }

    // postgres itself is forked directly (privileges dropped in the child) rather than under
    // runuser, which keeps a watching parent and turns SIGTERM into SIGKILL after 2 s: this way
    // the PID held is the postmaster's, and SIGINT means fast shutdown.
    process_options postgres({pg_binary("postgres"), "-D", data});
    postgres.output_file = dir_ + "/postgres.log";
    postgres.working_dir = dir_;
    postgres.as_postgres = true;
    postgres.parent_death_signal = SIGQUIT;
    postmaster_ = subprocess(postgres);
}

void pg_server::wait_ready()
{
    const std::string ping = conninfo("sslmode=disable connect_timeout=2");
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (PQping(ping.c_str()) != PQPING_OK) {
        if (!postmaster_.running())
            throw std::runtime_error("postgres exited with status " +
                                     std::to_string(postmaster_.exit_status().value_or(-1)) + ":\n" + log());
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error("postgres did not accept connections within 60 s:\n" + log());
        std::this_thread::sleep_for(10ms);
    }
}

pg_server::~pg_server() { stop(); }

void pg_server::stop()
{
    initdb_.stop(SIGKILL, 5s);
    if (postmaster_.running()) {
        ::kill(postmaster_.pid(), SIGINT);
        if (!postmaster_.wait_for(15s))
            postmaster_.stop(SIGQUIT, 5s);
    }
    if (!keep_temp_dirs()) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

std::string pg_server::conninfo(std::string_view extra) const { return conninfo_for(port_, extra); }

std::string pg_server::log() const { return read_file(dir_ + "/postgres.log"); }

pg_server& shared_pg_server(std::size_t index)
{
    static const std::vector<std::unique_ptr<pg_server>> servers = [] {
        pg_server_options options;
        options.ssl = true;
        return pg_server::start_many({options, options});
    }();
    return *servers.at(index);
}

proxy_config shared_cluster_config(std::vector<listener_spec> listeners)
{
    proxy_config config;
    config.members = {member_spec{"pg1", shared_pg_server(0).port()}, member_spec{"pg2", shared_pg_server(1).port()}};
    config.listeners = std::move(listeners);
    return config;
}

std::pair<std::string, std::string> idle_error(PGconn* c)
{
    std::pair<std::string, std::string> out;
    const PQnoticeReceiver previous = PQsetNoticeReceiver(
        c,
        [](void* arg, const PGresult* r) {
            auto* e = static_cast<std::pair<std::string, std::string>*>(arg);
            const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            const char* message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            e->first = code != nullptr ? code : "";
            e->second = message != nullptr ? message : "";
        },
        &out);
    (void)PQconsumeInput(c);
    (void)PQisBusy(c);
    (void)PQsetNoticeReceiver(c, previous, nullptr);
    return out;
}

std::string query_value(PGconn* c, const std::string& sql)
{
    auto r = pq_exec(c, sql);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK || PQntuples(r.get()) < 1)
        throw std::runtime_error("query \"" + sql + "\" failed (" + PQresStatus(status) + "): " + PQerrorMessage(c));
    return PQgetvalue(r.get(), 0, 0);
}

pq_conn connect_via(std::uint16_t listener_port) { return pq_connect(conninfo_for(listener_port, "sslmode=disable")); }

std::optional<std::uint16_t> server_port(PGconn* c)
{
    if (c == nullptr || PQstatus(c) != CONNECTION_OK)
        return std::nullopt;
    const auto r = pq_exec(c, "SELECT inet_server_port()");
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1)
        return std::nullopt;
    return static_cast<std::uint16_t>(std::stoi(PQgetvalue(r.get(), 0, 0)));
}

pq_conn session_on(std::uint16_t listener_port, std::uint16_t pg_port, int tries)
{
    for (int i = 0; i < tries; ++i) {
        auto c = connect_via(listener_port);
        if (server_port(c.get()) == pg_port)
            return c;
    }
    return {};
}

std::multiset<std::uint16_t> servers_reached(std::uint16_t listener_port, std::size_t n)
{
    std::multiset<std::uint16_t> out;
    for (std::size_t i = 0; i < n; ++i) {
        auto c = connect_via(listener_port);
        out.insert(server_port(c.get()).value_or(0));
    }
    return out;
}

bool becomes_readable(PGconn* c, std::chrono::milliseconds timeout)
{
    pollfd p{PQsocket(c), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

} // namespace patroxy::test
