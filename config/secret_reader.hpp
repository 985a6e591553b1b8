// Passwords in the config: given inline, read from a file or an environment variable, or (for
// what patroxy only checks, never sends) kept as a crypt(3) SHA-512 hash. Internal to config/.
#pragma once

#include "config/json_reader.hpp"

#include <string>
#include <string_view>

namespace patroxy::config::detail {

/// Where one password's keys put what they read.
struct password_target {
    std::string& password;
    secret_origin& origin;
    /// Where "password_hash" goes; null where a hash cannot serve (a password patroxy sends).
    std::string* hash = nullptr;
};

/// Reads the password of `obj` from exactly one of "password", "password_file", "password_env"
/// and, when `target.hash` is set, "password_hash". `required`: none of them is an error too.
/// Errors name the file or the variable, never what it holds.
void read_password(object_reader& obj, const password_target& target, bool required);

/// Whether `text` is a crypt(3) SHA-512 hash as glibc and libxcrypt write it:
/// "$6$", optionally "rounds=N$" (1000..999999999), a salt of 1-16 characters of [./0-9A-Za-z],
/// "$", and 86 characters of that alphabet.
[[nodiscard]] bool is_sha512_crypt(std::string_view text) noexcept;

} // namespace patroxy::config::detail
