// Every input of the fuzz corpus (tests/fuzz/corpus/<target>/) and every input that once
// broke a target (tests/fuzz/regressions/<target>/) through the same target functions the
// fuzzer runs, in every build (sanitizer builds included): a fixed bug stays fixed, and the
// corpus keeps meaning what it says.
//
// A crash found by script/fuzz becomes a regression test by copying its input into
// tests/fuzz/regressions/<target>/ (with a name that says what it was), next to the fix.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/fuzz/targets.h"

namespace {

namespace fs = std::filesystem;

struct PropertyBroken : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_failure(const std::string& what) { throw PropertyBroken(what); }

std::vector<fs::path> inputs(const std::string& kind, const std::string& target) {
  std::vector<fs::path> out;
  const fs::path dir = fs::path(PARKWAY_SOURCE_DIR) / "tests/fuzz" / kind / target;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string data(fs::file_size(p), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

void replay(const std::string& kind) {
  parkway::fuzz::set_failure_handler(throw_failure);
  size_t total = 0;
  for (const auto& t : parkway::fuzz::kTargets) {
    for (const auto& path : inputs(kind, t.name)) {
      const std::string data = read(path);
      INFO(path.string());
      CHECK_NOTHROW(t.run(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
      total++;
    }
  }
  parkway::fuzz::set_failure_handler(nullptr);
  INFO("inputs replayed: " << total);
  if (kind == "corpus") CHECK(total > 0);
}

}  // namespace

TEST_CASE("fuzz: every corpus input keeps every target's properties", "[fuzz]") {
  replay("corpus");
}

TEST_CASE("fuzz: every input that once broke a target (regressions) passes now", "[fuzz]") {
  replay("regressions");
}
