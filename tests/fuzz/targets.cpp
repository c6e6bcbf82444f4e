#include "tests/fuzz/targets.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "conf/address.h"
#include "conf/diagnostic.h"
#include "conf/duration.h"
#include "conf/emit.h"
#include "conf/forward.h"
#include "conf/parse.h"
#include "conf/validate.h"
#include "proxy/http.h"

namespace parkway::fuzz {

namespace {

void abort_on_failure(const std::string& what) {
  std::fprintf(stderr, "parkway fuzz: property broken: %s\n", what.c_str());
  std::abort();
}

FailureHandler handler = abort_on_failure;

std::string_view text_of(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// What a config prints to reads back to an equal config, which prints the same.
void check_round_trip(const conf::Config& config, const std::string& what) {
  const std::string printed = conf::to_toml(config);
  conf::LoadResult again = conf::load_string(printed, config.source);
  if (!again.ok()) {
    fuzz_fail(what + ": the printed config does not load:\n" + conf::format(again.diagnostics) +
              "--- printed:\n" + printed);
  }
  if (!(*again.config == config)) {
    fuzz_fail(what + ": the printed config loads to a different config:\n" + printed +
              "--- which prints as:\n" + conf::to_toml(*again.config));
  }
  if (conf::to_toml(*again.config) != printed) {
    fuzz_fail(what + ": printing is not a fixed point:\n" + printed);
  }
}

template <class Fn>
void no_throw(const char* what, Fn fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    fuzz_fail(std::string(what) + " threw: " + e.what());
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                        std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void set_failure_handler(FailureHandler h) { handler = h ? h : abort_on_failure; }

void fuzz_fail(const std::string& what) {
  handler(what);
  std::abort();  // a handler that returns is a bug in the handler
}

int conf_load(const uint8_t* data, size_t size) {
  no_throw("conf::load_string", [&] {
    conf::LoadResult r = conf::load_string(text_of(data, size), "fuzz.toml");
    if (!r.ok()) {
      if (!conf::has_errors(r.diagnostics)) fuzz_fail("refused without an error diagnostic");
      (void)conf::format(r.diagnostics);
      return;
    }
    if (conf::has_errors(r.diagnostics)) fuzz_fail("accepted with an error diagnostic");
    check_round_trip(*r.config, "conf_load");
  });
  return 0;
}

int forward(const uint8_t* data, size_t size) {
  no_throw("conf::parse_forward", [&] {
    const auto f = conf::parse_forward(text_of(data, size));
    if (!f.ok()) {
      if (f.expected().find("expected") == std::string::npos) {
        fuzz_fail("a failure that does not say what was expected: " + f.expected());
      }
      return;
    }
    const conf::Forward& fw = f.value();
    if (fw.upstreams.empty()) fuzz_fail("a forward without upstreams");
    const auto listen = conf::parse_listen_address(fw.listen.to_string());
    if (!listen.ok() || !(listen.value() == fw.listen)) {
      fuzz_fail("the listen address does not print and parse back: " + fw.listen.to_string());
    }
    for (const auto& u : fw.upstreams) {
      const auto e = conf::parse_endpoint(u.to_string());
      if (!e.ok() || !(e.value() == u)) {
        fuzz_fail("an upstream does not print and parse back: " + u.to_string());
      }
    }
    conf::Config config = conf::config_from_forwards({fw});
    if (config.listeners.size() != 1 || config.clusters.size() != 1) {
      fuzz_fail("a forward is not one listener and one cluster");
    }
    if (!conf::has_errors(conf::validate(config))) check_round_trip(config, "forward");
  });
  return 0;
}

int address(const uint8_t* data, size_t size) {
  no_throw("conf address parsers", [&] {
    const std::string_view text = text_of(data, size);
    if (const auto l = conf::parse_listen_address(text); l.ok()) {
      const std::string printed = l.value().to_string();
      const auto again = conf::parse_listen_address(printed);
      if (!again.ok() || !(again.value() == l.value()) || again.value().to_string() != printed) {
        fuzz_fail("a listen address does not print and parse back: " + printed);
      }
    }
    if (const auto e = conf::parse_endpoint(text); e.ok()) {
      const std::string printed = e.value().to_string();
      const auto again = conf::parse_endpoint(printed);
      if (!again.ok() || !(again.value() == e.value()) || again.value().to_string() != printed) {
        fuzz_fail("an endpoint does not print and parse back: " + printed);
      }
      if (e.value().port == 0) fuzz_fail("an endpoint with port 0: " + printed);
    }
  });
  return 0;
}

int duration(const uint8_t* data, size_t size) {
  no_throw("conf::parse_duration", [&] {
    const auto d = conf::parse_duration(text_of(data, size));
    if (!d.ok()) return;
    if (d.value().count() < 0) fuzz_fail("a negative duration");
    const std::string printed = conf::format_duration(d.value());
    const auto again = conf::parse_duration(printed);
    if (!again.ok() || again.value() != d.value()) {
      fuzz_fail("a duration does not print and parse back: " + printed + " (" +
                std::to_string(d.value().count()) + " ns)");
    }
    if (conf::format_duration(again.value()) != printed) fuzz_fail("format_duration is unstable");
  });
  return 0;
}

int http_request(const uint8_t* data, size_t size) {
  namespace http = proxy::http;
  no_throw("http::parse_request", [&] {
    const std::string_view buf = text_of(data, size);
    http::Request req;
    size_t consumed = 0;
    const http::Parse p = http::parse_request(buf, &req, &consumed);
    if (p == http::Parse::incomplete && buf.size() > http::kMaxRequestBytes) {
      fuzz_fail("incomplete past the size limit");
    }
    if (p != http::Parse::complete) {
      if (consumed != 0) fuzz_fail("consumed set on a request that is not complete");
      return;
    }
    const size_t end = buf.find("\r\n\r\n");
    if (end == std::string_view::npos || consumed != end + 4) {
      fuzz_fail("a complete request that does not end at the first CRLF CRLF");
    }
    if (consumed > http::kMaxRequestBytes) fuzz_fail("a complete request over the size limit");
    if (!is_token(req.method)) fuzz_fail("a method that is not a token: " + req.method);
    if (req.target.empty() || req.target.size() > http::kMaxTargetBytes ||
        (req.target[0] != '/' && req.target != "*")) {
      fuzz_fail("a bad target: " + req.target);
    }
    for (unsigned char c : req.target) {
      if (c <= 0x20 || c >= 0x7f) fuzz_fail("a target with a control, space or non-ASCII byte");
    }
    if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") {
      fuzz_fail("a bad version: " + req.version);
    }
    // The same bytes, alone, parse the same.
    http::Request again;
    size_t consumed_again = 0;
    if (http::parse_request(buf.substr(0, consumed), &again, &consumed_again) !=
            http::Parse::complete ||
        consumed_again != consumed || again.method != req.method || again.target != req.target ||
        again.version != req.version) {
      fuzz_fail("the request alone does not parse the same");
    }
    // No prefix of it is complete.
    for (size_t n : {consumed - 1, consumed - 2, consumed / 2}) {
      http::Request part;
      size_t c = 0;
      if (http::parse_request(buf.substr(0, n), &part, &c) == http::Parse::complete) {
        fuzz_fail("a prefix of " + std::to_string(n) + " bytes is complete");
      }
    }
  });
  return 0;
}

}  // namespace parkway::fuzz
