// Small helpers shared by the proxy benchmark's programs (loadgen.cpp, backend.cpp):
// flag parsing, fatal errors, buffers. Not a library: each program includes it once.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "netpoll/address.h"

namespace parkway::bench {

[[noreturn]] inline void die(const char* prog, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", prog, msg.c_str());
  std::exit(2);
}

// "--key value" pairs after the subcommand; every key must be known (a typo is an error).
class Flags {
 public:
  Flags(const char* prog, int argc, char** argv, int first,
        std::map<std::string, std::string> defaults)
      : prog_(prog), values_(std::move(defaults)) {
    for (int i = first; i < argc; i++) {
      std::string_view a = argv[i];
      if (!a.starts_with("--") || i + 1 >= argc) die(prog_, "bad argument: " + std::string(a));
      std::string key(a.substr(2));
      if (!values_.contains(key)) die(prog_, "unknown flag --" + key);
      values_[key] = argv[++i];
    }
  }
  std::string str(const std::string& k) const { return values_.at(k); }
  double num(const std::string& k) const {
    const std::string& v = values_.at(k);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || d < 0) die(prog_, "--" + k + ": not a number: " + v);
    return d;
  }
  long integer(const std::string& k) const { return static_cast<long>(num(k)); }
  net::SocketAddress addr(const std::string& k) const {
    auto a = net::SocketAddress::parse(values_.at(k));
    if (!a) die(prog_, "--" + k + ": not an IP:port address: " + values_.at(k));
    return *a;
  }

 private:
  const char* prog_;
  std::map<std::string, std::string> values_;
};

// A heap buffer (goroutine stacks are 64 KiB: keep big buffers off them).
struct Buffer {
  explicit Buffer(size_t n, unsigned char fill = 0) : data(new std::byte[n]), size(n) {
    std::memset(data.get(), fill, n);
  }
  std::unique_ptr<std::byte[]> data;
  size_t size;
};

}  // namespace parkway::bench
