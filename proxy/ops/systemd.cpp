#include "proxy/ops/systemd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

namespace parkway::proxy::systemd {
namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

bool parse_u64(const char* s, unsigned long long* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

bool notify_enabled() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  return path != nullptr && path[0] != '\0';
}

bool notify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const ssize_t sent =
      sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

std::string reloading_message() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long usec = static_cast<long long>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

Duration watchdog_interval() {
  unsigned long long usec = 0, pid = 0;
  if (!parse_u64(std::getenv("WATCHDOG_USEC"), &usec) || usec == 0) return Duration::zero();
  if (parse_u64(std::getenv("WATCHDOG_PID"), &pid) &&
      pid != static_cast<unsigned long long>(getpid())) {
    return Duration::zero();
  }
  return std::chrono::microseconds(usec);
}

std::vector<InheritedSocket> take_listen_fds() {
  std::vector<InheritedSocket> out;
  unsigned long long pid = 0, n = 0;
  const bool ours = parse_u64(std::getenv("LISTEN_PID"), &pid) &&
                    pid == static_cast<unsigned long long>(getpid()) &&
                    parse_u64(std::getenv("LISTEN_FDS"), &n);
  std::string names;
  if (const char* v = std::getenv("LISTEN_FDNAMES")) names = v;
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!ours) return out;
  size_t pos = 0;
  for (unsigned long long i = 0; i < n && i < 4096; i++) {
    InheritedSocket s;
    s.fd = kListenFdsStart + static_cast<int>(i);
    const size_t colon = names.find(':', pos);
    if (pos <= names.size())
      s.name = names.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    pos = colon == std::string::npos ? names.size() + 1 : colon + 1;
    fcntl(s.fd, F_SETFD, FD_CLOEXEC);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace parkway::proxy::systemd
