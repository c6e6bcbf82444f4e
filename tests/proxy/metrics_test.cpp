// The one list of metric families (proxy/stats.h): /metrics exports exactly those, in
// order, with their types; docs/metrics.md documents exactly those, with their types and
// labels, and every close cause.
#include "proxy/ops/metrics.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "proxy/stats.h"
#include "scheduler/runtime.h"

using namespace parkway;
using namespace parkway::proxy;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string type_name(MetricType t) { return t == MetricType::counter ? "counter" : "gauge"; }

}  // namespace

TEST_CASE("/metrics exports every declared family, in order, and nothing else", "[metrics]") {
  std::string text;
  Runtime rt({.procs = 1});
  rt.run([&] { text = render_metrics(ServerSnapshot{}); });
  std::vector<std::pair<std::string, std::string>> exported;  // name, type
  const std::regex type_line(R"(^# TYPE (\S+) (\S+)$)");
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, type_line)) exported.emplace_back(m[1], m[2]);
  }
  REQUIRE(exported.size() == kFamilies.size());
  for (size_t i = 0; i < kFamilies.size(); i++) {
    INFO("family " << i);
    CHECK(exported[i].first == kFamilies[i]->name);
    CHECK(exported[i].second == type_name(kFamilies[i]->type));
  }
}

TEST_CASE("the families are well named", "[metrics]") {
  const std::regex name(R"(parkway_[a-z_]+)");
  std::set<std::string_view> seen;
  for (const MetricFamily* f : kFamilies) {
    INFO(f->name);
    CHECK(std::regex_match(std::string(f->name), name));
    CHECK(seen.insert(f->name).second);
    CHECK(f->name.ends_with("_total") == (f->type == MetricType::counter));
    CHECK_FALSE(f->help.empty());
    CHECK(f->help.back() == '.');
  }
}

TEST_CASE("docs/metrics.md documents every family and every close cause", "[metrics]") {
  const std::string doc = read_file(std::string(PARKWAY_SOURCE_DIR) + "/docs/metrics.md");
  REQUIRE_FALSE(doc.empty());
  // | `name` | type | `label`, `label` | help |
  const std::regex row(R"(^\| `(parkway_[a-z_]+)` \| (counter|gauge) \| ([^|]*) \| [^|]+ \|$)");
  std::vector<std::tuple<std::string, std::string, std::string>> documented;
  std::istringstream in(doc);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, row)) continue;
    std::string labels = std::regex_replace(m[3].str(), std::regex(R"([` ])"), "");
    documented.emplace_back(m[1], m[2], labels);
  }
  REQUIRE(documented.size() == kFamilies.size());
  for (size_t i = 0; i < kFamilies.size(); i++) {
    INFO("row " << i);
    CHECK(std::get<0>(documented[i]) == kFamilies[i]->name);
    CHECK(std::get<1>(documented[i]) == type_name(kFamilies[i]->type));
    CHECK(std::get<2>(documented[i]) == kFamilies[i]->labels);
  }
  for (size_t i = 0; i < kCloseCauseCount; i++) {
    const std::string cause(to_string(static_cast<CloseCause>(i)));
    INFO(cause);
    CHECK(doc.find("| `" + cause + "` |") != std::string::npos);
  }
}
