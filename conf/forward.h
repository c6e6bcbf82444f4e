// Forwards from the command line: `-L LISTEN=UPSTREAM[,UPSTREAM...]`, what people reach for
// socat, rinetd or `ssh -L` to do.
//
//   LISTEN     PORT          binds 127.0.0.1:PORT (loopback only, like ssh -L)
//              A.B.C.D:PORT  an IPv4 literal; 0.0.0.0:PORT for every interface
//              [V6]:PORT     an IPv6 literal
//   UPSTREAM   host:port or [v6]:port, as a cluster endpoint (conf/address.h)
//
// Each forward becomes one [[listener]] and one [[cluster]], both named fwd-<port>
// ("-2", "-3" appended when two forwards share a port number), so --print-config shows the
// config file that does the same.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/address.h"
#include "conf/config.h"
#include "conf/parsed.h"

namespace parkway::conf {

struct Forward {
  std::string spec;  // as written after -L
  ListenAddress listen;
  std::vector<Endpoint> upstreams;  // at least one

  bool operator==(const Forward&) const = default;
};

Parsed<Forward> parse_forward(std::string_view spec);

// A Config with one listener and one cluster per forward, every setting at its default
// (conf/keys.h); Config::source is "command line". Not yet validated.
Config config_from_forwards(const std::vector<Forward>& forwards);

}  // namespace parkway::conf
