// The Catch2 main shared by every test suite; see tests/support/child.h for child scenarios.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tests/support/child.h"

int main(int argc, char** argv) {
  int code = 0;
  if (parkway::test::maybe_run_child(argc, argv, &code)) return code;
  return Catch::Session().run(argc, argv);
}
