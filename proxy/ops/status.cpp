#include "proxy/ops/status.h"

#include <array>
#include <cstdio>
#include <span>
#include <string>

#include "conf/diagnostic.h"
#include "conf/keys.h"
#include "netpoll/address.h"
#include "netpoll/socket.h"
#include "scheduler/runtime.h"

namespace parkway::proxy {
namespace {

using namespace std::chrono_literals;

constexpr Duration kTimeout = 5s;  // for the whole exchange

int fail(const std::string& why) {
  std::fprintf(stderr, "parkway status: %s\n", why.c_str());
  return 1;
}

std::string describe(std::error_code ec) {
  return net::is_timeout(ec) ? "no answer within 5s" : ec.message();
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

  // One request on parkway's own runtime (a goroutine, netpoll sockets, one deadline for
  // the whole exchange), as everything else that talks to the network.
  const std::string request =
      "GET /clusters?format=text HTTP/1.1\r\nHost: parkway\r\nConnection: close\r\n\r\n";
  std::string reply, failure;
  Runtime runtime({.procs = 1});
  runtime.run([&] {
    const Time deadline = deadline_after(kTimeout);
    auto conn = net::Conn::dial(*address, deadline);
    if (!conn) {
      failure = "cannot reach " + where + ": " + describe(conn.error()) + " (is parkway running?)";
      return;
    }
    conn->set_deadline(deadline);
    if (auto w = conn->write_all(std::as_bytes(std::span(request))); w.error) {
      failure = "sending to " + where + " failed: " + describe(w.error);
      return;
    }
    std::array<std::byte, 4096> buf;
    for (;;) {
      const net::IoResult r = conn->read(buf);
      if (r.error) {
        failure = "reading the answer of " + where + " failed: " + describe(r.error);
        return;
      }
      if (r.bytes == 0) return;  // the whole answer (Connection: close)
      reply.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
    }
  });
  if (!failure.empty()) return fail(failure);
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
