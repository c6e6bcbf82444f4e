// ClientHello inspection; what is read and why is in client_hello.h.
//
// Two passes over the bytes:
//   1. the records: walk record headers from the start, checking each as its bytes arrive,
//      and count the handshake bytes they carry until the ClientHello's length (from its
//      first four bytes) is covered; until then, answer need_more.
//   2. the ClientHello: a Cursor reads the handshake message sequentially across the
//      records (skipping their headers, which pass 1 validated), under a budget of the
//      message's length, so no read can pass the message or the buffer, and nothing is
//      copied except the server name.
#include "proxy/wire/client_hello.h"

#include <algorithm>

#include "conf/server_name.h"

namespace parkway::proxy::wire {
namespace {

constexpr std::uint8_t kHandshakeRecord = 22;
constexpr std::uint8_t kClientHello = 1;
constexpr std::uint16_t kServerNameExtension = 0;
constexpr std::uint8_t kHostNameType = 0;
constexpr std::size_t kRecordHeaderBytes = 5;
constexpr std::size_t kHandshakeHeaderBytes = 4;

ClientHelloResult fail(HelloError error) {
  ClientHelloResult r;
  r.error = error;
  switch (error) {
#define PARKWAY_HELLO_ERROR_STATUS(name, status_name, help) \
  case HelloError::name: r.status = HelloStatus::status_name; break;
    PARKWAY_CLIENT_HELLO_ERRORS(PARKWAY_HELLO_ERROR_STATUS)
#undef PARKWAY_HELLO_ERROR_STATUS
    case HelloError::none: break;
  }
  return r;
}

std::size_t be16(const std::uint8_t* p) { return (std::size_t{p[0]} << 8) | p[1]; }

char lower(std::uint8_t c) { return static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c); }

// Reads a handshake message that may be fragmented over records. Precondition: the records
// from `pos` on were validated by pass 1 and carry at least `budget` handshake bytes.
class Cursor {
 public:
  Cursor(const std::uint8_t* p, std::size_t record_begin, std::size_t budget)
      : p_(p), pos_(record_begin), budget_(budget) {}

  std::size_t remaining() const { return budget_; }
  std::size_t position() const { return pos_; }

  bool u8(std::uint8_t* out) {
    if (budget_ == 0) return false;
    enter_record();
    *out = p_[pos_++];
    --record_left_;
    --budget_;
    return true;
  }
  bool u16(std::size_t* out) {
    std::uint8_t hi = 0;
    std::uint8_t lo = 0;
    if (!u8(&hi) || !u8(&lo)) return false;
    *out = (std::size_t{hi} << 8) | lo;
    return true;
  }
  bool skip(std::size_t n) {
    if (n > budget_) return false;
    budget_ -= n;
    while (n > 0) {
      enter_record();
      const std::size_t step = std::min(n, record_left_);
      pos_ += step;
      record_left_ -= step;
      n -= step;
    }
    return true;
  }

  // Reads a sub-block of `length` bytes with `parse(cursor)`, which sees only that block
  // as its budget; false when the block does not fit. The block's unread rest is skipped.
  template <class Fn>
  bool block(std::size_t length, Fn parse) {
    if (length > budget_) return false;
    const std::size_t after = budget_ - length;
    budget_ = length;
    const bool ok = parse(*this);
    if (!ok) return false;
    skip(budget_);
    budget_ = after;
    return true;
  }

 private:
  // Steps over record headers (of records pass 1 checked to be non-empty).
  void enter_record() {
    while (record_left_ == 0) {
      record_left_ = be16(p_ + pos_ + 3);
      pos_ += kRecordHeaderBytes;
    }
  }

  const std::uint8_t* p_;
  std::size_t pos_;
  std::size_t record_left_ = 0;
  std::size_t budget_;
};

// The server_name extension's data (RFC 6066 section 3), all of the cursor's budget.
HelloError parse_server_name(Cursor& c, ServerName* out) {
  std::size_t list_length = 0;
  if (!c.u16(&list_length) || list_length != c.remaining()) return HelloError::bad_server_name;
  std::uint8_t type = 0;
  std::size_t name_length = 0;
  if (!c.u8(&type) || type != kHostNameType || !c.u16(&name_length) || name_length == 0 ||
      name_length != c.remaining()) {
    return HelloError::bad_server_name;  // not exactly one host_name entry
  }
  if (name_length > kMaxServerNameBytes) return HelloError::invalid_host_name;
  for (std::size_t i = 0; i < name_length; ++i) {
    std::uint8_t b = 0;
    c.u8(&b);  // cannot fail: name_length == remaining()
    out->push_back(lower(b));
  }
  if (!conf::is_valid_host_name(out->view())) {
    out->clear();
    return HelloError::invalid_host_name;
  }
  return HelloError::none;
}

// The ClientHello body after the handshake header, all of the cursor's budget.
HelloError parse_hello_body(Cursor& c, ServerName* out, bool* has_sni) {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  if (!c.u8(&major) || !c.u8(&minor) || major != 3) return HelloError::bad_hello;
  if (!c.skip(32)) return HelloError::bad_hello;  // random
  std::uint8_t session_id = 0;
  if (!c.u8(&session_id) || session_id > 32 || !c.skip(session_id)) return HelloError::bad_hello;
  std::size_t suites = 0;
  if (!c.u16(&suites) || suites < 2 || suites % 2 != 0 || !c.skip(suites)) {
    return HelloError::bad_hello;
  }
  std::uint8_t compression = 0;
  if (!c.u8(&compression) || compression < 1 || !c.skip(compression)) return HelloError::bad_hello;
  if (c.remaining() == 0) return HelloError::none;  // no extensions (TLS 1.2 and before)

  std::size_t extensions = 0;
  if (!c.u16(&extensions) || extensions != c.remaining()) return HelloError::bad_extensions;
  while (c.remaining() > 0) {
    std::size_t type = 0;
    std::size_t length = 0;
    if (!c.u16(&type) || !c.u16(&length) || length > c.remaining()) {
      return HelloError::bad_extensions;
    }
    if (type != kServerNameExtension) {
      c.skip(length);  // cannot fail: length <= remaining()
      continue;
    }
    if (*has_sni) return HelloError::bad_server_name;  // "MUST NOT be more than one"
    *has_sni = true;
    HelloError error = HelloError::none;
    c.block(length, [&](Cursor& inner) {
      error = parse_server_name(inner, out);
      return error == HelloError::none;
    });
    if (error != HelloError::none) return error;
  }
  return HelloError::none;
}

}  // namespace

std::string_view to_string(HelloStatus status) {
  switch (status) {
    case HelloStatus::need_more: return "need_more";
    case HelloStatus::found: return "found";
    case HelloStatus::no_sni: return "no_sni";
    case HelloStatus::not_tls: return "not_tls";
    case HelloStatus::too_large: return "too_large";
    case HelloStatus::malformed: return "malformed";
  }
  return "unknown";
}

std::string_view to_string(HelloError error) {
  switch (error) {
    case HelloError::none: return "none";
#define PARKWAY_HELLO_ERROR_NAME(name, status, help) \
  case HelloError::name: return #name;
      PARKWAY_CLIENT_HELLO_ERRORS(PARKWAY_HELLO_ERROR_NAME)
#undef PARKWAY_HELLO_ERROR_NAME
  }
  return "unknown";
}

std::string_view describe(HelloError error) {
  switch (error) {
    case HelloError::none: return "no error";
#define PARKWAY_HELLO_ERROR_HELP(name, status, help) \
  case HelloError::name: return help;
      PARKWAY_CLIENT_HELLO_ERRORS(PARKWAY_HELLO_ERROR_HELP)
#undef PARKWAY_HELLO_ERROR_HELP
  }
  return "unknown";
}

ClientHelloResult inspect_client_hello(std::span<const std::byte> data) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  // Only the first kMaxClientHelloBytes count: what a longer input holds past them cannot
  // change the answer, so a ClientHello that has not ended by then is too_large.
  const std::size_t n = std::min(data.size(), kMaxClientHelloBytes);
  const ClientHelloResult more =
      data.size() >= kMaxClientHelloBytes ? fail(HelloError::too_large) : ClientHelloResult{};

  // Pass 1: the records.
  std::uint8_t handshake[kHandshakeHeaderBytes] = {};
  std::size_t handshake_seen = 0;  // handshake bytes the records so far carry
  std::size_t message = 0;         // the ClientHello's length with its header, once known
  std::size_t end = 0;             // where its last byte is, once it has arrived
  std::size_t pos = 0;
  while (true) {
    const bool first = pos == 0;
    const HelloError wrong_record =
        first ? HelloError::not_handshake : HelloError::interleaved_record;
    if (pos >= n) return more;
    if (p[pos] != kHandshakeRecord) return fail(wrong_record);
    if (pos + 1 >= n) return more;
    if (p[pos + 1] != 3) return fail(first ? HelloError::bad_record_version : wrong_record);
    if (pos + 2 >= n) return more;
    if (p[pos + 2] > 4) return fail(first ? HelloError::bad_record_version : wrong_record);
    if (pos + kRecordHeaderBytes > n) return more;
    const std::size_t length = be16(p + pos + 3);
    if (length == 0 || length > kMaxTlsRecordPayload) return fail(HelloError::bad_record_length);

    const std::size_t payload = pos + kRecordHeaderBytes;
    const std::size_t available = std::min(length, n - payload);
    for (std::size_t i = 0; i < available && handshake_seen + i < kHandshakeHeaderBytes; ++i) {
      handshake[handshake_seen + i] = p[payload + i];
      if (handshake_seen + i == 0 && handshake[0] != kClientHello) {
        return fail(HelloError::not_client_hello);
      }
      if (handshake_seen + i == kHandshakeHeaderBytes - 1) {
        message = kHandshakeHeaderBytes + ((std::size_t{handshake[1]} << 16) |
                                           (std::size_t{handshake[2]} << 8) | handshake[3]);
        // It needs at least one record header: it cannot end within the bound.
        if (message + kRecordHeaderBytes > kMaxClientHelloBytes) {
          return fail(HelloError::too_large);
        }
      }
    }
    if (message != 0 && handshake_seen + available >= message) {
      end = payload + (message - handshake_seen);
      break;
    }
    handshake_seen += available;
    if (available < length) return more;
    pos = payload + length;
  }

  // Pass 2: the ClientHello, all of which has arrived.
  Cursor c(p, 0, message);
  c.skip(kHandshakeHeaderBytes);
  ClientHelloResult r;
  bool has_sni = false;
  const HelloError error = parse_hello_body(c, &r.server_name, &has_sni);
  if (error != HelloError::none) return fail(error);
  r.status = has_sni ? HelloStatus::found : HelloStatus::no_sni;
  r.hello_end = end;
  return r;
}

}  // namespace parkway::proxy::wire
