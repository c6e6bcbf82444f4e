// Fuzz targets: parkway's parsers of untrusted text, each with the properties it must keep
// for every input, not only "does not crash".
//
//   conf_load      conf::load_string (the TOML reader and the validator): never throws;
//                  a config it accepts prints (to_toml) to a file that it reads back to an
//                  equal config, and prints the same again (a fixed point); a config it
//                  refuses comes with error diagnostics that format.
//   conf_amplified conf::load_string on a text made long from a short input (a prefix, a
//                  fragment repeated up to 65,535 times, a suffix), so that the bounds of
//                  conf/limits.h (deep keys and headers, nesting, long lines, huge files)
//                  are explored: a text beyond a bound is refused with exactly the one
//                  diagnostic check_limits() gives, never parsed; at most
//                  max_diagnostics + 1 diagnostics; and what loads round-trips.
//   forward        conf::parse_forward (-L LISTEN=UPSTREAM,...): a forward it accepts is
//                  one cluster and its listener (a port alone: two, on 127.0.0.1 and ::1,
//                  one port) whose config, if valid, round-trips as above; its parts print
//                  and parse back to themselves.
//   address        conf::parse_listen_address and conf::parse_endpoint on the same text:
//                  what they accept prints canonically and parses back to itself.
//   duration       conf::parse_duration: what it accepts is >= 0 and its shortest
//                  spelling (format_duration) parses back to the same duration.
//   http_request   proxy::http::parse_request: consumed never passes the input; a
//                  complete request has a token method, a target of at most 2 KiB that
//                  starts with '/' (or is "*"), HTTP/1.0 or 1.1, and ends where "\r\n\r\n"
//                  does; the same bytes parse the same again; no prefix of a complete
//                  request is complete.
//   proxy_protocol proxy::wire::parse_proxy_header in each mode: "any" answers what the
//                  version its first byte names answers; complete headers are within the
//                  bounds and have addresses exactly for PROXY TCP4/TCP6; every prefix
//                  answers need_more or what the whole answers; a complete header
//                  re-encodes (encode_proxy_header) to one that parses to the same header,
//                  byte-identical to the input exactly when that was in canonical form
//                  (nothing skipped, the family byte parkway writes, v1 TCP6 addresses as
//                  inet_ntop writes them).
//   client_hello   proxy::wire::inspect_client_hello: a found name is a valid lower-case
//                  host name; statuses and errors agree; every prefix answers need_more or
//                  what the whole answers; the handshake message re-framed into records of
//                  another size answers the same (or too_large past the bound).
//   cidr           conf::parse_cidr and parse_cidr_list: a block prints and parses back to
//                  itself, has no host bits, contains its first and last address and not
//                  the addresses just outside; a CidrSet of a list agrees with testing each
//                  block.
//
// Each target is a function of a byte string. libFuzzer drives them (fuzz_main.cpp, with
// the `fuzz` preset and script/fuzz); fuzz_replay_test.cpp replays the corpus and the
// regressions (inputs that once failed) through the same functions in every build. A
// broken property calls fuzz_fail(), which aborts under libFuzzer (so that it keeps the
// input) and throws in the replay test (so that Catch2 names the file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace parkway::fuzz {

// What a broken property does; the default aborts after printing `what`.
using FailureHandler = void (*)(const std::string& what);
void set_failure_handler(FailureHandler handler);
[[noreturn]] void fuzz_fail(const std::string& what);

int conf_load(const uint8_t* data, size_t size);
int conf_amplified(const uint8_t* data, size_t size);
int forward(const uint8_t* data, size_t size);
int address(const uint8_t* data, size_t size);
int duration(const uint8_t* data, size_t size);
int http_request(const uint8_t* data, size_t size);
int proxy_protocol(const uint8_t* data, size_t size);
int client_hello(const uint8_t* data, size_t size);
int cidr(const uint8_t* data, size_t size);

struct Target {
  const char* name;
  int (*run)(const uint8_t* data, size_t size);
};
inline constexpr Target kTargets[] = {
    {"conf_load", conf_load},
    {"conf_amplified", conf_amplified},
    {"forward", forward},
    {"address", address},
    {"duration", duration},
    {"http_request", http_request},
    {"proxy_protocol", proxy_protocol},
    {"client_hello", client_hello},
    {"cidr", cidr},
};

}  // namespace parkway::fuzz
