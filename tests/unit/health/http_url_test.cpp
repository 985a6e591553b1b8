// parse_http_url: the Patroni `api` / `api_url` shapes patroxy meets (http and https, with user
// info), and what it must refuse; basic_authorization's header value.
#include "health/http/http_client.hpp"

#include <catch2/catch.hpp>

#include <string>

using patroxy::health::basic_authorization;
using patroxy::health::http_url;
using patroxy::health::parse_http_url;

TEST_CASE("Patroni api and api_url forms parse", "[health][http][url]")
{
    struct example {
        std::string url;
        http_url expected;
    };
    const auto e = GENERATE(example{"http://127.0.0.1:8441/patroni", {"127.0.0.1", 8441, "/patroni"}},
                            example{"http://10.0.1.10:8008", {"10.0.1.10", 8008, "/"}},
                            example{"http://node1:8008/", {"node1", 8008, "/"}},
                            example{"HTTP://Node1.example:8008/patroni", {"Node1.example", 8008, "/patroni"}},
                            example{"http://[::1]:8008/patroni", {"::1", 8008, "/patroni"}},
                            example{"http://[fe80::1]", {"fe80::1", 80, "/"}},
                            example{"http://node1", {"node1", 80, "/"}},
                            example{"http://node1:8008?lag=1MB", {"node1", 8008, "/?lag=1MB"}},
                            example{"http://node1:8008/replica?lag=1MB#x", {"node1", 8008, "/replica?lag=1MB"}},
                            example{"http://node1:65535/a/b", {"node1", 65535, "/a/b"}},
                            example{"https://10.0.1.10:8008/patroni", {"10.0.1.10", 8008, "/patroni", true}},
                            example{"HTTPS://node1", {"node1", 443, "/", true}},
                            example{"https://[::1]:8443", {"::1", 8443, "/", true}});
    CAPTURE(e.url);
    const auto parsed = parse_http_url(e.url);
    REQUIRE(parsed);
    CHECK(parsed->host == e.expected.host);
    CHECK(parsed->port == e.expected.port);
    CHECK(parsed->target == e.expected.target);
    CHECK(parsed->https == e.expected.https);
    CHECK_FALSE(parsed->credentials);
}

TEST_CASE("user info in an api URL becomes the member's basic auth credentials", "[health][http][url]")
{
    struct example {
        std::string url;
        std::string user;
        std::string password;
        std::string host;
    };
    const auto e = GENERATE(example{"https://patroni:secret@node1:8008/patroni", "patroni", "secret", "node1"},
                            example{"http://patroni@node1:8008", "patroni", "", "node1"},
                            example{"https://patroni:@10.0.1.10", "patroni", "", "10.0.1.10"},
                            // RFC 3986 escapes, and a careless '@' in the password: the last '@' ends it.
                            example{"https://pa%74roni:p%40ss%3Aw%25rd@node1:8008", "patroni", "p@ss:w%rd", "node1"},
                            example{"https://patroni:p@ss@[::1]:8008", "patroni", "p@ss", "::1"});
    CAPTURE(e.url);
    const auto parsed = parse_http_url(e.url);
    REQUIRE(parsed);
    REQUIRE(parsed->credentials);
    CHECK(parsed->credentials->user == e.user);
    CHECK(parsed->credentials->password == e.password);
    CHECK(parsed->host == e.host);
}

TEST_CASE("basic_authorization encodes user:password in base64 (RFC 7617)", "[health][http]")
{
    CHECK(basic_authorization({"Aladdin", "open sesame"}) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(basic_authorization({"patroni", "secret"}) == "Basic cGF0cm9uaTpzZWNyZXQ=");
    CHECK(basic_authorization({"a", ""}) == "Basic YTo=");
    CHECK(basic_authorization({"", ""}) == "Basic Og==");
}

TEST_CASE("what is not an http(s) URL gives nullopt", "[health][http][url]")
{
    const std::string url = GENERATE(as<std::string>{},
                                     "",
                                     "node1:8008",
                                     "ftp://node1:8008",
                                     "https:/node1:8008",
                                     "https://",
                                     "https://node1:0",
                                     "http:/node1:8008",
                                     "http://",
                                     "http://:8008/patroni",
                                     "http://node1:",
                                     "http://node1:0",
                                     "http://node1:65536",
                                     "http://node1:123456",
                                     "http://node1:80a",
                                     "http://node1:-1",
                                     "http://user:pw@:8008",
                                     "http://user:p%4@node1:8008",
                                     "http://user:p%zz@node1:8008",
                                     "http://us%@node1:8008",
                                     "http://[::1:8008",
                                     "http://[::1]x:8008",
                                     "http://[not-v6]:8008",
                                     "http://::1:8008",
                                     "http://node 1:8008",
                                     "http://node1:8008/a b",
                                     "http://node1:8008/a\r\nX-Injected: 1");
    CAPTURE(url);
    CHECK_FALSE(parse_http_url(url));
}
