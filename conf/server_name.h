// Server names for routing by TLS SNI: what a valid host name is (for the names clients
// send and the names routes list), and the patterns a route's server_names hold.
//
//   exact:     "api.example.com"   matches api.example.com only
//   wildcard:  "*.example.com"     matches one or more labels in front of example.com:
//                                  a.example.com and a.b.example.com, not example.com
//
// A host name (RFC 6066 section 3 with RFC 1123 labels): dot-separated labels of 1..63
// letters, digits and '-' (not first or last), 253 characters in all, ASCII only (an
// internationalised name is sent, and written, as its "xn--" A-labels), no trailing dot,
// and not an IP literal (a name whose last label is all digits is taken for an IPv4
// address and refused; ':' is never in a name). '_' is refused: it is not in host names.
// Names compare case-insensitively: patterns are kept, and printed, in lower case.
//
// A wildcard is "*." followed by a host name; '*' anywhere else ("a*.example.com",
// "*example.com", "*") is refused. How routes use the patterns (exact names before
// wildcards, the longest wildcard first) is proxy/wire/server_names.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "conf/parsed.h"

namespace parkway::conf {

inline constexpr std::size_t max_host_name_length = 253;

// Whether `name` is a valid host name as described above (either case).
bool is_valid_host_name(std::string_view name);

struct ServerNamePattern {
  std::string name;  // lower case; for a wildcard, what follows the "*."
  bool wildcard = false;

  // Whether `host` (a valid host name, either case) matches.
  bool matches(std::string_view host) const;
  // "api.example.com", "*.example.com".
  std::string to_string() const;
  bool operator==(const ServerNamePattern&) const = default;
};

Parsed<ServerNamePattern> parse_server_name_pattern(std::string_view text);

}  // namespace parkway::conf
