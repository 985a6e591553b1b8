// HTTP Basic authentication for the stats listener (RFC 7617): decoding the Authorization field
// and checking it against the configured user and password without leaking, through timing,
// how much of a guess was right.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace patroxy::proxy::stats {

/// The user and password the stats listener asks for (config "stats.auth").
struct basic_credentials {
    std::string user;
    std::string password;
    /// A crypt(3) hash (stats.auth.password_hash, "$6$..."): when set, the password given is
    /// checked against it and `password` is unused.
    std::string password_hash{};
};

/// The realm a 401 names when the owner sets none.
inline constexpr std::string_view default_realm = "patroxy stats";

/// The WWW-Authenticate value of a 401 for `realm` (config stats.realm; HAProxy's `stats realm`):
/// `Basic realm="<realm>"`, with '"' and '\' escaped and control characters dropped, so any
/// configured text gives a well-formed header (RFC 7235 quoted-string).
[[nodiscard]] std::string basic_challenge(std::string_view realm = default_realm);

/// Decodes standard base64 (RFC 4648 section 4). Padding may be left out, but a character outside
/// the alphabet, a '=' anywhere but at the end, or a length no encoder produces gives nullopt.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

/// The credentials of an Authorization field value "Basic <base64 of user:password>" (scheme
/// case-insensitive); nullopt for another scheme, invalid base64, or no ':' after the user.
[[nodiscard]] std::optional<basic_credentials> parse_basic_authorization(std::string_view field_value);

/// Equality whose running time depends only on the length of `given` (what the client sent),
/// never on where it first differs from `expected` or on `expected`'s length.
[[nodiscard]] bool constant_time_equal(std::string_view given, std::string_view expected) noexcept;

/// Whether crypt(3) of `password` with `hash` as its setting (method, rounds, salt) gives `hash`
/// back; the two hashes are compared in constant time. False for a hash libcrypt refuses and for
/// a password holding a NUL byte, which crypt(3) would cut short. Costs what the hash's rounds
/// cost (milliseconds for SHA-512's default 5000), right or wrong.
[[nodiscard]] bool crypt_matches(std::string_view password, const std::string& hash);

/// The Authorization field value names `expected`'s user with `expected`'s password (or one
/// matching its password_hash). Both are compared in full, so a right user with a wrong password
/// takes as long as a wrong user.
[[nodiscard]] bool basic_authorized(std::string_view field_value, const basic_credentials& expected);

} // namespace patroxy::proxy::stats
