// parse_http_url: the Patroni `api` / `api_url` shapes patroxy meets, and what it must refuse.
#include "health/http/http_client.hpp"

#include <catch2/catch.hpp>

#include <string>

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
                            example{"http://node1:65535/a/b", {"node1", 65535, "/a/b"}});
    CAPTURE(e.url);
    const auto parsed = parse_http_url(e.url);
    REQUIRE(parsed);
    CHECK(parsed->host == e.expected.host);
    CHECK(parsed->port == e.expected.port);
    CHECK(parsed->target == e.expected.target);
}

TEST_CASE("what is not a plain http URL gives nullopt", "[health][http][url]")
{
    const std::string url = GENERATE(as<std::string>{},
                                     "",
                                     "node1:8008",
                                     "https://node1:8008/patroni",
                                     "ftp://node1:8008",
                                     "http:/node1:8008",
                                     "http://",
                                     "http://:8008/patroni",
                                     "http://node1:",
                                     "http://node1:0",
                                     "http://node1:65536",
                                     "http://node1:123456",
                                     "http://node1:80a",
                                     "http://node1:-1",
                                     "http://user:pw@node1:8008",
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
