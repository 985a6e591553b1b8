// gzip: round trips of text and binary, every way a member can be broken, the output cap, and
// the Accept-Encoding rules (q=0 refuses, * stands for the codings not named).
#include "proxy/stats/gzip.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>

using patroxy::proxy::stats::accepts_gzip;
using patroxy::proxy::stats::gzip_compress;
using patroxy::proxy::stats::gzip_decompress;

namespace {

std::string stats_like_text(std::size_t bytes)
{
    std::string out;
    for (int row = 0; out.size() < bytes; ++row)
        out += "<tr><td>node" + std::to_string(row % 3 + 1) + "</td><td>UP</td><td>" + std::to_string(row) +
               "</td></tr>\n";
    out.resize(bytes);
    return out;
}

std::string random_bytes(std::size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    return out;
}

} // namespace

TEST_CASE("gzip round trips", "[stats][gzip]")
{
    const auto original = GENERATE(std::string(), std::string("x"), stats_like_text(1500), stats_like_text(300000),
                                   random_bytes(200000, 7));
    const auto packed = gzip_compress(original);
    REQUIRE(packed.has_value());
    REQUIRE(packed->size() >= 18); // header 10 + trailer 8
    CHECK(static_cast<unsigned char>((*packed)[0]) == 0x1f);
    CHECK(static_cast<unsigned char>((*packed)[1]) == 0x8b);
    CHECK(gzip_decompress(*packed, original.size()) == original);
}

TEST_CASE("gzip shrinks the stats page's kind of text", "[stats][gzip]")
{
    const auto text = stats_like_text(100000);
    const auto packed = gzip_compress(text);
    REQUIRE(packed.has_value());
    CHECK(packed->size() * 5 < text.size());
    for (int level : {1, 9}) {
        const auto at_level = gzip_compress(text, level);
        REQUIRE(at_level.has_value());
        CHECK(gzip_decompress(*at_level, text.size()) == text);
    }
}

TEST_CASE("gzip_decompress refuses what is not one complete, intact member", "[stats][gzip]")
{
    const auto text = stats_like_text(5000);
    const auto packed = *gzip_compress(text);

    CHECK_FALSE(gzip_decompress("", 1 << 20));
    CHECK_FALSE(gzip_decompress(text, 1 << 20)); // not gzip at all
    CHECK_FALSE(gzip_decompress(packed.substr(0, packed.size() - 1), 1 << 20));
    CHECK_FALSE(gzip_decompress(packed.substr(0, packed.size() / 2), 1 << 20));
    CHECK_FALSE(gzip_decompress(packed + "junk", 1 << 20));

    auto bad_crc = packed;
    bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 0x01);
    CHECK_FALSE(gzip_decompress(bad_crc, 1 << 20));

    CHECK(gzip_decompress(packed, text.size()) == text);
    CHECK_FALSE(gzip_decompress(packed, text.size() - 1)); // the cap holds, a zip bomb stops there
}

TEST_CASE("Accept-Encoding", "[stats][gzip]")
{
    CHECK(accepts_gzip("gzip"));
    CHECK(accepts_gzip("GZIP"));
    CHECK(accepts_gzip("x-gzip"));
    CHECK(accepts_gzip("gzip, deflate, br"));
    CHECK(accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
    CHECK(accepts_gzip("gzip; q=0.001"));
    CHECK(accepts_gzip("*"));
    CHECK(accepts_gzip("*;q=0, gzip"));
    CHECK(accepts_gzip("gzip;level=1;q=1"));

    CHECK_FALSE(accepts_gzip(""));
    CHECK_FALSE(accepts_gzip("identity"));
    CHECK_FALSE(accepts_gzip("deflate, br"));
    CHECK_FALSE(accepts_gzip("gzip;q=0"));
    CHECK_FALSE(accepts_gzip("gzip; Q=0.000"));
    CHECK_FALSE(accepts_gzip("gzip;level=1;q=0"));
    CHECK_FALSE(accepts_gzip("*;q=0"));
    CHECK_FALSE(accepts_gzip("*, gzip;q=0")); // named beats *
    CHECK_FALSE(accepts_gzip("gzipped"));
}
