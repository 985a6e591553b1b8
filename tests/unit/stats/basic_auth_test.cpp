// Basic authentication: base64 against RFC 4648's vectors and every kind of broken input, the
// Authorization field's shape, and the constant-time comparison's answers.
#include "proxy/stats/basic_auth.hpp"

#include <catch2/catch.hpp>

#include <crypt.h>

#include <random>
#include <string>

using patroxy::proxy::stats::base64_decode;
using patroxy::proxy::stats::basic_challenge;
using patroxy::proxy::stats::basic_authorized;
using patroxy::proxy::stats::basic_credentials;
using patroxy::proxy::stats::constant_time_equal;
using patroxy::proxy::stats::crypt_matches;
using patroxy::proxy::stats::parse_basic_authorization;

TEST_CASE("base64: RFC 4648 test vectors, padded and not", "[stats][auth]")
{
    CHECK(base64_decode("") == "");
    CHECK(base64_decode("Zg==") == "f");
    CHECK(base64_decode("Zm8=") == "fo");
    CHECK(base64_decode("Zm9v") == "foo");
    CHECK(base64_decode("Zm9vYg==") == "foob");
    CHECK(base64_decode("Zm9vYmE=") == "fooba");
    CHECK(base64_decode("Zm9vYmFy") == "foobar");
    CHECK(base64_decode("Zg") == "f");
    CHECK(base64_decode("Zm8") == "fo");
    CHECK(base64_decode("AAD/") == std::string("\x00\x00\xff", 3));
    CHECK(base64_decode("+/+/") == std::string("\xfb\xff\xbf", 3));
}

TEST_CASE("base64: invalid input gives nullopt", "[stats][auth]")
{
    const auto bad = GENERATE(as<std::string>{}, "Z", "Zm9vY", "Zg=", "Zg===", "=Zg=", "Zm=v", "Zg==Zg==", "Zm 9v",
                              "Zm9v\n", "Zm9v!", "Zm-_", "====", std::string("Zm\0v", 4), "Zm\xc3\xa9v");
    CAPTURE(bad);
    CHECK_FALSE(base64_decode(bad).has_value());
}

TEST_CASE("base64: any input of the alphabet decodes to 6 bits a character, any byte is safe", "[stats][auth]")
{
    std::mt19937 rng(20240605);
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int round = 0; round < 500; ++round) {
        const auto length = std::uniform_int_distribution<std::size_t>(0, 40)(rng);
        std::string text;
        std::string noise;
        for (std::size_t i = 0; i < length; ++i) {
            text.push_back(alphabet[std::uniform_int_distribution<std::size_t>(0, 63)(rng)]);
            noise.push_back(static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng)));
        }
        CAPTURE(text);
        const auto decoded = base64_decode(text);
        if (length % 4 == 1) {
            CHECK_FALSE(decoded.has_value());
        } else {
            REQUIRE(decoded.has_value());
            CHECK(decoded->size() == length * 6 / 8);
        }
        (void)base64_decode(noise); // must neither crash nor read out of bounds (ASan)
    }
}

TEST_CASE("the Authorization field", "[stats][auth]")
{
    auto c = parse_basic_authorization("Basic YWRtaW46c2VjcmV0"); // admin:secret
    REQUIRE(c.has_value());
    CHECK(c->user == "admin");
    CHECK(c->password == "secret");

    c = parse_basic_authorization("basic   YWRtaW46c2U6Y3JldA=="); // admin:se:cret, scheme in any case
    REQUIRE(c.has_value());
    CHECK(c->user == "admin");
    CHECK(c->password == "se:cret");

    c = parse_basic_authorization("BASIC YWRtaW46"); // admin: (empty password)
    REQUIRE(c.has_value());
    CHECK(c->password.empty());

    CHECK_FALSE(parse_basic_authorization(""));
    CHECK_FALSE(parse_basic_authorization("Basic"));
    CHECK_FALSE(parse_basic_authorization("Basic "));
    CHECK_FALSE(parse_basic_authorization("Bearer YWRtaW46c2VjcmV0"));
    CHECK_FALSE(parse_basic_authorization("BasicYWRtaW46c2VjcmV0"));
    CHECK_FALSE(parse_basic_authorization("Basic YWRtaW4=")); // "admin": no colon
    CHECK_FALSE(parse_basic_authorization("Basic YWRtaW46c2VjcmV0!"));
}

TEST_CASE("constant-time equality", "[stats][auth]")
{
    CHECK(constant_time_equal("", ""));
    CHECK(constant_time_equal("secret", "secret"));
    CHECK_FALSE(constant_time_equal("secreT", "secret"));
    CHECK_FALSE(constant_time_equal("secret", "secret2"));
    CHECK_FALSE(constant_time_equal("secret2", "secret"));
    CHECK_FALSE(constant_time_equal("", "secret"));
    CHECK_FALSE(constant_time_equal("secret", ""));
    CHECK_FALSE(constant_time_equal("secretsecret", "secret")); // the cyclic read must not fool it
    CHECK_FALSE(constant_time_equal(std::string("\0", 1), ""));
}

TEST_CASE("basic_authorized checks user and password", "[stats][auth]")
{
    const basic_credentials expected{"admin", "secret"};
    CHECK(basic_authorized("Basic YWRtaW46c2VjcmV0", expected));
    CHECK_FALSE(basic_authorized("Basic YWRtaW46d3Jvbmc=", expected)); // admin:wrong
    CHECK_FALSE(basic_authorized("Basic cm9vdDpzZWNyZXQ=", expected)); // root:secret
    CHECK_FALSE(basic_authorized("Basic YWRtaW46c2VjcmV0MQ==", expected)); // admin:secret1
    CHECK_FALSE(basic_authorized("Basic !!!!", expected));
    CHECK_FALSE(basic_authorized("", expected));
}

namespace {

// `openssl passwd -6 -salt saltsalt 'correct horse'`: made by another implementation than the one checking it.
const std::string openssl_hash =
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0";

/// A SHA-512 crypt hash of `password` with a fresh salt, as `mkpasswd -m sha-512` makes one.
std::string sha512_crypt(const std::string& password, unsigned long rounds = 0)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    REQUIRE(::crypt_gensalt_rn("$6$", rounds, nullptr, 0, setting, sizeof setting) != nullptr);
    crypt_data data{};
    const char* hash = ::crypt_rn(password.c_str(), setting, &data, sizeof data);
    REQUIRE(hash != nullptr);
    return hash;
}

} // namespace

TEST_CASE("crypt_matches: a SHA-512 crypt hash accepts its password and nothing else", "[stats][auth]")
{
    CHECK(crypt_matches("correct horse", openssl_hash));
    CHECK_FALSE(crypt_matches("correct horsE", openssl_hash));
    CHECK_FALSE(crypt_matches("correct horse ", openssl_hash));
    CHECK_FALSE(crypt_matches("", openssl_hash));
    // crypt(3) reads a C string: what follows a NUL must not be ignored into a match.
    CHECK_FALSE(crypt_matches(std::string("correct horse\0anything", 22), openssl_hash));

    std::mt19937 rng(18);
    for (int i = 0; i < 5; ++i) {
        std::string password(1 + rng() % 40, ' ');
        for (char& c : password) c = static_cast<char>(0x20 + rng() % 95);
        const std::string hash = sha512_crypt(password, i == 0 ? 1000 : 0);
        INFO(password << " " << hash);
        CHECK(crypt_matches(password, hash));
        CHECK_FALSE(crypt_matches(password + "x", hash));
    }
}

TEST_CASE("crypt_matches: a hash libcrypt refuses matches nothing", "[stats][auth]")
{
    for (const std::string bad : {"", "*", "*0", "$6$", "$6$salt", "$x$abc$def", "hunter2"}) {
        INFO(bad);
        CHECK_FALSE(crypt_matches("hunter2", bad));
        CHECK_FALSE(crypt_matches("", bad));
    }
}

TEST_CASE("basic_authorized checks a password against password_hash when one is set", "[stats][auth]")
{
    const basic_credentials expected{"admin", "", openssl_hash};
    CHECK(basic_authorized("Basic YWRtaW46Y29ycmVjdCBob3JzZQ==", expected));       // admin:correct horse
    CHECK_FALSE(basic_authorized("Basic cm9vdDpjb3JyZWN0IGhvcnNl", expected));     // root:correct horse
    CHECK_FALSE(basic_authorized("Basic YWRtaW46", expected));                     // admin: (the unused password field)
    CHECK_FALSE(basic_authorized("Basic YWRtaW46" + std::string("JDYkc2FsdHNhbHQk"), expected)); // admin:$6$saltsalt$
}

TEST_CASE("the 401 challenge names the configured realm, quoted safely", "[stats][auth]")
{
    CHECK(basic_challenge() == "Basic realm=\"patroxy stats\"");
    CHECK(basic_challenge("HAProxy Statistics") == "Basic realm=\"HAProxy Statistics\"");
    CHECK(basic_challenge(R"(a "quoted" \ realm)") == R"(Basic realm="a \"quoted\" \\ realm")");
    CHECK(basic_challenge("split\r\nSet-Cookie: x") == "Basic realm=\"splitSet-Cookie: x\""); // no header injection
}
