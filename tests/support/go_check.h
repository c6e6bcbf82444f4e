// Assertions from spawned goroutines.
//
// Catch2's CHECK/REQUIRE may only be used from one thread at a time, and REQUIRE throws,
// which a goroutine cannot let escape. Goroutines other than the main one record failed
// expectations with GO_CHECK instead; the test reports them all afterwards (report()),
// with the expression and the line, from the test's own thread.
#pragma once

#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

namespace parkway::test {

class GoChecks {
 public:
  void fail(const char* expr, const char* file, int line) {
    std::lock_guard<std::mutex> g(mu_);
    failures_.push_back(std::string(file) + ":" + std::to_string(line) + ": GO_CHECK(" + expr +
                        ") failed");
  }
  // Call from the test's thread (outside Runtime::run, or in the main goroutine once the
  // others are done).
  void report() {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& f : failures_) FAIL_CHECK(f);
    CHECK(failures_.empty());
    failures_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> failures_;
};

}  // namespace parkway::test

#define GO_CHECK(checks, ...) \
  ((__VA_ARGS__) ? void() : (checks).fail(#__VA_ARGS__, __FILE__, __LINE__))
