// TLS ClientHello inspection for routing by server name without terminating TLS: given the
// bytes a client has sent so far, find the server_name (SNI) it asks for. Nothing is
// consumed or changed: the caller forwards every byte it read to the upstream. A pure
// function of bytes: no sockets, no allocation.
//
// inspect_client_hello(bytes so far) answers one status (the names are counter labels):
//   need_more   every byte so far can still start a ClientHello within the bound: read more
//               (within the listener's tls_inspect_timeout);
//   found       a complete ClientHello with a valid host_name: server_name() has it, in
//               lower case;
//   no_sni      a complete ClientHello without a server_name extension;
//   not_tls     the first record is not a TLS handshake record of version 3.x: the client
//               speaks something else (plain HTTP, SSH, SSLv2, ...);
//   too_large   the ClientHello does not end within the first kMaxClientHelloBytes;
//   malformed   TLS, but a record or the ClientHello breaks the rules below; error says
//               which (a log word; the counter label is the status).
//
// What is read (RFC 8446 section 4.1.2 and 5.1, RFC 5246 section 7.4.1.2, RFC 6066 section 3):
//   records      type 22 (handshake), version 3.0..3.4, length 1..16384. The ClientHello
//                may be fragmented over any number of records (handshake reassembly), each
//                of which must be a handshake record until the ClientHello's last byte.
//   ClientHello  handshake type 1, a 24-bit length; legacy_version 3.x, 32 bytes of random,
//                session id 0..32 bytes, cipher suites (an even count of bytes, at least 2),
//                compression methods (at least 1), then either nothing (no extensions) or
//                extensions that exactly fill the rest of the message: each extension's
//                length within it, no bytes left over.
//   server_name  at most one such extension; its list exactly fills it and holds exactly
//                one entry, of type host_name (as OpenSSL requires), 1..253 bytes, a valid
//                host name as conf/server_name.h defines it: ASCII letters, digits and '-'
//                in labels of 1..63, no trailing dot, not an IP literal, no '_'.
//                A name that is not valid is malformed (invalid_host_name), not no_sni:
//                the client asked for something, and it was nothing parkway can route.
// Other extensions are skipped, unread.
//
// Bound: kMaxClientHelloBytes (16 KiB) of raw bytes, record headers included, is all that
// is ever looked at, so the caller's buffer for the preamble never needs more. Real
// ClientHellos are 200 bytes to 2 KiB (with post-quantum key shares) in one record.
//
// Incremental: like proxy_protocol.h, it reads from the first byte on every call and each
// check looks only at bytes that have arrived, in order; the answer depends only on the
// bytes, not on how reads split them: a prefix answers need_more or exactly what the whole
// answers. While the ClientHello is incomplete only record headers (and its first four
// bytes) are read, so a call costs O(records), and the body is parsed once, when its last
// byte has arrived.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace parkway::proxy::wire {

inline constexpr std::size_t kMaxClientHelloBytes = 16384;
inline constexpr std::size_t kMaxTlsRecordPayload = 16384;  // 2^14, RFC 8446 section 5.1
inline constexpr std::size_t kMaxServerNameBytes = 253;

enum class HelloStatus : std::uint8_t { need_more, found, no_sni, not_tls, too_large, malformed };
std::string_view to_string(HelloStatus status);

// Why a ClientHello was not_tls, too_large or malformed: name (the log word), the status it
// comes with, and meaning.
#define PARKWAY_CLIENT_HELLO_ERRORS(X)                                                            \
  X(not_handshake, not_tls, "the first byte is not that of a TLS handshake record (22)")          \
  X(bad_record_version, not_tls, "the first record's version is not 3.0..3.4 (SSL 3 .. TLS 1.3)") \
  X(bad_record_length, malformed, "a record of 0 bytes or of more than 16384")                    \
  X(interleaved_record, malformed,                                                                \
    "a record other than a 3.x handshake record before the ClientHello ends")                     \
  X(not_client_hello, malformed, "the first handshake message is not a ClientHello (1)")          \
  X(too_large, too_large, "the ClientHello does not end within the first 16384 bytes")            \
  X(bad_hello, malformed,                                                                         \
    "the version, random, session id, cipher suites or compression methods do not fit")           \
  X(bad_extensions, malformed, "the extensions do not exactly fill the rest of the ClientHello")  \
  X(bad_server_name, malformed,                                                                   \
    "a server_name extension that is repeated, malformed, or not exactly one host_name")          \
  X(invalid_host_name, malformed, "a host_name that is not a valid host name")

enum class HelloError : std::uint8_t {
  none,
#define PARKWAY_HELLO_ERROR_ENUM(name, status, help) name,
  PARKWAY_CLIENT_HELLO_ERRORS(PARKWAY_HELLO_ERROR_ENUM)
#undef PARKWAY_HELLO_ERROR_ENUM
};
std::string_view to_string(HelloError error);
std::string_view describe(HelloError error);

// A host name of at most kMaxServerNameBytes, stored inline.
class ServerName {
 public:
  std::string_view view() const { return {chars_.data(), size_}; }
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // Appends c; false (and nothing appended) when full.
  bool push_back(char c) {
    if (size_ == chars_.size()) return false;
    chars_[size_++] = c;
    return true;
  }
  void clear() { size_ = 0; }
  friend bool operator==(const ServerName& a, const ServerName& b) { return a.view() == b.view(); }

 private:
  std::array<char, kMaxServerNameBytes> chars_{};
  std::uint8_t size_ = 0;
};

struct ClientHelloResult {
  HelloStatus status = HelloStatus::need_more;
  HelloError error = HelloError::none;  // set for not_tls, too_large and malformed
  ServerName server_name;               // found: lower case, valid; empty otherwise
  // found and no_sni: bytes up to the ClientHello's last byte, record headers included.
  std::size_t hello_end = 0;

  bool operator==(const ClientHelloResult&) const = default;
};

ClientHelloResult inspect_client_hello(std::span<const std::byte> data);

}  // namespace parkway::proxy::wire
