// conf/diff.h: what a reload changes, in words.
#include "conf/diff.h"

#include <catch2/catch.hpp>

#include "conf/parse.h"

using namespace parkway::conf;

namespace {

Config config_of(const std::string& toml) {
  LoadResult r = load_string(toml, "test.toml");
  INFO(format(r.diagnostics));
  REQUIRE(r.ok());
  return *r.config;
}

std::vector<std::string> lines(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) out.push_back(c.text);
  return out;
}

const std::string base = R"(
[runtime]
log_level = "info"

[[listener]]
name = "app"
address = "127.0.0.1:7000"
cluster = "db"

[[listener]]
name = "old"
address = "127.0.0.1:7001"
cluster = "db"

[[cluster]]
name = "db"
endpoints = ["10.0.0.5:5432", "10.0.0.7:5432"]
)";

}  // namespace

TEST_CASE("diff: the same config has no changes", "[conf][diff]") {
  CHECK(diff(config_of(base), config_of(base)).empty());
}

TEST_CASE("diff: each change in words, in the order of the tables", "[conf][diff]") {
  const std::string next = R"(
[runtime]
log_level = "debug"

[[listener]]
name = "app"
address = "127.0.0.1:7000"
cluster = "db"
max_connections = 20000

[[listener]]
name = "new"
address = "127.0.0.1:7002"
cluster = "db"

[[cluster]]
name = "db"
endpoints = [{ address = "10.0.0.5:5432", weight = 3 }, "10.0.0.9:5432"]
connect_timeout = "2s"

[cluster.health_check]
interval = "5s"
)";
  const auto changes = diff(config_of(base), config_of(next));
  CHECK(lines(changes) ==
        std::vector<std::string>{
            "runtime: log_level info -> debug",
            "listener \"app\": max_connections 10000 -> 20000",
            "listener \"new\": added (127.0.0.1:7002 -> cluster \"db\")",
            "listener \"old\": removed (127.0.0.1:7001)",
            "cluster \"db\": endpoint 10.0.0.5:5432 weight 1 -> 3",
            "cluster \"db\": endpoint 10.0.0.9:5432 added",
            "cluster \"db\": endpoint 10.0.0.7:5432 removed",
            "cluster \"db\": connect_timeout 5s -> 2s",
            "cluster \"db\": health_check added (interval 5s, timeout 1s, rise 2, fall 3, jitter "
            "10, port 0, match prefix)",
        });
  // The endpoint removed is named for the server, which says how many connections drain.
  const auto removed = std::find_if(changes.begin(), changes.end(),
                                    [](const Change& c) { return !c.removed_endpoint.empty(); });
  REQUIRE(removed != changes.end());
  CHECK(removed->cluster == "db");
  CHECK(removed->removed_endpoint == "10.0.0.7:5432");
}

TEST_CASE("diff: sub-table keys, removal, and a backup", "[conf][diff]") {
  const std::string with_check = base + "\n[cluster.health_check]\ninterval = \"2s\"\n";
  const std::string changed =
      base +
      "\n[cluster.health_check]\ninterval = \"3s\"\nsend = \"PING\\r\\n\"\nexpect = "
      "\"+PONG\"\n\n[cluster.outlier]\nconsecutive_failures = 7\n";
  CHECK(lines(diff(config_of(with_check), config_of(changed))) ==
        std::vector<std::string>{
            "cluster \"db\": health_check.interval 2s -> 3s",
            "cluster \"db\": health_check.send \"\" -> \"PING\\r\\n\"",
            "cluster \"db\": health_check.expect \"\" -> +PONG",
            "cluster \"db\": outlier.consecutive_failures 5 -> 7",
        });
  CHECK(lines(diff(config_of(with_check), config_of(base))) ==
        std::vector<std::string>{"cluster \"db\": health_check removed"});
  std::string backup = base;
  backup.replace(backup.find("\"10.0.0.7:5432\""), 15,
                 "{ address = \"10.0.0.7:5432\", backup = true }");
  CHECK(lines(diff(config_of(base), config_of(backup))) ==
        std::vector<std::string>{"cluster \"db\": endpoint 10.0.0.7:5432 is a backup now"});
}
