// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a strict,
// incremental parser for the header a trusted proxy in front of parkway prepends to a
// connection, and the encoders for the header parkway prepends to an upstream connection.
// Pure functions of bytes: no sockets, no allocation.
//
// Parsing. parse_proxy_header(bytes read so far, mode) answers one of
//   need_more   every byte so far can still start a valid header: read more (within the
//               listener's proxy_protocol_timeout);
//   complete    the header, and how many bytes it took: the stream starts after them;
//   invalid     the reason, a ProxyError whose name is a counter label and a log word.
// It parses from the first byte on every call (a header is at most kMaxProxyV2Bytes, and
// until the end of a v2 header has arrived only its first 16 bytes are looked at), so the
// answer depends only on the bytes, never on how they were split into reads: a prefix of
// the bytes answers need_more or exactly what the whole answers, and bytes after a header
// never change it. An invalid header is refused as early as its first wrong byte.
//
//   v1 (text)   "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"
//               "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n"
//               "PROXY UNKNOWN\r\n"  (anything after "UNKNOWN " up to the CRLF is ignored)
//     At most 107 bytes with the CRLF. Exactly one space between fields; ports 0..65535 and
//     IPv4 octets 0..255 in decimal without leading zeros; IPv6 as inet_pton reads it (hex
//     digits of either case, "::", a trailing dotted quad); the addresses of the family
//     the protocol names; only printable ASCII; the line ends with CR LF, never a lone CR
//     or LF.
//   v2 (binary) the 12-byte signature \r\n\r\n\0\r\nQUIT\n, version 2 and a command (LOCAL
//     or PROXY), a family byte, a 16-bit length, the address block and TLVs:
//       - family: AF_UNSPEC/INET/INET6/UNIX (high nibble 0..3), UNSPEC/STREAM/DGRAM (low
//         nibble 0..2); other nibbles are invalid, as the specification requires.
//       - PROXY TCP4 (0x11) and TCP6 (0x21) give the client's addresses. PROXY with any
//         other valid family (UNSPEC, UDP, UNIX, ...) falls back, as the specification
//         asks, to UNSPEC: the header is accepted and the transport addresses are used.
//       - LOCAL (health checks from the proxy itself): the block is skipped whatever it
//         holds; use the transport addresses.
//       - the length must cover the family's address block (12 bytes for *4, 36 for *6,
//         216 for UNIX) under PROXY, and the whole header is at most kMaxProxyV2Bytes.
//       - TLVs after a PROXY address block are walked: each must fit in the header (type,
//         16-bit length, value). A PP2_TYPE_CRC32C TLV must be 4 bytes and match the
//         CRC32c of the header. Others are skipped, unread.
//   any         v1 or v2, told apart by the first byte ('P' or '\r').
//
// Sending. encode_proxy_v1/v2(client, destination) write the header before the first byte
// to an upstream: TCP4 when both addresses are IPv4, else TCP6 (an IPv4 one written as
// ::ffff:a.b.c.d); when either is not an IP address (a Unix-socket client), v1 writes
// "PROXY UNKNOWN\r\n" and v2 a LOCAL header, so the upstream uses the connection's own
// addresses. Senders never write TLVs. The result is a fixed-size value: no allocation.
//
// Round trip (the fuzz target's property): encode_proxy_header(parsed header) parses to the
// same version, command, family and addresses, and is byte-identical to what was parsed
// when the header was in canonical form: nothing skipped (skipped_bytes == 0); for v2 the
// family byte 0x11 or 0x21 with addresses, else UNSPEC (0x00: a LOCAL or fallen-back header
// is re-encoded with family UNSPEC); for v1 TCP6 the addresses written as inet_ntop writes
// them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "netpoll/address.h"

namespace parkway::proxy::wire {

inline constexpr std::size_t kMaxProxyV1Bytes = 107;   // the specification's, with the CRLF
inline constexpr std::size_t kMaxProxyV2Bytes = 4096;  // 16-byte header, addresses and TLVs
inline constexpr std::size_t kProxyV2HeaderBytes = 16;

enum class ProxyMode { v1, v2, any };
enum class ProxyVersion : std::uint8_t { v1 = 1, v2 = 2 };
// LOCAL: the connection is the sending proxy's own (a health check); v1 has only PROXY.
enum class ProxyCommand : std::uint8_t { local, proxy };
// What the header says the client's connection was, as parkway reads it: unspec is v1
// "UNKNOWN", every LOCAL header, and v2 PROXY with a family other than TCP4 or TCP6.
enum class ProxyFamily : std::uint8_t { unspec, tcp4, tcp6 };

// Why a header was refused: name (a counter label, the word in the log line) and meaning.
#define PARKWAY_PROXY_ERRORS(X)                                                             \
  X(not_proxy_protocol, "the first bytes are neither \"PROXY \" (v1) nor the v2 signature") \
  X(version_not_allowed, "a header of the version the listener does not accept")            \
  X(v1_too_long, "no CRLF within the 107 bytes a v1 line may have")                         \
  X(v1_bad_line_end, "a CR not followed by LF, or an LF without a CR, in a v1 line")        \
  X(v1_bad_character, "a byte other than printable ASCII in a v1 line")                     \
  X(v1_bad_protocol, "a v1 protocol other than TCP4, TCP6 or UNKNOWN")                      \
  X(v1_bad_fields, "not exactly four fields after TCP4/TCP6, separated by single spaces")   \
  X(v1_bad_address, "a v1 address that is not strictly of the family TCP4 or TCP6 names")   \
  X(v1_bad_port, "a v1 port that is not 0..65535 in decimal without leading zeros")         \
  X(v2_bad_version, "a v2 version other than 2")                                            \
  X(v2_bad_command, "a v2 command other than LOCAL (0) or PROXY (1)")                       \
  X(v2_bad_family, "a v2 address family above 3 (UNIX) or transport above 2 (DGRAM)")       \
  X(v2_too_long, "a v2 header longer than kMaxProxyV2Bytes (4096) in all")                  \
  X(v2_short_addresses, "a v2 PROXY length shorter than its family's address block")        \
  X(v2_bad_tlv, "a v2 TLV that runs past the end of the header")                            \
  X(v2_bad_checksum, "a v2 CRC32c TLV that is not 4 bytes, repeated, or does not match")

enum class ProxyError : std::uint8_t {
  none,
#define PARKWAY_PROXY_ERROR_ENUM(name, help) name,
  PARKWAY_PROXY_ERRORS(PARKWAY_PROXY_ERROR_ENUM)
#undef PARKWAY_PROXY_ERROR_ENUM
};

// "v1_too_long"; "none" for ProxyError::none.
std::string_view to_string(ProxyError error);
// The meaning, as in the list above.
std::string_view describe(ProxyError error);

struct ProxyHeader {
  ProxyVersion version = ProxyVersion::v1;
  ProxyCommand command = ProxyCommand::proxy;
  ProxyFamily family = ProxyFamily::unspec;
  // The client and the address it connected to, for PROXY TCP4/TCP6 (both IPv4 or both
  // IPv6, possibly IPv4-mapped); empty otherwise: use the connection's own addresses.
  net::SocketAddress source;
  net::SocketAddress destination;
  // Bytes of the header that were accepted without being interpreted: v2 TLVs, a LOCAL
  // block, the addresses of a family that fell back to unspec; v1 what follows "UNKNOWN".
  std::uint16_t skipped_bytes = 0;
  // v2: the family and transport byte as sent (0x11 TCP4, 0x21 TCP6, 0x12 UDP4, 0x31 UNIX
  // stream, ...), for the log line of a header that fell back; 0 for v1.
  std::uint8_t v2_family = 0;

  bool has_addresses() const { return !source.empty(); }
  bool operator==(const ProxyHeader&) const = default;
};

enum class ProxyStatus : std::uint8_t { need_more, complete, invalid };

struct ProxyParse {
  ProxyStatus status = ProxyStatus::need_more;
  ProxyError error = ProxyError::none;  // set when invalid
  std::size_t consumed = 0;             // when complete: the header's length in bytes
  ProxyHeader header;                   // when complete
};

// The header at the start of `data`, the bytes read so far, under `mode`.
ProxyParse parse_proxy_header(std::span<const std::byte> data, ProxyMode mode);

// An encoded header: at most 104 bytes for v1, 52 for v2.
struct EncodedProxyHeader {
  std::array<std::byte, kMaxProxyV1Bytes> bytes{};
  std::size_t size = 0;

  std::span<const std::byte> span() const { return {bytes.data(), size}; }
  std::string_view text() const {  // for v1 and tests; v2 is binary
    return {reinterpret_cast<const char*>(bytes.data()), size};
  }
};

// The header for a connection from `client` to `destination`, as described above.
EncodedProxyHeader encode_proxy_v1(const net::SocketAddress& client,
                                   const net::SocketAddress& destination);
EncodedProxyHeader encode_proxy_v2(const net::SocketAddress& client,
                                   const net::SocketAddress& destination);
// "PROXY UNKNOWN\r\n".
EncodedProxyHeader encode_proxy_v1_unknown();
// A v2 LOCAL header with family UNSPEC and no address block.
EncodedProxyHeader encode_proxy_v2_local();
// The header that says what `header` says, in its version: a v2 LOCAL or PROXY-unspec
// header is written with family UNSPEC and no address block.
EncodedProxyHeader encode_proxy_header(const ProxyHeader& header);

// `address` with an IPv4-mapped IPv6 address (::ffff:a.b.c.d) turned into IPv4, port kept;
// any other address unchanged. For callers that prefer TCP4 for IPv4 clients of a
// dual-stack listener.
net::SocketAddress unmap_ipv4(const net::SocketAddress& address);

}  // namespace parkway::proxy::wire
