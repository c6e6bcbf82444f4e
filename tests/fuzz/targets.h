// Fuzz targets: parkway's parsers of untrusted text, each with the properties it must keep
// for every input, not only "does not crash".
//
//   conf_load      conf::load_string (the TOML reader and the validator): never throws;
//                  a config it accepts prints (to_toml) to a file that it reads back to an
//                  equal config, and prints the same again (a fixed point); a config it
//                  refuses comes with error diagnostics that format.
//   forward        conf::parse_forward (-L LISTEN=UPSTREAM,...): a forward it accepts is
//                  one listener and one cluster whose config, if valid, round-trips as
//                  above; its parts print and parse back to themselves.
//   address        conf::parse_listen_address and conf::parse_endpoint on the same text:
//                  what they accept prints canonically and parses back to itself.
//   duration       conf::parse_duration: what it accepts is >= 0 and its shortest
//                  spelling (format_duration) parses back to the same duration.
//   http_request   proxy::http::parse_request: consumed never passes the input; a
//                  complete request has a token method, a target of at most 2 KiB that
//                  starts with '/' (or is "*"), HTTP/1.0 or 1.1, and ends where "\r\n\r\n"
//                  does; the same bytes parse the same again; no prefix of a complete
//                  request is complete.
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
int forward(const uint8_t* data, size_t size);
int address(const uint8_t* data, size_t size);
int duration(const uint8_t* data, size_t size);
int http_request(const uint8_t* data, size_t size);

struct Target {
  const char* name;
  int (*run)(const uint8_t* data, size_t size);
};
inline constexpr Target kTargets[] = {
    {"conf_load", conf_load}, {"forward", forward},           {"address", address},
    {"duration", duration},   {"http_request", http_request},
};

}  // namespace parkway::fuzz
