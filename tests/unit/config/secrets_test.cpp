// Passwords from a file, from the environment, or as a crypt(3) SHA-512 hash: what each key
// reads, the errors `patroxy -c` gives for a missing file, an unset variable or a malformed hash
// (never showing the secret), and --print-config writing the key back rather than the secret.
#include "config/json_writer.hpp"
#include "config/secret_reader.hpp"
#include "config_test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace patroxy::config;
using namespace patroxy::config::test;
using patroxy::config::detail::is_sha512_crypt;

namespace {

// `openssl passwd -6 -salt saltsalt 'correct horse'`
const std::string sample_hash =
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0";

/// A file under the temporary directory holding `content`, removed with the object.
struct temp_file {
    std::filesystem::path path;
    explicit temp_file(const std::string& content, const std::string& tag = "secret")
        : path(std::filesystem::temp_directory_path() /
               ("patroxy_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++)))
    {
        std::ofstream(path, std::ios::binary) << content;
    }
    ~temp_file() { std::filesystem::remove(path); }
    static int& counter()
    {
        static int n = 0;
        return n;
    }
};

/// An environment variable set for the test's lifetime.
struct scoped_env {
    std::string name;
    scoped_env(std::string n, const char* value) : name(std::move(n)) { ::setenv(name.c_str(), value, 1); }
    ~scoped_env() { ::unsetenv(name.c_str()); }
};

std::string with_stats_auth(const std::string& auth_keys)
{
    return config_with(R"("stats": { "bind": "127.0.0.1:8404", "auth": { "user": "admin", )" + auth_keys + " } }");
}

std::string json_string(const std::string& text) { return "\"" + text + "\""; }

/// No error message of `r` contains `secret`.
void check_not_shown(const load_result& r, const std::string& secret)
{
    for (const auto& line : error_lines(r)) {
        INFO(line);
        CHECK(line.find(secret) == std::string::npos);
    }
}

} // namespace

TEST_CASE("password_file: the file's content, one final newline dropped", "[config][secrets]")
{
    const auto [content, expected] = GENERATE(table<std::string, std::string>({
        {"s3cret", "s3cret"},
        {"s3cret\n", "s3cret"},
        {"s3cret\r\n", "s3cret"},
        {"s3cret\n\n", "s3cret\n"},     // only one: the rest is the operator's
        {" spaced out ", " spaced out "}, // spaces are part of a password
    }));
    const temp_file file(content);
    const config c = parsed(with_stats_auth(R"("password_file": )" + json_string(file.path.string())));
    REQUIRE(c.stats->auth);
    CHECK(c.stats->auth->password == expected);
    CHECK(c.stats->auth->password_origin == secret_origin{secret_origin::kind::file, file.path.string()});
}

TEST_CASE("password_file: unreadable, empty or oversized is a config error naming the file", "[config][secrets]")
{
    SECTION("missing")
    {
        const config_error e = only_error(with_stats_auth(R"("password_file": "/nonexistent/patroxy/stats.pw")"));
        CHECK(e.path == "/stats/auth/password_file");
        CHECK(e.message == "cannot read password file '/nonexistent/patroxy/stats.pw': No such file or directory");
    }
    SECTION("a directory")
    {
        const config_error e = only_error(
            with_stats_auth(R"("password_file": )" + json_string(std::filesystem::temp_directory_path().string())));
        CHECK(e.path == "/stats/auth/password_file");
        CHECK(e.message.starts_with("cannot read password file"));
    }
    SECTION("empty, or only a newline")
    {
        const temp_file file(GENERATE(as<std::string>{}, "", "\n"));
        const config_error e = only_error(with_stats_auth(R"("password_file": )" + json_string(file.path.string())));
        CHECK(e.message == "password file '" + file.path.string() + "' is empty");
    }
    SECTION("longer than a password can be: a wrong path, and its content is not shown")
    {
        const temp_file file(std::string(5000, 'x') + "topsecret");
        const auto r = parse_config(with_stats_auth(R"("password_file": )" + json_string(file.path.string())));
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].message.find("longer than 4096 bytes") != std::string::npos);
        check_not_shown(r, "topsecret");
    }
    SECTION("not a string")
    {
        CHECK(only_error(with_stats_auth(R"("password_file": 7)")).path == "/stats/auth/password_file");
    }
}

TEST_CASE("password_env: the variable's value, unset or empty is an error naming the variable", "[config][secrets]")
{
    SECTION("set")
    {
        const scoped_env env("PATROXY_TEST_API_PASSWORD", "from the env");
        const config c = parsed(R"({ "cluster": { "members": )" + default_members +
                                R"(, "api_auth": { "user": "patroni", "password_env": "PATROXY_TEST_API_PASSWORD" } },
                                  "listeners": [ )" + default_listener + " ] }");
        REQUIRE(c.api_auth);
        CHECK(c.api_auth->password == "from the env");
        CHECK(c.api_auth->password_origin == secret_origin{secret_origin::kind::env, "PATROXY_TEST_API_PASSWORD"});
    }
    SECTION("unset")
    {
        ::unsetenv("PATROXY_TEST_UNSET_PASSWORD");
        const config_error e = only_error(with_stats_auth(R"("password_env": "PATROXY_TEST_UNSET_PASSWORD")"));
        CHECK(e.path == "/stats/auth/password_env");
        CHECK(e.message == "environment variable PATROXY_TEST_UNSET_PASSWORD is not set");
    }
    SECTION("empty")
    {
        const scoped_env env("PATROXY_TEST_EMPTY_PASSWORD", "");
        CHECK(only_error(with_stats_auth(R"("password_env": "PATROXY_TEST_EMPTY_PASSWORD")")).message ==
              "environment variable PATROXY_TEST_EMPTY_PASSWORD is empty");
    }
}

TEST_CASE("sql_check's password may come from a file too, it stays optional", "[config][secrets]")
{
    const temp_file file("monitor-pw\n");
    const config c = parsed(config_with(R"("health": { "sql_check": { "user": "monitor", "password_file": )" +
                                        json_string(file.path.string()) + " } }"));
    REQUIRE(c.health.sql_check);
    CHECK(c.health.sql_check->password == "monitor-pw");
    CHECK(parsed(config_with(R"("health": { "sql_check": { "user": "monitor" } })")).health.sql_check->password.empty());
}

TEST_CASE("password_hash: a crypt(3) SHA-512 hash for stats.auth", "[config][secrets]")
{
    const config c = parsed(with_stats_auth(R"("password_hash": )" + json_string(sample_hash)));
    REQUIRE(c.stats->auth);
    CHECK(c.stats->auth->password_hash == sample_hash);
    CHECK(c.stats->auth->password.empty());
}

TEST_CASE("a malformed password_hash is an error that does not echo the value", "[config][secrets]")
{
    const std::string bad = GENERATE(as<std::string>{},
        "hunter2",                                     // a password in the wrong key
        "$5$saltsalt$0123456789012345678901234567890123456789012", // SHA-256: not what this key takes
        "$6$saltsalt$tooshort",
        "$6$$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0"); // no salt
    const auto r = parse_config(with_stats_auth(R"("password_hash": )" + json_string(bad)));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path == "/stats/auth/password_hash");
    CHECK(r.errors[0].message.starts_with("expected a crypt(3) SHA-512 hash"));
    check_not_shown(r, bad);
}

TEST_CASE("is_sha512_crypt: the shapes glibc and libxcrypt write", "[config][secrets]")
{
    const std::string tail = sample_hash.substr(sample_hash.rfind('$') + 1); // 86 characters
    CHECK(is_sha512_crypt(sample_hash));
    CHECK(is_sha512_crypt("$6$rounds=1000$abc$" + tail));
    CHECK(is_sha512_crypt("$6$rounds=656000$0123456789abcdef$" + tail)); // salt of 16
    CHECK(is_sha512_crypt("$6$./$" + tail));
    CHECK_FALSE(is_sha512_crypt("$6$0123456789abcdefg$" + tail)); // salt of 17
    CHECK_FALSE(is_sha512_crypt("$6$rounds=999$abc$" + tail));   // below crypt's minimum
    CHECK_FALSE(is_sha512_crypt("$6$rounds=01000$abc$" + tail));
    CHECK_FALSE(is_sha512_crypt("$6$rounds=$abc$" + tail));
    CHECK_FALSE(is_sha512_crypt("$6$sa:t$" + tail));
    CHECK_FALSE(is_sha512_crypt("$6$salt$" + tail + "x"));
    CHECK_FALSE(is_sha512_crypt("$6$salt$" + tail.substr(1) + "!"));
    CHECK_FALSE(is_sha512_crypt("$6$salt"));
    CHECK_FALSE(is_sha512_crypt(""));
}

TEST_CASE("a password is given once, and is required where it was", "[config][secrets]")
{
    const temp_file file("pw");
    const config_error twice =
        only_error(with_stats_auth(R"("password": "a", "password_file": )" + json_string(file.path.string())));
    CHECK(twice.path == "/stats/auth/password_file");
    CHECK(twice.message == "give the password once: \"password\" is set too");

    const config_error none =
        only_error(config_with(R"("stats": { "bind": "127.0.0.1:8404", "auth": { "user": "admin" } })"));
    CHECK(none.path == "/stats/auth/password");
    CHECK(none.message ==
          R"(missing; set one of "password", "password_file", "password_env" or "password_hash")");

    // A hash can be checked against but never sent: the Patroni API's password cannot be one.
    const auto r = parse_config(R"({ "cluster": { "members": )" + default_members +
                                R"(, "api_auth": { "user": "patroni", "password_hash": ")" + sample_hash +
                                R"(" } }, "listeners": [ )" + default_listener + " ] }");
    CHECK(has_error(r, "/cluster/api_auth/password_hash", "unknown key"));
    CHECK(has_error(r, "/cluster/api_auth/password", "missing"));
}

TEST_CASE("the printed config (--print-config) has the key that gave the password, never its content",
          "[config][secrets][writer]")
{
    const temp_file file("file-secret\n");
    const scoped_env env("PATROXY_TEST_SQL_PASSWORD", "env-secret");
    const config c = parsed(R"({ "cluster": { "members": )" + default_members +
                            R"(, "api_auth": { "user": "patroni", "password_file": )" + json_string(file.path.string()) +
                            R"( } }, "health": { "sql_check": { "user": "monitor", "password_env": "PATROXY_TEST_SQL_PASSWORD" } },
                              "listeners": [ )" + default_listener +
                            R"( ], "stats": { "bind": "127.0.0.1:8404", "auth": { "user": "admin", "password_hash": ")" +
                            sample_hash + R"(" } } })");
    const std::string text = to_json_text(c);
    INFO(text);
    CHECK(text.find("file-secret") == std::string::npos);
    CHECK(text.find("env-secret") == std::string::npos);
    CHECK(text.find(R"("password_file": ")" + file.path.string() + "\"") != std::string::npos);
    CHECK(text.find(R"("password_env": "PATROXY_TEST_SQL_PASSWORD")") != std::string::npos);
    CHECK(text.find(R"("password_hash": ")" + sample_hash + "\"") != std::string::npos);
    const config back = parsed(text);
    CHECK(back == c);
    CHECK(to_json_text(back) == text);
}
