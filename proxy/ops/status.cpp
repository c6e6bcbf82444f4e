#include "proxy/ops/status.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "conf/diagnostic.h"
#include "conf/keys.h"
#include "netpoll/address.h"

namespace parkway::proxy {
namespace {

constexpr int kTimeoutMs = 5000;

int fail(const std::string& why) {
  std::fprintf(stderr, "parkway status: %s\n", why.c_str());
  return 1;
}

// Waits for `events` on fd within the timeout: true when ready.
bool wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, kTimeoutMs) == 1;
}

}  // namespace

int run_status(const conf::CommandLine& command_line) {
  // Where the admin endpoint listens: --admin, else the config file's [admin] address.
  std::optional<conf::ListenAddress> admin;
  std::string from = "--admin";
  for (const conf::FlagSetting& s : command_line.settings) {
    if (s.section == "admin" && s.key == "address") {
      conf::AdminSettings a = conf::defaults<conf::AdminSettings>();
      for (const auto& key : conf::keys_of<conf::AdminSettings>()) {
        if (key.name == "address") conf::assign_text(key, s.value, a);
      }
      admin = a.address;
      if (!admin) return fail("--admin off: there is no admin endpoint to ask");
    }
  }
  if (!admin) {
    from = command_line.config_path;
    conf::LoadResult loaded = conf::load_file(command_line.config_path);
    if (!loaded.ok()) {
      std::fputs(conf::format(loaded.diagnostics).c_str(), stderr);
      return fail("cannot read the admin address from " + command_line.config_path +
                  "; give it with --admin ADDR");
    }
    admin = loaded.config->admin.address;
    if (!admin) {
      return fail(command_line.config_path +
                  " has no admin endpoint ([admin] address is off); give one with --admin ADDR");
    }
  }
  const auto address = net::SocketAddress::parse(admin->to_string());
  if (!address) return fail("cannot use the admin address " + admin->to_string());
  const std::string where =
      "the admin endpoint at " + address->to_string() + " (from " + from + ")";

  const int fd = ::socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  auto close_fd = [fd] { ::close(fd); };
  if (::connect(fd, address->sockaddr_ptr(), address->length()) != 0 && errno != EINPROGRESS) {
    const int e = errno;
    close_fd();
    return fail("cannot reach " + where + ": " + std::strerror(e) + " (is parkway running?)");
  }
  int error = 0;
  socklen_t len = sizeof error;
  if (!wait_for(fd, POLLOUT) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 ||
      error != 0) {
    close_fd();
    return fail("cannot reach " + where + ": " +
                (error != 0 ? std::strerror(error) : "no answer within 5s") +
                " (is parkway running?)");
  }
  const std::string request =
      "GET /clusters?format=text HTTP/1.1\r\nHost: parkway\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN && wait_for(fd, POLLOUT)) continue;
    if (n <= 0) {
      close_fd();
      return fail("sending to " + where + " failed");
    }
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      reply.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN && wait_for(fd, POLLIN)) continue;
    break;
  }
  close_fd();
  const size_t head_end = reply.find("\r\n\r\n");
  if (!reply.starts_with("HTTP/1.1 ") || head_end == std::string::npos) {
    return fail("no HTTP answer from " + where);
  }
  const std::string body = reply.substr(head_end + 4);
  if (!reply.starts_with("HTTP/1.1 200")) {
    return fail(where + " answered " + reply.substr(9, reply.find("\r\n") - 9) + ": " + body);
  }
  std::fputs(body.c_str(), stdout);
  return 0;
}

}  // namespace parkway::proxy
