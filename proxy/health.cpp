#include "proxy/health.h"

#include <algorithm>
#include <cstdio>

#include "netpoll/socket.h"
#include "proxy/log/log.h"

namespace parkway::proxy {
namespace {

constexpr size_t kMaxReply = 4096;  // what a check reads of a reply, at most

std::string seconds_text(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

HostHealth::HostHealth(std::string who, bool checked)
    : who_(std::move(who)), state_(checked ? HealthState::unchecked : HealthState::healthy) {
  sched::SpinGuard g(lock_);
  since_ = now();
  why_ = checked ? "not checked yet" : "new";
}

bool HostHealth::usable(Time t, bool checks_on) {
  const HealthState s = state_.load(std::memory_order_relaxed);
  if (s == HealthState::healthy) return true;
  if (s != HealthState::ejected || checks_on || t < until_fast_.load(std::memory_order_relaxed)) {
    return false;
  }
  sched::SpinGuard g(lock_);
  if (state_.load() == HealthState::ejected && t >= until_) {
    last_ejection_end_ = t;
    move_to(HealthState::healthy, "the ejection is over");
  }
  return state_.load() == HealthState::healthy;
}

void HostHealth::move_to(HealthState next, std::string why, Time until) {
  const HealthState from = state_.load();
  if (from == next) return;
  const Time t = now();
  log_warn(who_, ": ", to_string(from), " -> ", to_string(next),
           next == HealthState::ejected ? " for " + seconds_text(until - t) : std::string(), ": ",
           why);
  since_ = t;
  why_ = std::move(why);
  until_ = until;
  until_fast_.store(until, std::memory_order_relaxed);
  state_.store(next, std::memory_order_relaxed);
  transitions[static_cast<size_t>(next)].fetch_add(1, std::memory_order_relaxed);
}

void HostHealth::connect_failed(std::string_view why, const conf::Outlier& outlier,
                                bool cluster_may_eject) {
  if (!outlier.enabled) return;
  sched::SpinGuard g(lock_);
  if (consecutive_failures_ == 0) {
    same_failure_ = true;
  } else if (last_failure_ != why) {
    same_failure_ = false;
  }
  last_failure_ = std::string(why);
  consecutive_failures_++;
  failing_fast_.store(true, std::memory_order_relaxed);
  if (state_.load() != HealthState::healthy ||
      consecutive_failures_ < outlier.consecutive_failures || !cluster_may_eject) {
    return;
  }
  const Time t = now();
  // The multiplier counts ejections since the address was last healthy for max_ejection.
  if (ejection_count_ > 0 && t - last_ejection_end_ > outlier.max_ejection) ejection_count_ = 0;
  ejection_count_++;
  const Duration length = std::min<Duration>(
      outlier.base_ejection * static_cast<int64_t>(ejection_count_), outlier.max_ejection);
  ejections.fetch_add(1, std::memory_order_relaxed);
  const std::string n = std::to_string(consecutive_failures_);
  move_to(HealthState::ejected,
          same_failure_ ? std::string(why) + " " + n + " times in a row"
                        : n + " connects in a row failed, the last: " + std::string(why),
          add_saturating(t, length));
  consecutive_failures_ = 0;
  failing_fast_.store(false, std::memory_order_relaxed);
}

void HostHealth::connect_succeeded() {
  if (!failing_fast_.load(std::memory_order_relaxed)) return;  // the usual case: no lock
  sched::SpinGuard g(lock_);
  consecutive_failures_ = 0;
  failing_fast_.store(false, std::memory_order_relaxed);
}

void HostHealth::check_passed(const conf::HealthCheck& hc) {
  checks_passed.fetch_add(1, std::memory_order_relaxed);
  sched::SpinGuard g(lock_);
  const Time t = now();
  last_check_ = t;
  last_check_passed_ = true;
  last_check_why_.clear();
  fails_ = 0;
  passes_++;
  switch (state_.load()) {
    case HealthState::unchecked: move_to(HealthState::healthy, "its first check passed"); break;
    case HealthState::failing:
      if (passes_ >= hc.rise) {
        move_to(HealthState::healthy, std::to_string(passes_) + " checks in a row passed");
      }
      break;
    case HealthState::ejected:
      if (t >= until_) {
        last_ejection_end_ = t;
        move_to(HealthState::healthy, "the ejection is over and a check passed");
      }
      break;
    case HealthState::healthy:
    case HealthState::draining: break;
  }
}

void HostHealth::check_failed(std::string_view why, const conf::HealthCheck& hc) {
  checks_failed.fetch_add(1, std::memory_order_relaxed);
  sched::SpinGuard g(lock_);
  last_check_ = now();
  last_check_passed_ = false;
  last_check_why_ = std::string(why);
  passes_ = 0;
  fails_++;
  const HealthState s = state_.load();
  if (s == HealthState::unchecked) {
    move_to(HealthState::failing, std::string(why) + " (its first check)");
  } else if (s == HealthState::healthy && fails_ >= hc.fall) {
    move_to(HealthState::failing,
            std::string(why) + " (" + std::to_string(fails_) + " checks in a row)");
  }
}

void HostHealth::checks_removed() {
  sched::SpinGuard g(lock_);
  const HealthState s = state_.load();
  if (s == HealthState::unchecked || s == HealthState::failing) {
    move_to(HealthState::healthy, "active checks were turned off");
  }
}

HostHealth::Report HostHealth::report() const {
  sched::SpinGuard g(lock_);
  return {state_.load(),      since_,         why_, until_, ejections.load(), last_check_,
          last_check_passed_, last_check_why_};
}

std::string printable_bytes(std::string_view bytes) {
  std::string out;
  for (const unsigned char c : bytes.substr(0, 64)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (bytes.size() > 64) out += "...";
  return out;
}

std::string run_health_check(const net::SocketAddress& address, const conf::HealthCheck& hc) {
  net::SocketAddress target = address;
  if (hc.port != 0) target.set_port(static_cast<uint16_t>(hc.port));
  const Time deadline = deadline_after(hc.timeout);
  auto c = net::Conn::dial(target, deadline);
  if (!c) {
    if (net::is_timeout(c.error())) {
      return "connect timed out after " + seconds_text(hc.timeout);
    }
    if (net::is_refused(c.error())) return "connect refused";
    return "connect failed: " + c.error().message();
  }
  c->set_deadline(deadline);
  const std::string& send = hc.send_bytes();
  if (!send.empty()) {
    if (auto w = c->write_all(std::as_bytes(std::span(send.data(), send.size()))); w.error) {
      return "send failed: " + w.error.message();
    }
  }
  const std::string& expect = hc.expect_bytes();
  std::string reply;
  std::string failure;
  if (!expect.empty()) {
    std::array<std::byte, 1024> buf;
    for (;;) {
      const bool prefix = hc.match == conf::HealthMatch::prefix;
      if (prefix && reply.size() >= expect.size()) {
        if (reply.compare(0, expect.size(), expect) != 0) failure = "mismatch";
        break;
      }
      if (!prefix && reply.find(expect) != std::string::npos) break;
      if (reply.size() >= kMaxReply) {
        failure = "mismatch";
        break;
      }
      if (prefix && !reply.empty() && expect.compare(0, reply.size(), reply) != 0) {
        failure = "mismatch";  // already differs
        break;
      }
      const auto r = c->read(std::span(buf.data(), std::min(buf.size(), kMaxReply - reply.size())));
      if (r.error) {
        failure = net::is_timeout(r.error) ? "no matching reply within " + seconds_text(hc.timeout)
                                           : "reading the reply failed: " + r.error.message();
        break;
      }
      if (r.bytes == 0) {
        failure = "the connection closed before a matching reply";
        break;
      }
      reply.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
    }
  }
  c->close();
  if (failure.empty()) return {};
  return "expect \"" + printable_bytes(expect) + "\" got \"" + printable_bytes(reply) + "\"" +
         (failure == "mismatch" ? std::string() : " (" + failure + ")");
}

}  // namespace parkway::proxy
