// Password keys: one source per password, resolved while the config is read so that a missing
// file or variable is an error of `patroxy -c` and of a reload, not of the first login.
#include "config/secret_reader.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace patroxy::config::detail {
namespace {

/// Secret files are small; a bigger one is a wrong path (a log, a binary), not a password.
constexpr std::size_t max_secret_file = 4096;

bool crypt_alphabet(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '/';
}

/// Drops one trailing "\n" or "\r\n": what `echo secret > file` and editors leave.
std::string without_final_newline(std::string text)
{
    if (text.ends_with('\n')) text.pop_back();
    if (text.ends_with('\r')) text.pop_back();
    return text;
}

std::optional<std::string> read_password_file(const std::string& name, const std::string& path, diagnostics& d)
{
    std::ifstream in(name, std::ios::binary);
    if (!in) {
        d.error(path, "cannot read password file '" + name + "': " + std::strerror(errno));
        return std::nullopt;
    }
    std::string text(max_secret_file + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (in.bad()) {
        d.error(path, "cannot read password file '" + name + "': " + std::strerror(errno));
        return std::nullopt;
    }
    if (text.size() > max_secret_file) {
        d.error(path, "password file '" + name + "' is longer than 4096 bytes; expected the password alone");
        return std::nullopt;
    }
    text = without_final_newline(std::move(text));
    if (text.empty()) {
        d.error(path, "password file '" + name + "' is empty");
        return std::nullopt;
    }
    return text;
}

std::optional<std::string> read_password_env(const std::string& name, const std::string& path, diagnostics& d)
{
    const char* text = std::getenv(name.c_str());
    if (text == nullptr) {
        d.error(path, "environment variable " + name + " is not set");
        return std::nullopt;
    }
    if (*text == '\0') {
        d.error(path, "environment variable " + name + " is empty");
        return std::nullopt;
    }
    return std::string(text);
}

std::optional<std::string> read_password_hash(const json& value, const std::string& path, diagnostics& d)
{
    const auto hash = read_string(value, path, d);
    if (!hash) return std::nullopt;
    if (!is_sha512_crypt(*hash)) {
        // The value may be a password pasted into the wrong key: never echo it.
        d.error(path, "expected a crypt(3) SHA-512 hash: \"$6$<salt>$<86 characters>\", as `openssl passwd -6` "
                      "or `mkpasswd -m sha-512` print it");
        return std::nullopt;
    }
    return hash;
}

} // namespace

bool is_sha512_crypt(std::string_view text) noexcept
{
    constexpr std::string_view prefix = "$6$";
    constexpr std::string_view rounds = "rounds=";
    if (!text.starts_with(prefix)) return false;
    text.remove_prefix(prefix.size());
    if (text.starts_with(rounds)) {
        text.remove_prefix(rounds.size());
        const auto end = text.find('$');
        if (end == 0 || end == std::string_view::npos || end > 9 || text[0] == '0') return false;
        unsigned long n = 0;
        for (const char c : text.substr(0, end)) {
            if (c < '0' || c > '9') return false;
            n = n * 10 + static_cast<unsigned long>(c - '0');
        }
        if (n < 1000) return false;
        text.remove_prefix(end + 1);
    }
    const auto salt_end = text.find('$');
    if (salt_end == 0 || salt_end == std::string_view::npos || salt_end > 16) return false;
    for (const char c : text.substr(0, salt_end))
        if (!crypt_alphabet(c)) return false;
    text.remove_prefix(salt_end + 1);
    if (text.size() != 86) return false;
    for (const char c : text)
        if (!crypt_alphabet(c)) return false;
    return true;
}

void read_password(object_reader& obj, const password_target& target, bool required)
{
    std::vector<std::string_view> given;
    for (const std::string_view key : {"password", "password_file", "password_env", "password_hash"}) {
        if (key == "password_hash" && target.hash == nullptr) continue;
        if (obj.has(key)) given.push_back(key);
    }
    if (given.size() > 1) {
        obj.diag().error(obj.path_of(given[1]), "give the password once: \"" + std::string(given[0]) + "\" is set too");
        return;
    }
    if (given.empty()) {
        if (required) {
            const std::string keys = target.hash ? "\"password\", \"password_file\", \"password_env\" or \"password_hash\""
                                                 : "\"password\", \"password_file\" or \"password_env\"";
            obj.diag().error(obj.path_of("password"), "missing; set one of " + keys);
        }
        return;
    }
    const std::string_view key = given[0];
    if (key == "password") {
        obj.get(key, target.password, read_string);
        target.origin = {};
    } else if (key == "password_hash") {
        obj.get(key, *target.hash, read_password_hash);
    } else {
        // The name first (a string), then what it holds; an error names the one that failed.
        const bool file = key == "password_file";
        std::string name;
        obj.get(key, name, read_string);
        if (name.empty()) return;
        const auto read = file ? read_password_file : read_password_env;
        if (auto text = read(name, obj.path_of(key), obj.diag())) target.password = std::move(*text);
        target.origin = {file ? secret_origin::kind::file : secret_origin::kind::env, std::move(name)};
    }
}

} // namespace patroxy::config::detail
