// Decoding GET /patroni and GET /cluster: real Patroni 3.0.2 captures, the variants its source
// can emit (data/README.md), and bodies that must be refused with a reason naming the field.
#include "health/patroni/patroni_status.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

using namespace patroxy::health;

namespace {

std::string read_data(const std::string& name)
{
    std::ifstream in(std::string(PATROXY_TEST_DATA) + "/" + name);
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

patroni_status status_from(const std::string& file)
{
    auto r = decode_patroni_status(read_data(file));
    INFO(file << ": " << r.error);
    REQUIRE(r.error.empty());
    REQUIRE(r.value);
    return *r.value;
}

cluster_view cluster_from(const std::string& file)
{
    auto r = decode_cluster_view(read_data(file));
    INFO(file << ": " << r.error);
    REQUIRE(r.error.empty());
    REQUIRE(r.value);
    return *r.value;
}

std::string patroni_error(const std::string& body)
{
    const auto r = decode_patroni_status(body);
    CHECK_FALSE(r.value);
    return r.error;
}

std::string cluster_error(const std::string& body)
{
    const auto r = decode_cluster_view(body);
    CHECK_FALSE(r.value);
    return r.error;
}

} // namespace

TEST_CASE("the captured leader body decodes completely", "[health][patroni]")
{
    const auto s = status_from("patroni_leader.json");
    CHECK(s.state == "running");
    CHECK(s.role == pg_role::primary);
    CHECK(s.role_text == "master");
    CHECK(s.timeline == 1u);
    CHECK(s.xlog.location == 67309440u);
    CHECK_FALSE(s.xlog.replayed_location);
    CHECK_FALSE(s.xlog.received_location);
    REQUIRE(s.replication.size() == 2);
    CHECK(s.replication[0].application_name == "node2");
    CHECK(s.replication[0].state == "streaming");
    CHECK(s.replication[0].sync_state == "async");
    CHECK(s.replication[1].application_name == "node3");
    CHECK(s.server_version == 150018u);
    CHECK(s.dcs_last_seen == 1795318397u);
    CHECK(s.database_system_identifier == "7710831728323457699");
    CHECK(s.postmaster_start_time == "2026-11-22 03:25:16.162682+00:00");
    CHECK(s.patroni_version == "3.0.2");
    CHECK(s.scope == "demo");
    CHECK(s.tags == patroni_tags{});
    CHECK_FALSE(s.cluster_unlocked);
    CHECK_FALSE(s.pending_restart);
    CHECK_FALSE(s.pause);
    CHECK_FALSE(s.sync_standby);
}

TEST_CASE("the captured replica body decodes completely", "[health][patroni]")
{
    const auto s = status_from("patroni_replica.json");
    CHECK(s.role == pg_role::replica);
    CHECK(s.state == "running");
    CHECK(s.timeline == 1u);
    CHECK_FALSE(s.xlog.location);
    CHECK(s.xlog.received_location == 67309440u);
    CHECK(s.xlog.replayed_location == 67309440u);
    CHECK(s.xlog.paused == false);
    CHECK(s.replication.empty());
}

TEST_CASE("a member whose PostgreSQL is stopped sends the shrunk body", "[health][patroni]")
{
    const auto s = status_from("patroni_stopped.json");
    CHECK(s.state == "stopped");
    CHECK(s.role == pg_role::replica);
    CHECK_FALSE(s.timeline);
    CHECK_FALSE(s.xlog.location);
    CHECK_FALSE(s.xlog.replayed_location);
    CHECK_FALSE(s.server_version);
    CHECK(s.database_system_identifier == "7710831728323457699");
    CHECK_FALSE(s.cluster_unlocked);

    const auto u = status_from("patroni_stopped_unlocked.json");
    CHECK(u.role == pg_role::unknown);
    CHECK(u.role_text == "uninitialized");
    CHECK(u.cluster_unlocked);
    CHECK(u.database_system_identifier.empty());
}

TEST_CASE("a running replica while no leader key exists: cluster_unlocked, null timeline", "[health][patroni]")
{
    const auto s = status_from("patroni_replica_unlocked.json");
    CHECK(s.cluster_unlocked);
    CHECK(s.role == pg_role::replica);
    CHECK_FALSE(s.timeline); // null counts as absent
    CHECK(s.xlog.replayed_location == 67309440u);
}

TEST_CASE("standby leader, sync standby, leader with sync replication", "[health][patroni]")
{
    const auto standby = status_from("patroni_standby_leader.json");
    CHECK(standby.role == pg_role::standby_leader);
    CHECK(standby.xlog.received_location == 83886080u);
    CHECK(standby.xlog.replayed_location == 83885912u);

    const auto sync = status_from("patroni_sync_standby.json");
    CHECK(sync.sync_standby);
    CHECK(sync.role == pg_role::replica);

    const auto leader = status_from("patroni_leader_sync.json");
    REQUIRE(leader.replication.size() == 2);
    CHECK(leader.replication[0].sync_state == "sync");
    CHECK(leader.replication[1].sync_state == "potential");
    CHECK(leader.replication[1].state == "catchup");
    CHECK(leader.timeline == 2u);
}

TEST_CASE("pending restart, paused replay and tags of every kind", "[health][patroni]")
{
    const auto s = status_from("patroni_pending_restart.json");
    CHECK(s.pending_restart);
    CHECK(s.xlog.paused == true);
    CHECK(s.tags.nofailover);
    CHECK(s.tags.noloadbalance);
    CHECK(s.tags.clonefrom);
    CHECK(s.tags.nosync); // "yes" is truthy to Patroni's bool()
    CHECK(s.tags.all.at("zone") == "b");
    CHECK(s.tags.all.at("replicatefrom") == "node1");
    CHECK(s.tags.all.at("priority") == "3");
    CHECK(s.tags.all.at("nofailover") == "true");
    CHECK(s.tags.all.size() == 7);
}

TEST_CASE("maintenance mode is reported", "[health][patroni]")
{
    const auto s = status_from("patroni_paused.json");
    CHECK(s.pause);
    CHECK(s.role == pg_role::primary);
}

TEST_CASE("routing tags follow Python truthiness", "[health][patroni]")
{
    const auto tags_of = [](const std::string& tags) {
        const auto r = decode_patroni_status(R"({"state": "running", "role": "replica", "tags": )" + tags + "}");
        REQUIRE(r.value);
        return r.value->tags;
    };
    CHECK_FALSE(tags_of(R"({"noloadbalance": false})").noloadbalance);
    CHECK_FALSE(tags_of(R"({"noloadbalance": 0})").noloadbalance);
    CHECK_FALSE(tags_of(R"({"noloadbalance": ""})").noloadbalance);
    CHECK_FALSE(tags_of(R"({"noloadbalance": null})").noloadbalance);
    CHECK(tags_of(R"({"noloadbalance": 1})").noloadbalance);
    CHECK(tags_of(R"({"noloadbalance": "false"})").noloadbalance); // a non-empty string, as in Python
    CHECK(tags_of(R"({"nosync": true})").nosync);
    CHECK_FALSE(tags_of(R"({"nosync": true})").noloadbalance);
}

TEST_CASE("roles: master and primary are the same, anything unknown stays unknown", "[health][patroni]")
{
    CHECK(parse_pg_role("master") == pg_role::primary);
    CHECK(parse_pg_role("primary") == pg_role::primary);
    CHECK(parse_pg_role("replica") == pg_role::replica);
    CHECK(parse_pg_role("standby_leader") == pg_role::standby_leader);
    CHECK(parse_pg_role("demoted") == pg_role::unknown);
    CHECK(parse_pg_role("Master") == pg_role::unknown);
    CHECK(parse_dcs_role("leader") == dcs_role::leader);
    CHECK(parse_dcs_role("sync_standby") == dcs_role::sync_standby);
    CHECK(parse_dcs_role("standby_leader") == dcs_role::standby_leader);
    CHECK(parse_dcs_role("replica") == dcs_role::replica);
    CHECK(parse_dcs_role("quorum_standby") == dcs_role::unknown);
    CHECK(to_string(pg_role::primary) == "primary");
    CHECK(to_string(dcs_role::sync_standby) == "sync_standby");

    const auto r = decode_patroni_status(R"({"state": "running", "role": "primary"})");
    REQUIRE(r.value);
    CHECK(r.value->role == pg_role::primary);
    CHECK(r.value->role_text == "primary");
}

TEST_CASE("the captured /cluster body decodes completely", "[health][patroni]")
{
    const auto c = cluster_from("cluster.json");
    REQUIRE(c.members.size() == 3);
    const auto& leader = c.members[0];
    CHECK(leader.name == "node1");
    CHECK(leader.role == dcs_role::leader);
    CHECK(leader.state == "running");
    CHECK(leader.api_url == "http://127.0.0.1:8441/patroni");
    CHECK(leader.host == "127.0.0.1");
    CHECK(leader.port == 5441);
    CHECK(leader.timeline == 1u);
    CHECK_FALSE(leader.lag); // the leader has no lag field
    CHECK(c.members[1].role == dcs_role::replica);
    CHECK(c.members[1].lag == 0u);
    CHECK(c.members[2].port == 5443);
    CHECK_FALSE(c.pause);
    REQUIRE(c.leader() != nullptr);
    CHECK(c.leader()->name == "node1");
    REQUIRE(c.find("node3") != nullptr);
    CHECK(c.find("node3")->port == 5443);
    CHECK(c.find("node4") == nullptr);
}

TEST_CASE("/cluster variants: sync standby, unknown lag, tags, pause, no leader, standby cluster", "[health][patroni]")
{
    const auto c = cluster_from("cluster_variants.json");
    REQUIRE(c.members.size() == 3);
    CHECK(c.pause);
    CHECK(c.members[1].role == dcs_role::sync_standby);
    CHECK(c.members[1].lag == 128u);
    const auto& stopped = c.members[2];
    CHECK(stopped.state == "stopped");
    CHECK_FALSE(stopped.lag); // "unknown"
    CHECK(stopped.pending_restart);
    CHECK(stopped.tags.noloadbalance);
    CHECK(stopped.tags.all.at("zone") == "b");
    CHECK_FALSE(stopped.timeline);

    const auto unlocked = cluster_from("cluster_unlocked.json");
    CHECK(unlocked.members.size() == 2);
    CHECK(unlocked.leader() == nullptr);

    const auto standby = cluster_from("cluster_standby.json");
    REQUIRE(standby.leader() != nullptr);
    CHECK(standby.leader()->role == dcs_role::standby_leader);
    CHECK(standby.members[1].lag == 168u);
}

TEST_CASE("two lock holders in one /cluster view give no leader", "[health][patroni]")
{
    const auto r = decode_cluster_view(
        R"({"members": [{"name": "a", "role": "leader"}, {"name": "b", "role": "leader"}]})");
    REQUIRE(r.value);
    CHECK(r.value->leader() == nullptr);
}

TEST_CASE("bodies that are not JSON or not objects are refused", "[health][patroni]")
{
    CHECK(patroni_error("").starts_with("not JSON: "));
    CHECK(patroni_error("<html>502 Bad Gateway</html>").starts_with("not JSON: parse error"));
    CHECK(patroni_error(R"({"state": "running", "role": )").starts_with("not JSON: "));
    CHECK(patroni_error("[1, 2]") == "not a JSON object");
    CHECK(cluster_error("\"members\"") == "not a JSON object");
    CHECK(cluster_error("{\"members\": [}").starts_with("not JSON: "));
}

TEST_CASE("/patroni fields of the wrong type are named in the error", "[health][patroni]")
{
    const std::string head = R"({"state": "running", "role": "replica", )";
    CHECK(patroni_error(R"({"role": "replica"})") == "field 'state' is missing");
    CHECK(patroni_error(R"({"state": "running"})") == "field 'role' is missing");
    CHECK(patroni_error(R"({"state": 1, "role": "replica"})") == "field 'state' is not a string");
    CHECK(patroni_error(head + R"("timeline": "1"})") == "field 'timeline' is not an integer");
    CHECK(patroni_error(head + R"("timeline": 1.5})") == "field 'timeline' is not an integer");
    CHECK(patroni_error(head + R"("timeline": -1})") == "field 'timeline' is negative");
    CHECK(patroni_error(head + R"("server_version": 99999999999})") == "field 'server_version' is out of range");
    CHECK(patroni_error(head + R"("xlog": 5})") == "field 'xlog' is not an object");
    CHECK(patroni_error(head + R"("xlog": {"replayed_location": "0/4000000"}})") ==
          "field 'xlog.replayed_location' is not an integer");
    CHECK(patroni_error(head + R"("xlog": {"paused": "no"}})") == "field 'xlog.paused' is not a boolean");
    CHECK(patroni_error(head + R"("pending_restart": 1})") == "field 'pending_restart' is not a boolean");
    CHECK(patroni_error(head + R"("tags": []})") == "field 'tags' is not an object");
    CHECK(patroni_error(head + R"("replication": {}})") == "field 'replication' is not an array");
    CHECK(patroni_error(head + R"("replication": [{"state": "streaming"}, 3]})") ==
          "field 'replication[1]' is not an object");
    CHECK(patroni_error(head + R"("replication": [{"sync_state": 0}]})") ==
          "field 'replication[0].sync_state' is not a string");
    CHECK(patroni_error(head + R"("patroni": {"version": 3}})") == "field 'patroni.version' is not a string");
}

TEST_CASE("unknown fields and nulls are tolerated", "[health][patroni]")
{
    const auto r = decode_patroni_status(
        R"({"state": "running", "role": "replica", "future_field": {"x": [1]}, "timeline": null,
            "xlog": {"received_location": null, "replayed_location": 5, "replayed_timestamp": null},
            "replication": [{"application_name": "n2", "client_addr": null, "state": null}]})");
    REQUIRE(r.value);
    CHECK(r.error.empty());
    CHECK_FALSE(r.value->timeline);
    CHECK_FALSE(r.value->xlog.received_location);
    CHECK(r.value->xlog.replayed_location == 5u);
    REQUIRE(r.value->replication.size() == 1);
    CHECK(r.value->replication[0].state.empty());
}

TEST_CASE("/cluster fields of the wrong type are named in the error", "[health][patroni]")
{
    CHECK(cluster_error("{}") == "field 'members' is missing");
    CHECK(cluster_error(R"({"members": {}})") == "field 'members' is not an array");
    CHECK(cluster_error(R"({"members": ["node1"]})") == "field 'members[0]' is not an object");
    CHECK(cluster_error(R"({"members": [{"role": "leader"}]})") == "field 'members[0].name' is missing");
    CHECK(cluster_error(R"({"members": [{"name": "a", "role": "leader"}, {"name": "b", "role": "replica", "lag": "big"}]})") ==
          "field 'members[1].lag' is neither a byte count nor \"unknown\"");
    CHECK(cluster_error(R"({"members": [{"name": "a", "role": "replica", "lag": -5}]})") ==
          "field 'members[0].lag' is negative");
    CHECK(cluster_error(R"({"members": [{"name": "a", "role": "replica", "port": 70000}]})") ==
          "field 'members[0].port' is out of range");
    CHECK(cluster_error(R"({"members": [{"name": "a", "role": "replica", "tags": "x"}]})") ==
          "field 'members[0].tags' is not an object");
    CHECK(cluster_error(R"({"members": [], "pause": "yes"})") == "field 'pause' is not a boolean");
}

TEST_CASE("decoding never throws, whatever the bytes", "[health][patroni]")
{
    const std::string body = read_data("patroni_leader.json");
    // Every prefix of a real body: truncated answers must become errors, not exceptions.
    for (std::size_t n = 0; n < body.size(); n += 7) {
        CHECK_NOTHROW(decode_patroni_status(body.substr(0, n)));
        CHECK_NOTHROW(decode_cluster_view(body.substr(0, n)));
    }
    CHECK_FALSE(decode_patroni_status(std::string("{\"state\": \"\xff\", \"role\": \"x\"}")).value);
    CHECK_FALSE(decode_patroni_status(std::string(100000, '[')).value);
}

TEST_CASE("hostile bodies: deep nesting and huge numbers are refused, never a crash", "[patroni][hostile]")
{
    // Found by fuzzing (issue 18): a tag nested 100,000 arrays deep (200 kB, under the poller's
    // 1 MiB cap) overflowed the stack in nlohmann's dump() reached from the tag text.
    const std::string deep = R"({"state": "running", "role": "replica", "tags": {"x": )" + std::string(100000, '[') +
                             std::string(100000, ']') + "}}";
    const auto status = decode_patroni_status(deep);
    CHECK_FALSE(status.value);
    CHECK(status.error == "not a Patroni answer: JSON nested deeper than 64 levels");
    const auto cluster = decode_cluster_view(R"({"members": )" + std::string(100000, '[') + std::string(100000, ']') + "}");
    CHECK_FALSE(cluster.value);
    CHECK(cluster.error == "not a Patroni answer: JSON nested deeper than 64 levels");

    // Moderate nesting in a tag value is still a Patroni answer.
    const auto nested_tag = decode_patroni_status(
        R"({"state": "running", "role": "replica", "server_version": 150000, "xlog": {"received_location": 1, "replayed_location": 1},
            "timeline": 1, "tags": {"x": [[["a"]]]}})");
    INFO(nested_tag.error);
    CHECK(nested_tag.value);

    // A number beyond a double is a plain decoding error, not an escaped exception.
    const auto huge = decode_patroni_status(R"({"state": "running", "role": "replica", "timeline": 1e400})");
    CHECK_FALSE(huge.value);
    CHECK(huge.error.starts_with("not JSON: number overflow"));
}
