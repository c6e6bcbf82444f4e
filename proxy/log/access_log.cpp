#include "proxy/log/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include "proxy/log/json.h"

namespace parkway::proxy::access_log {
namespace {

constexpr size_t kMaxQueued = 16384;

// The queue and a pending change of destination are under `mu`. The descriptor being
// written is the writer thread's alone: configure() and reopen() open the new file (so
// that they can report errors) and hand it over; the writer swaps it in between batches
// and closes the old one. record() therefore never waits for a write(2).
struct Destination {
  int fd = -1;  // -1: off
  bool owned = false;
  std::string path;
};

struct State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool stopping = false;
  bool running = false;
  bool change_pending = false;
  Destination pending;  // the next destination, when change_pending
  std::string path;     // the current file, for reopen()
  bool is_file = false;
  std::thread writer;
};

State& state() {
  static State* s = new State();
  return *s;
}

std::atomic<bool> on{false};
std::atomic<uint64_t> written_total{0};
std::atomic<uint64_t> dropped_total{0};

std::string utc_now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", ts.tv_nsec / 1'000'000);
  return buf;
}

int open_file(const std::string& path, std::string* error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) *error = "cannot open " + path + ": " + std::strerror(errno);
  return fd;
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    off += static_cast<size_t>(n);
  }
}

void close_destination(Destination& d) {
  if (d.owned && d.fd >= 0) ::close(d.fd);
  d = Destination{};
}

void writer_loop() {
  State& s = state();
  Destination current;
  std::unique_lock<std::mutex> lock(s.mu);
  for (;;) {
    s.cv.wait(lock, [&] { return s.stopping || s.change_pending || !s.queue.empty(); });
    if (s.change_pending) {
      close_destination(current);
      current = s.pending;
      s.pending = Destination{};
      s.change_pending = false;
    }
    if (s.queue.empty()) {
      if (s.stopping) break;
      continue;
    }
    std::string batch;
    size_t lines = 0;
    while (!s.queue.empty() && batch.size() < (1 << 20)) {
      batch += s.queue.front();
      s.queue.pop_front();
      lines++;
    }
    lock.unlock();
    if (current.fd >= 0) write_all(current.fd, batch);
    written_total.fetch_add(lines, std::memory_order_relaxed);
    lock.lock();
  }
  close_destination(current);
}

// Hands `d` to the writer (under s.mu); a destination still pending is closed unused.
void hand_over(State& s, Destination d, bool is_file) {
  if (s.change_pending) close_destination(s.pending);
  s.pending = std::move(d);
  s.change_pending = true;
  s.is_file = is_file;
  s.path = is_file ? s.pending.path : "";
  on.store(s.pending.fd >= 0);
}

}  // namespace

std::string configure(const conf::LogDestination& d) {
  State& s = state();
  std::string error;
  Destination next;
  if (d.kind == conf::LogDestination::Kind::stderr_stream) {
    next.fd = STDERR_FILENO;
  } else if (d.kind == conf::LogDestination::Kind::file) {
    next.fd = open_file(d.path, &error);
    if (next.fd < 0) return error;  // the running destination stays
    next.owned = true;
    next.path = d.path;
  }
  {
    std::lock_guard<std::mutex> g(s.mu);
    hand_over(s, std::move(next), d.kind == conf::LogDestination::Kind::file);
    if (!s.running) {
      s.running = true;
      s.stopping = false;
      s.writer = std::thread(writer_loop);
    }
  }
  s.cv.notify_one();
  return {};
}

bool enabled() { return on.load(std::memory_order_relaxed); }

std::string reopen() {
  State& s = state();
  std::string path;
  {
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.is_file) return {};
    path = s.path;
  }
  std::string error;
  Destination next;
  next.fd = open_file(path, &error);
  if (next.fd < 0) return error;  // keep writing to the old one
  next.owned = true;
  next.path = path;
  {
    std::lock_guard<std::mutex> g(s.mu);
    hand_over(s, std::move(next), true);
  }
  s.cv.notify_one();
  return {};
}

void shutdown() {
  State& s = state();
  {
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.running) return;
    s.stopping = true;
  }
  s.cv.notify_one();
  s.writer.join();
  std::lock_guard<std::mutex> g(s.mu);
  s.running = false;
  if (s.change_pending) close_destination(s.pending);
  s.change_pending = false;
  on.store(false);
}

std::string to_json(const Record& r, std::string_view time) {
  std::string out;
  out.reserve(320);
  char num[64];
  out += "{\"time\":";
  json_string(out, time);
  out += ",\"listener\":";
  json_string(out, r.listener);
  out += ",\"client\":";
  json_string(out, r.client);
  out += ",\"endpoint\":";
  json_string(out, r.endpoint);
  out += ",\"upstream\":";
  json_string(out, r.upstream);
  std::snprintf(num, sizeof num, ",\"connect_ms\":%.3f,\"duration_ms\":%.3f", r.connect_ms,
                r.duration_ms);
  out += num;
  out += ",\"bytes_client_to_upstream\":" + std::to_string(r.bytes_client_to_upstream);
  out += ",\"bytes_upstream_to_client\":" + std::to_string(r.bytes_upstream_to_client);
  out += ",\"first_fin\":";
  json_string(out, r.first_fin);
  out += ",\"cause\":";
  json_string(out, r.cause);
  out += '}';
  return out;
}

void record(const Record& r) {
  if (!enabled()) return;
  std::string line = to_json(r, utc_now());
  line += '\n';
  State& s = state();
  {
    std::lock_guard<std::mutex> g(s.mu);
    if (s.queue.size() >= kMaxQueued) {
      dropped_total.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    s.queue.push_back(std::move(line));
  }
  s.cv.notify_one();
}

uint64_t written() { return written_total.load(); }
uint64_t dropped() { return dropped_total.load(); }

}  // namespace parkway::proxy::access_log
