// How the descriptor budget shares out RLIMIT_NOFILE (proxy/descriptor_budget.h).
#include "proxy/descriptor_budget.h"

#include <catch2/catch.hpp>

using parkway::proxy::DescriptorBudget;

TEST_CASE("the descriptor budget keeps two descriptors per connection slot", "[budget]") {
  // 128, with 10 open and an admin endpoint of 16: 34 fixed, 94 left: 2 pipes, 45 slots.
  auto s = DescriptorBudget::divide(128, 10, 16);
  CHECK(s.limit == 128);
  CHECK(s.fixed == 34);
  CHECK(s.pipes == 2);
  CHECK(s.connections == 45);
  CHECK(s.fixed + 2 * s.pipes + 2 * s.connections <= s.limit);
  // A common hard limit: pipes capped at 1/16 of the descriptors, the rest connections.
  s = DescriptorBudget::divide(20000, 20, 0);
  CHECK(s.pipes == 624);
  CHECK(s.connections == (20000 - 28 - 2 * 624) / 2);
  // A very large limit: at most 1024 pipes.
  s = DescriptorBudget::divide(1 << 20, 20, 16);
  CHECK(s.pipes == 1024);
  CHECK(s.fixed + 2 * s.pipes + 2 * s.connections <= s.limit);
  // Less than what is fixed: no slot at all (clients wait), never a negative share.
  s = DescriptorBudget::divide(30, 20, 16);
  CHECK(s.pipes == 0);
  CHECK(s.connections == 0);
}
