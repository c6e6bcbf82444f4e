#include "proxy/descriptor_budget.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>

#include "netpoll/splice.h"

namespace parkway::proxy {
namespace {

constexpr int64_t kReloadReserve = 8;  // a config check's pipes, and some slack
constexpr int64_t kMaxPipes = 1024;
constexpr size_t kMaxPooledPipes = 64;

// Descriptors open in this process now.
int64_t open_descriptors() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 64;  // no /proc: assume a generous number
  int64_t n = 0;
  while (readdir(d) != nullptr) n++;
  closedir(d);
  return n - 3;  // ".", "..", and the descriptor of the directory itself
}

}  // namespace

DescriptorBudget::Shares DescriptorBudget::divide(int64_t limit, int64_t open_now,
                                                  int64_t admin_connections) {
  Shares s;
  s.limit = limit;
  // The admin endpoint: its connections, and the descriptor its accept loop keeps in
  // reserve (open already, counted in open_now).
  s.fixed = open_now + admin_connections + kReloadReserve;
  const int64_t rest = std::max<int64_t>(0, limit - s.fixed);
  s.pipes = std::min(kMaxPipes, rest / 32);  // 1/16 of the descriptors, 2 per pipe
  s.connections = std::max<int64_t>(0, (rest - 2 * s.pipes) / 2);
  return s;
}

DescriptorBudget::Shares DescriptorBudget::apply(int64_t admin_connections) {
  rlimit lim{};
  int64_t limit = 1 << 20;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    limit = static_cast<int64_t>(lim.rlim_cur);
  }
  shares_ = divide(limit, open_descriptors(), admin_connections);
  net::set_pipe_limits(static_cast<size_t>(shares_.pipes),
                       std::min(kMaxPooledPipes, static_cast<size_t>(shares_.pipes)));
  slots_.set_limit(shares_.connections);
  return shares_;
}

std::string describe(const DescriptorBudget::Shares& s) {
  return "limit " + std::to_string(s.limit) + ": " + std::to_string(s.connections) +
         " connections, " + std::to_string(s.pipes) + " pipes, " + std::to_string(s.fixed) +
         " fixed";
}

}  // namespace parkway::proxy
