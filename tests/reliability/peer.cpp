#include "tests/reliability/peer.h"

#include <sys/socket.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "conf/duration.h"
#include "scheduler/runtime.h"
#include "tests/e2e/time_scale.h"
#include "tests/netpoll/helpers.h"

namespace parkway::peer {

using namespace std::chrono_literals;

const char* to_string(End e) {
  switch (e) {
    case End::none: return "not ended";
    case End::eof: return "end of stream";
    case End::reset: return "reset";
    case End::timeout: return "timeout";
    case End::closed: return "closed by us";
    case End::error: return "error";
  }
  return "?";
}

void Checksum::add(std::span<const std::byte> bytes) {
  for (std::byte b : bytes) {
    value ^= static_cast<uint64_t>(b);
    value *= 0x100000001b3ULL;
  }
}

namespace {

End classify(std::error_code ec) {
  if (!ec) return End::eof;
  if (net::is_reset(ec)) return End::reset;
  if (net::is_timeout(ec)) return End::timeout;
  if (net::is_closed(ec)) return End::closed;
  return End::error;
}

std::string describe(std::error_code ec) { return ec ? ec.message() : "end of stream"; }

}  // namespace

// ---- Peer ---------------------------------------------------------------------------------

Peer::Peer(net::Conn conn) : step_timeout(e2e::scaled(30s)), conn_(std::move(conn)) {}

net::Result<Peer> Peer::connect(const net::SocketAddress& addr, Duration within) {
  auto c = net::Conn::dial(addr, now() + within);
  if (!c) return c.error();
  return Peer(std::move(*c));
}

void Peer::set_streams(uint64_t out_seed, uint64_t in_seed) {
  out_seed_ = out_seed;
  in_seed_ = in_seed;
  out_pos_ = in_pos_ = 0;
}

void Peer::fail(const std::string& why) {
  std::lock_guard<std::mutex> g(*failure_mu_);
  if (report_.failure.empty()) report_.failure = why;
}

void Peer::prefix_failure(const std::string& prefix) {
  std::lock_guard<std::mutex> g(*failure_mu_);
  report_.failure = prefix + (report_.failure.empty() ? "failed" : report_.failure);
}

std::string Peer::failure() const {
  std::lock_guard<std::mutex> g(*failure_mu_);
  return report_.failure;
}

bool Peer::send(uint64_t n, size_t chunk) { return send_slowly(n, chunk, Duration::zero()); }

bool Peer::send_slowly(uint64_t n, size_t chunk, Duration every) {
  chunk = std::max<size_t>(1, static_cast<size_t>(std::min<uint64_t>(chunk, n ? n : 1)));
  std::vector<std::byte> buf(chunk);
  uint64_t done = 0;
  const Time deadline = step_deadline();
  conn_.set_write_deadline(deadline);
  while (done < n) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(chunk, n - done));
    test::fill_stream(out_seed_, out_pos_, std::span(buf.data(), k));
    auto w = conn_.write_all(std::span(buf.data(), k));
    report_.sent += w.bytes;
    report_.sent_sum.add(std::span(buf.data(), w.bytes));
    out_pos_ += w.bytes;
    done += w.bytes;
    if (w.error) {
      conn_.set_write_deadline(kNoDeadline);
      fail("send: " + describe(w.error) + " after " + std::to_string(done) + " of " +
           std::to_string(n) + " bytes");
      if (net::is_reset(w.error)) report_.write_reset = true;
      return false;
    }
    if (every > Duration::zero() && done < n) sleep_for(every);  // pacing is the point
  }
  conn_.set_write_deadline(kNoDeadline);
  return true;
}

bool Peer::send_raw(std::span<const std::byte> bytes) {
  conn_.set_write_deadline(step_deadline());
  auto w = conn_.write_all(bytes);
  conn_.set_write_deadline(kNoDeadline);
  report_.sent += w.bytes;
  report_.sent_sum.add(bytes.first(w.bytes));
  if (net::is_reset(w.error)) report_.write_reset = true;
  if (w.error) {
    fail("send_raw: " + describe(w.error));
    return false;
  }
  return true;
}

size_t Peer::read_some(std::span<std::byte> buf, Time deadline, End* end, std::error_code* ec) {
  conn_.set_read_deadline(deadline);
  auto r = conn_.read(buf);
  conn_.set_read_deadline(kNoDeadline);
  if (r.error || r.bytes == 0) {
    *ec = r.error;
    *end = classify(r.error);
    report_.end = *end;
    if (*end == End::reset) report_.read_reset = true;
    return 0;
  }
  const auto got = std::span<const std::byte>(buf.data(), r.bytes);
  report_.mismatches += test::count_mismatches(in_seed_, in_pos_, got);
  report_.received_sum.add(got);
  report_.received += r.bytes;
  in_pos_ += r.bytes;
  return r.bytes;
}

bool Peer::recv(uint64_t n, size_t chunk) { return recv_slowly(n, chunk, Duration::zero()); }

bool Peer::recv_slowly(uint64_t n, size_t chunk, Duration every) {
  chunk = std::max<size_t>(1, chunk);
  std::vector<std::byte> buf(chunk);
  uint64_t got = 0;
  const Time deadline = step_deadline();
  const uint64_t bad_before = report_.mismatches;
  while (got < n) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(chunk, n - got));
    End end = End::none;
    std::error_code ec;
    const size_t r = read_some(std::span(buf.data(), k), deadline, &end, &ec);
    if (r == 0) {
      fail("recv: " + describe(ec) + " after " + std::to_string(got) + " of " + std::to_string(n) +
           " bytes");
      return false;
    }
    got += r;
    if (every > Duration::zero() && got < n) sleep_for(every);  // pacing is the point
  }
  if (report_.mismatches != bad_before) {
    fail("recv: " + std::to_string(report_.mismatches - bad_before) + " of " + std::to_string(n) +
         " bytes differ from the expected stream");
    return false;
  }
  return true;
}

std::optional<std::string> Peer::recv_raw(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  conn_.set_read_deadline(step_deadline());
  while (got < n) {
    auto r = conn_.read(std::as_writable_bytes(std::span(out.data() + got, n - got)));
    if (r.error || r.bytes == 0) {
      conn_.set_read_deadline(kNoDeadline);
      report_.end = classify(r.error);
      if (report_.end == End::reset) report_.read_reset = true;
      fail("recv_raw: " + describe(r.error) + " after " + std::to_string(got) + " of " +
           std::to_string(n) + " bytes");
      return std::nullopt;
    }
    got += r.bytes;
  }
  conn_.set_read_deadline(kNoDeadline);
  report_.received += n;
  report_.received_sum.add(std::as_bytes(std::span(out)));
  return out;
}

bool Peer::eof() {
  std::byte b[1];
  End end = End::none;
  std::error_code ec;
  if (read_some(b, step_deadline(), &end, &ec) != 0) {
    fail("eof: a byte came instead of the end of stream, at " + std::to_string(in_pos_ - 1));
    return false;
  }
  if (end != End::eof) {
    fail("eof: " + describe(ec) + " instead of the end of stream");
    return false;
  }
  return true;
}

bool Peer::drain() {
  std::vector<std::byte> buf(64 * 1024);
  const Time deadline = step_deadline();
  for (;;) {
    End end = End::none;
    std::error_code ec;
    if (read_some(buf, deadline, &end, &ec) == 0) {
      if (end == End::timeout) {
        fail("drain: no end within the step's timeout, after " + std::to_string(in_pos_) +
             " stream bytes");
        return false;
      }
      return true;
    }
  }
}

bool Peer::drain_eof(uint64_t total) {
  if (!drain()) return false;
  if (report_.end != End::eof) {
    fail("drain_eof: " + std::string(to_string(report_.end)) + " after " + std::to_string(in_pos_) +
         " of " + std::to_string(total) + " bytes");
    return false;
  }
  if (in_pos_ != total) {
    fail("drain_eof: end of stream after " + std::to_string(in_pos_) + " bytes, expected " +
         std::to_string(total));
    return false;
  }
  if (report_.mismatches != 0) {
    fail("drain_eof: " + std::to_string(report_.mismatches) +
         " bytes differ from the expected stream");
    return false;
  }
  return true;
}

bool Peer::expect_reset(std::optional<uint64_t> at_most) {
  if (!drain()) return false;
  if (report_.end != End::reset) {
    fail("expect_reset: " + std::string(to_string(report_.end)) + " after " +
         std::to_string(in_pos_) + " bytes instead of a reset");
    return false;
  }
  if (at_most && in_pos_ > *at_most) {
    fail("expect_reset: " + std::to_string(in_pos_) + " bytes before the reset, at most " +
         std::to_string(*at_most) + " expected");
    return false;
  }
  return true;
}

bool Peer::shut_wr() {
  if (auto ec = conn_.shutdown_write()) {
    fail("shut_wr: " + ec.message());
    return false;
  }
  return true;
}

void Peer::reset() { conn_.close_with_reset(); }

void Peer::close() { conn_.close(); }

void Peer::pause(Duration d) { sleep_for(d); }

bool Peer::set_rcvbuf(int bytes) {
  const int r = conn_.fd().with_fd([bytes](int s) {
    return ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0 ? 0 : -errno;
  });
  if (r != 0) {
    fail("set_rcvbuf: failed");
    return false;
  }
  return true;
}

// ---- Script -------------------------------------------------------------------------------

namespace {

std::string ms(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

}  // namespace

Script& Script::call(std::string what, Custom step) {
  steps_.push_back({std::move(what), std::move(step)});
  return *this;
}

Script& Script::send(uint64_t n, size_t chunk) {
  return call("send " + std::to_string(n), [=](Peer& p) { return p.send(n, chunk); });
}
Script& Script::send_slowly(uint64_t n, size_t chunk, Duration every) {
  return call("send_slowly " + std::to_string(n) + " " + std::to_string(chunk) + " " + ms(every),
              [=](Peer& p) { return p.send_slowly(n, chunk, every); });
}
Script& Script::recv(uint64_t n, size_t chunk) {
  return call("recv " + std::to_string(n), [=](Peer& p) { return p.recv(n, chunk); });
}
Script& Script::recv_slowly(uint64_t n, size_t chunk, Duration every) {
  return call("recv_slowly " + std::to_string(n) + " " + std::to_string(chunk) + " " + ms(every),
              [=](Peer& p) { return p.recv_slowly(n, chunk, every); });
}
Script& Script::eof() {
  return call("eof", [](Peer& p) { return p.eof(); });
}
Script& Script::drain() {
  return call("drain", [](Peer& p) { return p.drain(); });
}
Script& Script::drain_eof(uint64_t total) {
  return call("drain_eof " + std::to_string(total), [=](Peer& p) { return p.drain_eof(total); });
}
Script& Script::expect_reset(std::optional<uint64_t> at_most) {
  return call("expect_reset" + (at_most ? " " + std::to_string(*at_most) : std::string()),
              [=](Peer& p) { return p.expect_reset(at_most); });
}
Script& Script::shut_wr() {
  return call("shut_wr", [](Peer& p) { return p.shut_wr(); });
}
Script& Script::reset() {
  return call("reset", [](Peer& p) {
    p.reset();
    return true;
  });
}
Script& Script::close() {
  return call("close", [](Peer& p) {
    p.close();
    return true;
  });
}
Script& Script::pause(Duration d) {
  return call("pause " + ms(d), [=](Peer& p) {
    p.pause(d);
    return true;
  });
}
Script& Script::stop_reading(Duration d) {
  return call("stop_reading " + ms(d), [=](Peer& p) {
    p.pause(d);
    return true;
  });
}
Script& Script::set_rcvbuf(int bytes) {
  return call("rcvbuf " + std::to_string(bytes), [=](Peer& p) { return p.set_rcvbuf(bytes); });
}

Script& Script::both(Script a, Script b) {
  std::string what = "both {" + a.describe() + "} {" + b.describe() + "}";
  std::replace(what.begin(), what.end(), '\n', ';');
  return call(std::move(what), [a = std::move(a), b = std::move(b)](Peer& p) {
    // One half writes and the other reads (say): they touch disjoint parts of the Peer,
    // and a failure of either is recorded under its lock.
    Notification done;
    bool ok_b = true;
    go([&] {
      ok_b = b.run_steps(p);
      done.notify();
    });
    const bool ok_a = a.run_steps(p);
    done.wait();
    return ok_a && ok_b && p.ok();
  });
}

bool Script::run(Peer& p) const { return run_steps(p) && p.ok(); }

// The steps alone, without looking at the Peer's report at the end: in both() the other
// half may still be reading (and counting mismatches) meanwhile.
bool Script::run_steps(Peer& p) const {
  for (size_t i = 0; i < steps_.size(); i++) {
    if (!steps_[i].run(p)) {
      p.prefix_failure("step " + std::to_string(i + 1) + " (" + steps_[i].what + "): ");
      return false;
    }
  }
  return true;
}

std::string Script::describe() const {
  std::string out;
  for (const auto& s : steps_) out += s.what + "\n";
  return out;
}

namespace {

uint64_t parse_size(const std::string& word, const std::string& step) {
  size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(word, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("peer script: " + step + ": bad size '" + word + "'");
  }
  const std::string suffix = word.substr(used);
  if (suffix.empty() || suffix == "B") return v;
  if (suffix == "K" || suffix == "KiB") return v << 10;
  if (suffix == "M" || suffix == "MiB") return v << 20;
  if (suffix == "G" || suffix == "GiB") return v << 30;
  throw std::invalid_argument("peer script: " + step + ": bad size '" + word +
                              "' (a number with an optional K, M or G)");
}

Duration parse_time(const std::string& word, const std::string& step) {
  auto d = conf::parse_duration(word);
  if (!d.ok()) {
    throw std::invalid_argument("peer script: " + step + ": bad duration '" + word + "' (" +
                                d.expected() + ")");
  }
  return std::chrono::duration_cast<Duration>(d.value());
}

}  // namespace

Script Script::parse(std::string_view text) {
  Script s;
  std::string all(text);
  std::replace(all.begin(), all.end(), '\n', ';');
  std::istringstream steps(all);
  std::string step;
  while (std::getline(steps, step, ';')) {
    std::istringstream words(step);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.empty()) continue;
    const std::string& op = w[0];
    auto need = [&](size_t lo, size_t hi) {
      if (w.size() - 1 < lo || w.size() - 1 > hi) {
        throw std::invalid_argument(
            "peer script: '" + step + "': " + op + " takes " + std::to_string(lo) +
            (hi != lo ? " to " + std::to_string(hi) : std::string()) + " argument(s)");
      }
    };
    if (op == "send") {
      need(1, 2);
      s.send(parse_size(w[1], step), w.size() > 2 ? parse_size(w[2], step) : 64 * 1024);
    } else if (op == "send_slowly") {
      need(3, 3);
      s.send_slowly(parse_size(w[1], step), parse_size(w[2], step), parse_time(w[3], step));
    } else if (op == "recv") {
      need(1, 2);
      s.recv(parse_size(w[1], step), w.size() > 2 ? parse_size(w[2], step) : 64 * 1024);
    } else if (op == "recv_slowly") {
      need(3, 3);
      s.recv_slowly(parse_size(w[1], step), parse_size(w[2], step), parse_time(w[3], step));
    } else if (op == "eof") {
      need(0, 0);
      s.eof();
    } else if (op == "drain") {
      need(0, 0);
      s.drain();
    } else if (op == "drain_eof") {
      need(1, 1);
      s.drain_eof(parse_size(w[1], step));
    } else if (op == "expect_reset") {
      need(0, 1);
      s.expect_reset(w.size() > 1 ? std::optional<uint64_t>(parse_size(w[1], step)) : std::nullopt);
    } else if (op == "shut_wr") {
      need(0, 0);
      s.shut_wr();
    } else if (op == "reset") {
      need(0, 0);
      s.reset();
    } else if (op == "close") {
      need(0, 0);
      s.close();
    } else if (op == "pause") {
      need(1, 1);
      s.pause(parse_time(w[1], step));
    } else if (op == "stop_reading") {
      need(1, 1);
      s.stop_reading(parse_time(w[1], step));
    } else if (op == "rcvbuf") {
      need(1, 1);
      s.set_rcvbuf(static_cast<int>(parse_size(w[1], step)));
    } else {
      throw std::invalid_argument("peer script: unknown step '" + op + "' in '" + step + "'");
    }
  }
  return s;
}

// ---- PeerServer ---------------------------------------------------------------------------

namespace {
net::Listener listen_loopback(const net::ListenOptions& options) {
  auto ln = net::Listener::listen(net::SocketAddress::loopback_v4(0), options);
  if (!ln) throw std::runtime_error("PeerServer: listen: " + ln.error().message());
  return std::move(*ln);
}
}  // namespace

PeerServer::PeerServer(Handler handler, net::ListenOptions options)
    : PeerServer(std::move(handler), options, false) {}

PeerServer::PeerServer(Handler handler, net::ListenOptions options, bool accept_late)
    : handler_(std::move(handler)), ln_(listen_loopback(options)), address_(*ln_.local_address()) {
  if (!accept_late) release_.notify();
  running_.add(1);
  go([this] {
    release_.wait();
    for (;;) {
      auto c = ln_.accept();
      if (!c) {
        if (net::is_resource_exhausted(c.error())) {
          sleep_for(10ms);  // the test process is out of descriptors: back off
          continue;
        }
        break;  // closed by stop()
      }
      const int index = accepted_.fetch_add(1);
      running_.add(1);
      handlers_.add(1);
      go([this, index, conn = std::move(*c)]() mutable {
        Peer peer(std::move(conn));
        std::list<Peer*>::iterator it;
        {
          std::lock_guard<Mutex> g(mu_);
          it = open_.insert(open_.end(), &peer);
        }
        handler_(peer, index);
        std::vector<std::shared_ptr<Notification>> wake;
        {
          std::lock_guard<Mutex> g(mu_);
          open_.erase(it);
          reports_.push_back(peer.report());
          finished_.fetch_add(1);
          wake.swap(finish_waiters_);
        }
        for (auto& w : wake) w->notify();
        peer.close();
        handlers_.done();
        running_.done();
      });
    }
    running_.done();
  });
}

PeerServer::~PeerServer() { stop(); }

void PeerServer::release_accepts() { release_.notify(); }

void PeerServer::stop(Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  release_accepts();
  ln_.close();
  handlers_.wait_until(now() + grace);
  {
    std::lock_guard<Mutex> g(mu_);
    for (Peer* p : open_) p->reset();
  }
  running_.wait();
}

bool PeerServer::wait_finished(int n, Time deadline) {
  for (;;) {
    auto w = std::make_shared<Notification>();
    {
      std::lock_guard<Mutex> g(mu_);
      if (finished_.load() >= n) return true;
      finish_waiters_.push_back(w);
    }
    if (!w->wait_until(deadline)) return false;
  }
}

std::vector<Report> PeerServer::reports() const {
  std::lock_guard<Mutex> g(mu_);
  return reports_;
}

}  // namespace parkway::peer
