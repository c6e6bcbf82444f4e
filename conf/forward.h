// Forwards from the command line: `-L LISTEN=UPSTREAM[,UPSTREAM...]`, what people reach for
// socat, rinetd or `ssh -L` to do.
//
//   LISTEN     PORT          binds 127.0.0.1:PORT and [::1]:PORT (loopback only, as ssh -L
//                            does), so that "localhost" works whichever address it means
//              A.B.C.D:PORT  an IPv4 literal; 0.0.0.0:PORT for every interface
//              [V6]:PORT     an IPv6 literal
//   UPSTREAM   host:port or [v6]:port, as a cluster endpoint (conf/address.h)
//
// ssh's own spelling, `8080:10.0.0.5:80`, is recognised and refused with the forward it
// means ("did you mean 8080=10.0.0.5:80?"): guessing could forward somewhere unintended.
//
// Each forward becomes one [[cluster]] named fwd-<port> ("-2", "-3" appended when two
// forwards share a port number) and its [[listener]] of the same name; a port alone adds a
// second listener, fwd-<port>-v6, on [::1] for the same cluster, so both addresses share
// one balancer and one set of counters. Port 0 (the kernel picks) binds 127.0.0.1 only:
// the two addresses would get two different ports. --print-config shows the config file
// that does the same.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "conf/address.h"
#include "conf/config.h"
#include "conf/parsed.h"

namespace parkway::conf {

struct Forward {
  std::string spec;      // as written after -L
  ListenAddress listen;  // for a port alone, 127.0.0.1:PORT
  // A port alone, other than 0: [::1]:PORT as well.
  bool ipv6_loopback_too = false;
  std::vector<Endpoint> upstreams;  // at least one

  bool operator==(const Forward&) const = default;
};

Parsed<Forward> parse_forward(std::string_view spec);

// ssh -L's "[BIND:]PORT:HOST:HOSTPORT" written as a forward ("8080=10.0.0.5:80"); empty
// when `spec` is not in that form.
std::string from_ssh_form(std::string_view spec);

// The config of some forwards, and where each of its tables came from.
struct ForwardsConfig {
  Config config;
  std::vector<std::size_t> listener_forward;  // listeners[i] comes from forwards[this[i]]
  std::vector<std::size_t> cluster_forward;   // clusters[i] comes from forwards[this[i]]
};

// A Config with the listeners and the cluster of each forward, every setting at its default
// for forwards (conf/keys.h, Origin::forwards); Config::source is "command line". Not yet
// validated. With ipv6_loopback false (the host has no ::1), a port alone binds 127.0.0.1
// only.
ForwardsConfig config_from_forwards(const std::vector<Forward>& forwards,
                                    bool ipv6_loopback = true);

}  // namespace parkway::conf
