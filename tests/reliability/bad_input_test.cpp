// Case 12: bad input everywhere. A bad flag or file is refused with one clear message and
// the right exit code, before anything starts; a running proxy under checksummed traffic
// shrugs off malformed config files on reload and garbage, oversized, slow and abusive
// requests to its admin endpoint: each gets its clear error (a log line that names the
// file and keeps the running configuration; a 4xx), and not one stream of the traffic
// fails or differs.
//
// tests/e2e/cli_test.cpp proves 23 bad config files with their file:line:column and the
// common usage errors; tests/e2e/lifecycle_test.cpp a bad reload (a bad value, a port in
// use); tests/e2e/ops_test.cpp the admin endpoint's 405/400/505/414/431/400/408. These
// add hostile input (binary junk, NUL bytes, nesting bombs, a 50 MiB file, a directory,
// a vanished file, 1 MiB requests, a flood of slow clients) and traffic throughout.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "tests/reliability/reliability.h"

using namespace parkway;
using namespace parkway::e2e;
using namespace parkway::reliability;
using peer::Peer;
using peer::PeerServer;
using peer::Script;

namespace {

struct Header {
  uint64_t seed, up, down;
};
constexpr uint64_t kDownKey = 0x0123456789abcdefULL;

void serve(Peer& p, std::atomic<int>& bad) {
  p.step_timeout = scaled(60s);
  auto raw = p.recv_raw(sizeof(Header));
  if (!raw) {
    bad++;
    return;
  }
  Header h;
  std::memcpy(&h, raw->data(), sizeof h);
  p.set_streams(h.seed ^ kDownKey, h.seed);
  if (!Script().both(Script().send(h.down).shut_wr(), Script().drain_eof(h.up)).run(p)) bad++;
}

// Checksummed streams through `addr`, one after another on each of `workers` goroutines,
// until stop(): the traffic that must not notice anything.
class Traffic {
 public:
  Traffic(net::SocketAddress addr, int workers) {
    wg_.add(workers);
    for (int w = 0; w < workers; w++) {
      go([this, addr, w] {
        std::mt19937_64 rng(static_cast<uint64_t>(w) + 77);
        for (uint64_t n = 0; !stop_.load(); n++) {
          const Header h{(static_cast<uint64_t>(w) << 32) + n + 1, rng() % (256 * 1024),
                         rng() % (256 * 1024)};
          auto c = Peer::connect(addr, scaled(10s));
          bool ok = false;
          std::string why;
          if (c) {
            c->step_timeout = scaled(60s);
            c->set_streams(h.seed, h.seed ^ kDownKey);
            ok = c->send_raw(std::as_bytes(std::span(&h, 1))) &&
                 Script().both(Script().send(h.up).shut_wr(), Script().drain_eof(h.down)).run(*c);
            why = c->failure();
          } else {
            why = "connect: " + c.error().message();
          }
          if (ok) {
            completed_++;
          } else {
            failed_++;
            std::lock_guard<Mutex> g(mu_);
            if (failures_.size() < 10) failures_.push_back(why);
          }
        }
        wg_.done();
      });
    }
  }
  ~Traffic() { stop(); }
  void stop() {
    stop_.store(true);
    wg_.wait();
  }
  // Waits until `n` more streams have completed than now.
  bool more(int n, Duration within) {
    const int target = completed_.load() + n;
    return observe::eventually([&] { return completed_.load() >= target; }, within);
  }
  int completed() const { return completed_.load(); }
  int failed() const { return failed_.load(); }
  std::string failures() {
    std::lock_guard<Mutex> g(mu_);
    std::string out;
    for (const auto& f : failures_) out += f + "\n";
    return out;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> completed_{0}, failed_{0};
  WaitGroup wg_;
  Mutex mu_;
  std::vector<std::string> failures_;
};

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace

TEST_CASE(
    "case 12: hostile flags and files are refused with one clear message before "
    "anything starts",
    "[reliability][bad_input]") {
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    struct Bad {
      std::vector<std::string> args;
      int exit_code;
      std::string stderr_re;  // matched against the whole of stderr
    };
    const std::string junk = dir.write("junk.toml", random_bytes(4096, 1));
    const std::string nul =
        dir.write("nul.toml", std::string("[[listener]]\nname = \"a\0b\"\n", 26));
    const std::string nest = dir.write("nest.toml", "a = " + std::string(100000, '[') + "\n");
    const std::string tables = dir.write("tables.toml", std::string(100000, '[') + "\n");
    const std::string nest_short =
        dir.write("nest-short.toml", "a = " + std::string(60000, '[') + "\n");
    // What once crashed parkway (SIGSEGV in toml++'s recursion per key part): a key of
    // 31,000 dotted parts, as a key and as a table header.
    std::string parts = "a";
    for (int i = 1; i < 31000; i++) parts += ".a";
    const std::string deep_key = dir.write("deep-key.toml", parts + " = 1\n");
    const std::string deep_table = dir.write("deep-table.toml", "[" + parts + "]\n");
    const std::string empty = dir.write("empty.toml", "");
    const std::string huge = dir.write("huge.toml", "x = \"" + std::string(50 << 20, 'a') + "\"\n");
    std::filesystem::create_directory(dir.path() + "/adir");
    const std::vector<Bad> cases = {
        {{"-c", junk, "--check-config"},
         1,
         "^" + regex_escape(junk) + ":1:[0-9]+: error: TOML syntax error"},
        {{"-c", nul, "--check-config"},
         1,
         "^" + regex_escape(nul) +
             ":2:[0-9]+: error: TOML syntax error in string: unescaped control characters"},
        {{"-c", nest, "--check-config"},
         1,
         "^" + regex_escape(nest) + ":1:1: error: expected lines of at most 64 KiB"},
        {{"-c", tables, "--check-config"},
         1,
         "^" + regex_escape(tables) + ":1:1: error: expected lines of at most 64 KiB"},
        {{"-c", nest_short, "--check-config"},
         1,
         "^" + regex_escape(nest_short) +
             ":1:[0-9]+: error: expected arrays and inline tables nested at most 16 deep"},
        {{"-c", deep_key, "--check-config"},
         1,
         "^" + regex_escape(deep_key) + ":1:1: error: expected a key of at most 8 dotted parts"},
        {{"-c", deep_table, "--check-config"},
         1,
         "^" + regex_escape(deep_table) + ":1:2: error: expected a key of at most 8 dotted parts"},
        {{"-c", empty, "--check-config"},
         1,
         "error: listener: expected at least one \\[\\[listener\\]\\] table"},
        {{"-c", huge, "--check-config"},
         1,
         "^" + regex_escape(huge) + ": error: expected a config file of at most 4 MiB"},
        {{"-c", dir.path() + "/adir", "--check-config"},
         1,
         "error: cannot read the config file: Is a directory"},
        {{"-c", dir.path() + "/missing.toml", "--check-config"},
         1,
         "error: cannot open the config file: No such file"},
        {{"-L", ""}, 2, "^parkway: -L \"\": expected LISTEN=UPSTREAM"},
        {{"-L", "99999=x:1"},
         2,
         "^parkway: -L \"99999=x:1\": listen address \"99999\": expected a port 0\\.\\.65535\n$"},
        {{"-L", "1=[::1"}, 2, "missing '\\]'"},
        {{"-L", "1=a:1,,b:2"}, 2, "upstream \"\": expected \"host:port\""},
        {{"-L", "1=a:1", "--connect-timeout", "1e309s"},
         2,
         "^parkway: --connect-timeout \"1e309s\": expected a duration"},
        {{"-L", "1=a:1", "--connect-timeout", "99999999999h"}, 2, "expected a duration of at most"},
        {{"-L", "1=a:1", "--idle-timeout", "-1s"}, 2, "durations cannot be negative"},
        {{"-L", "1=a:1", "--procs", "-1"},
         2,
         "^parkway: --procs \"-1\": expected an integer 0\\.\\.1024\n$"},
        {{"-L", "1=" + std::string(100000, 'a') + ":1", "--procs", "x"},
         2,
         "^parkway: --procs \"x\""},
        {{"-L", std::string("1=a\x01:1")}, 2, "^parkway: -L "},
        {{"--bogus"}, 2, "^parkway: unknown option \"--bogus\""},
    };
    for (const auto& b : cases) {
      std::string shown;
      for (const auto& a : b.args) shown += " " + a.substr(0, 80);
      const Completed c = run_parkway(b.args);
      INFO("parkway" << shown << "\nexit " << c.exit_code << ", stderr:\n"
                     << c.err.substr(0, 2000));
      CHECK(c.exit_code == b.exit_code);
      CHECK(std::regex_search(c.err, std::regex(b.stderr_re)));
      CHECK(c.out.empty());
      if (b.exit_code == 2) {
        // A usage error is one line.
        CHECK(std::count(c.err.begin(), c.err.end(), '\n') == 1);
      }
      // Never a crash, never a sanitizer report.
      CHECK(c.err.find("Sanitizer") == std::string::npos);
      CHECK(c.err.find("fatal") == std::string::npos);
    }
  });
}

TEST_CASE(
    "case 12: under checksummed traffic, malformed reloads and abusive admin requests "
    "each get a clear error and change nothing",
    "[reliability][bad_input]") {
  raise_fd_limit();
  TempDir dir;
  Runtime rt({.procs = 2});
  rt.run([&] {
    std::atomic<int> backend_bad{0};
    PeerServer backend([&](Peer& p, int) { serve(p, backend_bad); });
    const std::string good =
        admin_toml() + listener_toml("app", "app") + cluster_toml("app", {backend.endpoint()});
    auto proxy = start_proxy(dir, good);
    const auto admin = admin_address(*proxy);
    const auto addr = loopback(proxy->port_of("app"));
    const std::string path = dir.path() + "/parkway.toml";
    const std::string config_before = observe::http_get(admin, "/config").body;
    REQUIRE_FALSE(config_before.empty());
    Traffic traffic(addr, 8);
    REQUIRE(traffic.more(20, scaled(30s)));

    // ---- Malformed config files, each reloaded with SIGHUP. ----
    struct BadFile {
      std::string name;
      std::function<void()> install;
      std::string error_re;  // a log line that says what is wrong
    };
    const std::vector<BadFile> files = {
        {"binary junk", [&] { dir.write("parkway.toml", random_bytes(8192, 2)); },
         "error reload: " + regex_escape(path) + ":1:[0-9]+: error: TOML syntax error"},
        {"a nesting bomb", [&] { dir.write("parkway.toml", "a = " + std::string(60000, '[')); },
         "expected arrays and inline tables nested at most 16 deep"},
        {"a key of 31,000 dotted parts (it once crashed parkway, taking every connection)",
         [&] {
           std::string parts = "a";
           for (int i = 1; i < 31000; i++) parts += ".a";
           dir.write("parkway.toml", good + parts + " = 1\n");
         },
         "error reload: " + regex_escape(path) +
             ":[0-9]+:1: error: expected a key of at most 8 dotted parts"},
        {"a table header of 31,000 dotted parts",
         [&] {
           std::string parts = "a";
           for (int i = 1; i < 31000; i++) parts += ".a";
           dir.write("parkway.toml", "[[" + parts + "]]\n" + good);
         },
         "error reload: " + regex_escape(path) +
             ":1:3: error: expected a key of at most 8 dotted parts"},
        {"a FIFO (it once hung the reload, and SIGTERM with it)",
         [&] {
           std::filesystem::remove(path);
           REQUIRE(mkfifo(path.c_str(), 0600) == 0);
         },
         "cannot read the config file: expected a regular file, found a FIFO"},
        {"a NUL byte in a string",
         [&] { dir.write("parkway.toml", good + std::string("x = \"\0\"\n", 8)); },
         "unescaped control characters"},
        {"a 50 MiB file",
         [&] { dir.write("parkway.toml", good + "# " + std::string(50 << 20, 'x') + "\n"); },
         "expected a config file of at most 4 MiB"},
        {"an empty file", [&] { dir.write("parkway.toml", ""); },
         "expected at least one \\[\\[listener\\]\\] table"},
        {"a directory",
         [&] {
           std::filesystem::remove(path);
           std::filesystem::create_directory(path);
         },
         "cannot read the config file: Is a directory"},
        {"a vanished file", [&] { std::filesystem::remove_all(path); },
         "cannot open the config file: No such file"},
        {"valid TOML, every value wrong",
         [&] {
           dir.write("parkway.toml",
                     "[runtime]\nprocs = -3\ndrain_timeout = 5\n[[listener]]\nname = \"\"\n"
                     "address = \"localhost:80\"\ncluster = \"nope\"\nbacklog = 0\n"
                     "[[cluster]]\nname = \"a:b\"\nendpoints = []\nbalance = \"random\"\n");
         },
         "error reload: " + regex_escape(path) + ":[0-9]+:[0-9]+: error: runtime\\.procs"},
    };
    for (const auto& f : files) {
      INFO("reload with " << f.name);
      f.install();
      const size_t mark = proxy->mark();
      proxy->signal(SIGHUP);
      await_log(*proxy, f.error_re, 10s, mark);
      await_log(
          *proxy,
          "error reload: " + regex_escape(path) + " has errors; keeping the running configuration$",
          10s, mark);
      CHECK(proxy->find_all("reload: done", mark).empty());
      REQUIRE(traffic.more(5, scaled(30s)));
      std::filesystem::remove_all(path);
    }
    dir.write("parkway.toml", good);
    CHECK(observe::http_get(admin, "/config").body == config_before);
    const auto reloads = observe::http_get(admin, "/metrics");
    CHECK(observe::metric(reloads.body, R"(parkway_config_reloads_total{result="failure"})") ==
          static_cast<double>(files.size()));

    // ---- The admin endpoint: garbage, oversized, pipelined, odd, abusive. ----
    const observe::Memory mem_before = observe::memory(proxy->pid());
    struct BadRequest {
      std::string name;
      std::string request;
      std::vector<int> statuses;  // acceptable answers
    };
    const std::vector<BadRequest> requests = {
        {"binary junk", random_bytes(4096, 3) + "\r\n\r\n", {400, 431}},
        {"1 MiB without an end of headers", random_bytes(1 << 20, 4), {400, 431}},
        {"1 MiB of a valid-looking header",
         "GET / HTTP/1.1\r\nX: " + std::string(1 << 20, 'a'),
         {431}},
        {"10000 tiny headers",
         "GET /live HTTP/1.1\r\n" +
             [] {
               std::string h;
               for (int i = 0; i < 10000; i++) h += "a: b\r\n";
               return h;
             }() +
             "\r\n",
         {431}},
        {"a NUL in the target", std::string("GET /li\0ve HTTP/1.1\r\n\r\n", 24), {400, 404}},
        // Not a CRLF CRLF that never comes (a 408 after 5 s): refused at once.
        {"a bare LF", "GET /live HTTP/1.1\n\n", {400}},
        {"a bare CR", "GET /live HTTP/1.1\rX: y\r\n\r\n", {400}},
        {"HTTP/1.0", "GET /live HTTP/1.0\r\n\r\n", {200}},
        {"HTTP/9.9", "GET /live HTTP/9.9\r\n\r\n", {505}},
        {"no version", "GET /live\r\n\r\n", {400}},
        {"a method in lower case", "get /live HTTP/1.1\r\n\r\n", {400, 405}},
        {"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", {400, 405}},
        {"a body with Transfer-Encoding",
         "GET /live HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         {400}},
        {"a negative Content-Length", "GET /live HTTP/1.1\r\nContent-Length: -1\r\n\r\n", {400}},
        {"two requests pipelined", "GET /live HTTP/1.1\r\n\r\nGET /live HTTP/1.1\r\n\r\n", {200}},
        {"a header without a colon", "GET /live HTTP/1.1\r\nnocolon\r\n\r\n", {400}},
        {"a target that is not a path", "GET live HTTP/1.1\r\n\r\n", {400, 404}},
        {"a 3000-byte target", "GET /" + std::string(3000, 'x') + " HTTP/1.1\r\n\r\n", {414}},
    };
    for (const auto& r : requests) {
      const auto reply = observe::http_raw(admin, r.request, scaled(10s));
      INFO(r.name << ": " << reply.status << " " << reply.error << "\n"
                  << reply.body.substr(0, 200));
      CHECK(std::find(r.statuses.begin(), r.statuses.end(), reply.status) != r.statuses.end());
      CHECK(reply.head.find("Connection: close") != std::string::npos);
    }
    // Clients that connect and say nothing, say half a request and vanish, or reset.
    for (int i = 0; i < 20; i++) {
      auto c = net::Conn::dial(admin, now() + scaled(5s));
      REQUIRE(c);
      if (i % 3 == 1) c->write_all(bytes_of("GET /metr"));
      if (i % 3 == 2) {
        c->write_all(bytes_of("GET /metrics HTTP/1.1\r\n"));
        c->close_with_reset();
      } else {
        c->close();
      }
    }
    // A flood of slow clients, more than its 16 connections: the admin endpoint is
    // busy for its request timeout (5 s), the data path does not notice.
    {
      std::vector<net::Conn> slow;
      for (int i = 0; i < 64; i++) {
        auto c = net::Conn::dial(admin, now() + scaled(5s));
        REQUIRE(c);
        c->write_all(bytes_of("GET /metrics HTTP/1.1\r\nX: "));
        slow.push_back(std::move(*c));
      }
      REQUIRE(traffic.more(20, scaled(30s)));
      for (auto& c : slow) c.close();
    }
    // It answers again once they are gone (the ones still queued time out in turn).
    CHECK(observe::eventually([&] { return observe::http_get(admin, "/live", 2s).status == 200; },
                              scaled(30s), 200ms));
    const observe::Memory mem_after = observe::memory(proxy->pid());
    INFO("RSS before the admin requests " << mem_before.rss_kib << " KiB, after "
                                          << mem_after.rss_kib << " KiB");
    // 1 MiB requests were refused at 8 KiB: nothing of the sort was buffered.
    CHECK(mem_after.rss_kib - mem_before.rss_kib < (kSanitized ? 32 : 8) * 1024);

    REQUIRE(traffic.more(20, scaled(30s)));
    traffic.stop();
    INFO(traffic.failures() << log_of(*proxy));
    CHECK(traffic.failed() == 0);
    CHECK(backend_bad.load() == 0);
    CHECK(observe::http_get(admin, "/config").body == config_before);
    // A good reload still works after all that.
    const size_t mark = proxy->mark();
    proxy->signal(SIGHUP);
    await_log(*proxy, "reload: done", 10s, mark);
  });
}
