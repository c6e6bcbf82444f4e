// The shipped packaging/parkway.toml and the key table cannot drift apart (conf/keys.h,
// conf/reference.h).
#include "conf/reference.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "conf/cli.h"
#include "conf/keys.h"
#include "conf/parse.h"

using namespace parkway::conf;

namespace {

const std::string reference_path = std::string(PARKWAY_SOURCE_DIR) + "/packaging/parkway.toml";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("packaging/parkway.toml is a valid config without warnings", "[conf][reference]") {
  const LoadResult result = load_file(reference_path);
  INFO(format(result.diagnostics));
  REQUIRE(result.ok());
  CHECK(result.diagnostics.empty());
  const Config& config = *result.config;
  REQUIRE(config.listeners.size() == 1);
  CHECK(config.listeners[0].name == "app");
  CHECK(config.listeners[0].address.to_string() == "127.0.0.1:10080");
  CHECK(config.listeners[0].cluster == "app");
  REQUIRE(config.clusters.size() == 1);
  CHECK(config.clusters[0].name == "app");
  REQUIRE(config.clusters[0].endpoints.size() == 1);
  CHECK(config.clusters[0].endpoints[0].to_string() == "127.0.0.1:8080");
}

TEST_CASE("packaging/parkway.toml sets every key of the table, each to its default",
          "[conf][reference]") {
  const std::string text = read_file(reference_path);
  for (const KeyDoc& doc : key_docs()) {
    INFO(doc.section << "." << doc.name);
    // Each key is set, with its default (or, if required, the example), below a comment.
    // (A table that is off unless present is shown commented out, its keys at their defaults.)
    CHECK_THAT(text, Catch::Contains(std::string(doc.optional_table ? "\n# " : "\n") +
                                     std::string(doc.name) + " = " + doc.example_toml + "\n"));
  }
  const LoadResult result = load_file(reference_path);
  REQUIRE(result.ok());
  const Config& config = *result.config;
  CHECK(config.runtime == defaults<RuntimeSettings>());
  Listener listener = defaults<Listener>();
  listener.name = config.listeners[0].name;
  listener.address = config.listeners[0].address;
  listener.cluster = config.listeners[0].cluster;
  CHECK(config.listeners[0] == listener);
  Cluster cluster = defaults<Cluster>();
  cluster.name = config.clusters[0].name;
  cluster.endpoints = config.clusters[0].endpoints;
  CHECK(config.clusters[0] == cluster);
}

TEST_CASE("packaging/parkway.toml is what conf::reference_toml() generates", "[conf][reference]") {
  // When this fails after a change to conf/keys.h, the generated text is written next to
  // the test binary's working directory: copy it over packaging/parkway.toml (the diff
  // shows what users will see).
  const std::string generated = reference_toml();
  if (read_file(reference_path) != generated) {
    std::ofstream("parkway.toml.generated") << generated;
    FAIL(
        "packaging/parkway.toml differs from conf::reference_toml(); see ./parkway.toml.generated");
  }
  const LoadResult result = load_file(reference_path);
  REQUIRE(result.ok());
  Config expected = reference_config();
  expected.source = reference_path;
  CHECK(*result.config == expected);
}

TEST_CASE("the README's key table is what conf::key_table_markdown() generates",
          "[conf][reference]") {
  // The table sits between two markers; when this fails after a change to conf/keys.h, the
  // generated table is written next to the test binary's working directory: paste it
  // between them.
  const std::string readme = read_file(std::string(PARKWAY_SOURCE_DIR) + "/README.md");
  const std::string begin_marker = "<!-- keys:begin";
  const std::string end_marker = "<!-- keys:end -->";
  const std::size_t begin = readme.find(begin_marker);
  REQUIRE(begin != std::string::npos);
  const std::size_t table = readme.find('\n', begin) + 1;
  const std::size_t end = readme.find(end_marker, table);
  REQUIRE(end != std::string::npos);
  const std::string generated = key_table_markdown();
  if (readme.substr(table, end - table) != generated) {
    std::ofstream("README.keys.generated") << generated;
    FAIL(
        "README.md's key table differs from conf::key_table_markdown(); see "
        "./README.keys.generated");
  }
  // Every table of the config is in it, [admin] and [access_log] included.
  for_each_section([&](const auto& section) {
    using Section = std::remove_cvref_t<decltype(section)>;
    const std::string name = Section::repeated ? "`[[" + std::string(section.name) + "]]`"
                                               : "`[" + std::string(section.name) + "]`";
    CHECK_THAT(generated, Catch::Contains("| " + name + " |"));
  });
}

TEST_CASE("the key table is consistent", "[conf][reference]") {
  const std::vector<KeyDoc> docs = key_docs();  // aborts on a default that does not parse
  std::set<std::string> flags;
  std::set<std::string> keys;
  for (const KeyDoc& doc : docs) {
    INFO(doc.section << "." << doc.name);
    CHECK(keys.insert(std::string(doc.section) + "." + std::string(doc.name)).second);
    CHECK_FALSE(doc.help.empty());
    CHECK(doc.help.back() == '.');
    CHECK(doc.required == doc.default_toml.empty());
    CHECK_FALSE(doc.example_toml.empty());
    if (doc.flag != FlagUse::none) {
      CHECK(flags.insert(doc.flag_name).second);
      CHECK_FALSE(doc.required);
    }
  }
  const std::string markdown = key_table_markdown();
  for (const KeyDoc& doc : docs)
    CHECK_THAT(markdown, Catch::Contains("| `" + std::string(doc.name) + "` |"));
  // Every flag the table promises is in the help.
  const char* argv[] = {"parkway", "--help"};
  const std::string help = parse_command_line(2, argv).text;
  for (const std::string& flag : flags) CHECK_THAT(help, Catch::Contains(flag));
}

TEST_CASE("defaults come from the table, and a zeroed struct is not defaulted",
          "[conf][reference]") {
  using namespace std::chrono_literals;
  CHECK(defaults<Cluster>().connect_timeout == 5s);
  CHECK(defaults<Listener>().backlog == 4096);
  CHECK(Cluster{}.connect_timeout == 0s);
}
