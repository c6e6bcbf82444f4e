#include "tests/fuzz/targets.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string_view>
#include <vector>

#include "conf/address.h"
#include "conf/cidr.h"
#include "conf/diagnostic.h"
#include "conf/duration.h"
#include "conf/emit.h"
#include "conf/forward.h"
#include "conf/limits.h"
#include "conf/parse.h"
#include "conf/server_name.h"
#include "conf/validate.h"
#include "proxy/ops/http.h"
#include "proxy/wire/client_hello.h"
#include "proxy/wire/proxy_protocol.h"

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
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// The lengths of prefixes worth trying: all of them for short inputs, else a sample that
// includes the ends and the bytes around `mark` (where an answer was decided).
std::vector<size_t> prefix_lengths(size_t size, size_t mark) {
  std::vector<size_t> out;
  if (size <= 300) {
    for (size_t n = 0; n <= size; ++n) out.push_back(n);
    return out;
  }
  for (size_t n = 0; n < 64; ++n) out.push_back(n);
  for (size_t n = 64; n < size; n += size / 61 + 1) out.push_back(n);
  for (size_t d = 0; d < 4; ++d) {
    if (mark >= d) out.push_back(mark - d);
    if (mark + d <= size) out.push_back(mark + d);
  }
  out.push_back(size - 1);
  out.push_back(size);
  return out;
}

bool same_parse(const proxy::wire::ProxyParse& a, const proxy::wire::ProxyParse& b) {
  return a.status == b.status && a.error == b.error && a.consumed == b.consumed &&
         a.header == b.header;
}

std::string describe_parse(const proxy::wire::ProxyParse& p) {
  using proxy::wire::ProxyStatus;
  if (p.status == ProxyStatus::need_more) return "need_more";
  if (p.status == ProxyStatus::invalid) return "invalid " + std::string(to_string(p.error));
  return "complete " + std::to_string(p.consumed) + " " + p.header.source.to_string() + " " +
         p.header.destination.to_string();
}

// The v1 line's address fields as written, to tell canonical text from other spellings.
bool v1_addresses_canonical(std::string_view header, const proxy::wire::ProxyHeader& h) {
  std::string_view line = header.substr(6, header.size() - 8);  // "PROXY " ... "\r\n"
  std::string_view fields[3];
  for (int i = 0; i < 3; ++i) {
    const size_t space = line.find(' ');
    fields[i] = line.substr(0, space);
    line.remove_prefix(space + 1);
  }
  return fields[1] == h.source.ip_string() && fields[2] == h.destination.ip_string();
}

// The handshake message a ClientHello's records carry, when they carry all of it.
bool handshake_message(std::string_view data, std::string* out) {
  std::string hs;
  size_t message = 0;
  for (size_t pos = 0; pos + 5 <= data.size();) {
    const size_t length = (size_t(uint8_t(data[pos + 3])) << 8) | uint8_t(data[pos + 4]);
    if (pos + 5 + length > data.size()) return false;
    hs.append(data.substr(pos + 5, length));
    pos += 5 + length;
    if (message == 0 && hs.size() >= 4) {
      message =
          4 + ((size_t(uint8_t(hs[1])) << 16) | (size_t(uint8_t(hs[2])) << 8) | uint8_t(hs[3]));
    }
    if (message != 0 && hs.size() >= message) {
      *out = hs.substr(0, message);
      return true;
    }
  }
  return false;
}

std::string framed(const std::string& hs, size_t size) {
  std::string out;
  for (size_t i = 0; i < hs.size(); i += size) {
    const std::string part = hs.substr(i, size);
    out += std::string("\x16\x03\x01", 3);
    out += static_cast<char>(part.size() >> 8);
    out += static_cast<char>(part.size() & 0xff);
    out += part;
  }
  return out;
}

std::string describe_hello(const proxy::wire::ClientHelloResult& r) {
  return std::string(to_string(r.status)) + "/" + std::string(to_string(r.error)) + " '" +
         std::string(r.server_name.view()) + "' end " + std::to_string(r.hello_end);
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

int conf_amplified(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // [count: 2 bytes, big-endian] prefix \0 fragment \0 suffix
  const size_t count = (size_t{data[0]} << 8) | data[1];
  std::string_view rest = text_of(data + 2, size - 2);
  auto cut = [&rest] {
    const size_t nul = rest.find('\0');
    const std::string_view part = rest.substr(0, nul);
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    return part;
  };
  const std::string_view prefix = cut(), fragment = cut(), suffix = rest;
  std::string text(prefix);
  text.reserve(prefix.size() + fragment.size() * count + suffix.size());
  for (size_t i = 0; i < count; i++) text += fragment;
  text += suffix;
  no_throw("conf::load_string (amplified)", [&] {
    const auto exceeded = conf::check_limits(text, "fuzz.toml");
    // Long texts within the bounds are only scanned: toml++ on megabytes is slow under
    // the sanitizers, and the bounds are what this target is for.
    if (!exceeded && text.size() > 256 * 1024) return;
    const conf::LoadResult r = conf::load_string(text, "fuzz.toml");
    if (r.diagnostics.size() > conf::max_diagnostics + 1)
      fuzz_fail("more diagnostics than the cap");
    if (exceeded) {
      if (r.ok() || r.diagnostics.size() != 1 || !(r.diagnostics[0] == *exceeded)) {
        fuzz_fail("a text beyond a bound was not refused with that bound alone: " +
                  exceeded->message);
      }
      (void)conf::format(r.diagnostics);
      return;
    }
    if (!r.ok()) {
      if (!conf::has_errors(r.diagnostics)) fuzz_fail("refused without an error diagnostic");
      (void)conf::format(r.diagnostics);
      return;
    }
    check_round_trip(*r.config, "conf_amplified");
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
    conf::Config config = conf::config_from_forwards({fw}).config;
    const size_t listeners = fw.ipv6_loopback_too ? 2 : 1;
    if (config.listeners.size() != listeners || config.clusters.size() != 1) {
      fuzz_fail("a forward is not one cluster and its listener (two for a port alone)");
    }
    if (fw.ipv6_loopback_too && config.listeners[1].address.port != fw.listen.port) {
      fuzz_fail("the ::1 listener of a port alone is not on the same port");
    }
    if (conf::config_from_forwards({fw}, false).config.listeners.size() != 1) {
      fuzz_fail("without ::1, a forward is more than one listener");
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

int proxy_protocol(const uint8_t* data, size_t size) {
  namespace w = proxy::wire;
  no_throw("parse_proxy_header", [&] {
    const std::string_view input = text_of(data, size);
    const w::ProxyParse by_mode[3] = {w::parse_proxy_header(bytes_of(input), w::ProxyMode::v1),
                                      w::parse_proxy_header(bytes_of(input), w::ProxyMode::v2),
                                      w::parse_proxy_header(bytes_of(input), w::ProxyMode::any)};
    // "any" is the version the first byte names.
    const w::ProxyParse& named = (size > 0 && data[0] == 'P') ? by_mode[0] : by_mode[1];
    if (!same_parse(by_mode[2], named)) {
      fuzz_fail("mode any answers " + describe_parse(by_mode[2]) + ", the named version " +
                describe_parse(named));
    }
    for (int m = 0; m < 3; ++m) {
      const w::ProxyMode mode = static_cast<w::ProxyMode>(m);
      const w::ProxyParse& r = by_mode[m];
      if ((r.status == w::ProxyStatus::invalid) != (r.error != w::ProxyError::none)) {
        fuzz_fail("an error exactly when invalid: " + describe_parse(r));
      }
      if (r.status == w::ProxyStatus::need_more && size >= w::kMaxProxyV2Bytes) {
        fuzz_fail("need_more past the bound");
      }
      if (r.status != w::ProxyStatus::complete && r.consumed != 0) {
        fuzz_fail("consumed set on an incomplete header");
      }
      // Every prefix answers need_more or what the whole answers.
      const size_t decided = r.status == w::ProxyStatus::complete ? r.consumed : size;
      for (const size_t n : prefix_lengths(size, decided)) {
        const w::ProxyParse p = w::parse_proxy_header(bytes_of(input.substr(0, n)), mode);
        if (p.status == w::ProxyStatus::need_more) continue;
        if (!same_parse(p, r)) {
          fuzz_fail("a prefix of " + std::to_string(n) + " bytes answers " + describe_parse(p) +
                    ", the whole " + describe_parse(r));
        }
        if (r.status == w::ProxyStatus::complete && n < r.consumed) {
          fuzz_fail("a header is complete before its end");
        }
      }
      if (r.status != w::ProxyStatus::complete) continue;

      const w::ProxyHeader& h = r.header;
      const bool v1 = h.version == w::ProxyVersion::v1;
      if (r.consumed > size || r.consumed < 15 ||
          r.consumed > (v1 ? w::kMaxProxyV1Bytes : w::kMaxProxyV2Bytes) ||
          (!v1 && r.consumed < w::kProxyV2HeaderBytes)) {
        fuzz_fail("a complete header of " + std::to_string(r.consumed) + " bytes");
      }
      if (v1 && h.command != w::ProxyCommand::proxy) fuzz_fail("a v1 LOCAL header");
      const bool addressed =
          h.command == w::ProxyCommand::proxy && h.family != w::ProxyFamily::unspec;
      if (h.has_addresses() != addressed || h.destination.empty() == addressed) {
        fuzz_fail("addresses without PROXY TCP4/TCP6, or none with them");
      }
      const int af = h.family == w::ProxyFamily::tcp4 ? AF_INET : AF_INET6;
      if (addressed && (h.source.family() != af || h.destination.family() != af)) {
        fuzz_fail("addresses of another family than the header's");
      }
      // Re-encoding says the same, and is the same bytes when nothing was dropped.
      const w::EncodedProxyHeader e = w::encode_proxy_header(h);
      const w::ProxyParse again = w::parse_proxy_header(e.span(), mode);
      if (again.status != w::ProxyStatus::complete || again.consumed != e.size ||
          again.header.version != h.version || again.header.command != h.command ||
          again.header.family != h.family || !(again.header.source == h.source) ||
          !(again.header.destination == h.destination) || again.header.skipped_bytes != 0) {
        fuzz_fail("the re-encoded header parses to " + describe_parse(again) + ", not " +
                  describe_parse(r));
      }
      const std::string_view header = input.substr(0, r.consumed);
      // Canonical: nothing skipped, the family byte parkway writes, v1 text as inet_ntop's.
      const std::uint8_t canonical_family = h.family == w::ProxyFamily::tcp4   ? 0x11
                                            : h.family == w::ProxyFamily::tcp6 ? 0x21
                                                                               : 0x00;
      const bool canonical = h.skipped_bytes == 0 && (v1 ? h.family != w::ProxyFamily::tcp6 ||
                                                               v1_addresses_canonical(header, h)
                                                         : h.v2_family == canonical_family);
      if (!v1 && h.v2_family != data[13]) fuzz_fail("v2_family is not the family byte as sent");
      if (v1 && h.v2_family != 0) fuzz_fail("a v1 header with a v2 family byte");
      if (canonical && e.text() != header) {
        fuzz_fail("a header in canonical form re-encodes to other bytes");
      }
      if (!canonical && e.text() == header) {
        fuzz_fail("a header not in canonical form re-encodes identically");
      }
    }
  });
  return 0;
}

int client_hello(const uint8_t* data, size_t size) {
  namespace w = proxy::wire;
  no_throw("inspect_client_hello", [&] {
    const std::string_view input = text_of(data, size);
    const w::ClientHelloResult r = w::inspect_client_hello(bytes_of(input));
    const std::string_view name = r.server_name.view();
    const bool complete = r.status == w::HelloStatus::found || r.status == w::HelloStatus::no_sni;
    if (r.status == w::HelloStatus::found) {
      if (!conf::is_valid_host_name(name))
        fuzz_fail("a found name that is not valid: " + std::string(name));
      for (const char c : name) {
        if (c >= 'A' && c <= 'Z') fuzz_fail("a found name that is not lower case");
      }
    } else if (!name.empty()) {
      fuzz_fail("a name without found: " + describe_hello(r));
    }
    if (complete != (r.error == w::HelloError::none && r.status != w::HelloStatus::need_more)) {
      fuzz_fail("an error with a complete ClientHello, or none without: " + describe_hello(r));
    }
    if (complete != (r.hello_end != 0) || r.hello_end > std::min(size, w::kMaxClientHelloBytes)) {
      fuzz_fail("a bad hello_end: " + describe_hello(r));
    }
    if (r.status == w::HelloStatus::need_more &&
        (size >= w::kMaxClientHelloBytes || r.error != w::HelloError::none)) {
      fuzz_fail("need_more past the bound, or with an error");
    }
    const bool not_tls_error =
        r.error == w::HelloError::not_handshake || r.error == w::HelloError::bad_record_version;
    if ((r.status == w::HelloStatus::not_tls) != not_tls_error ||
        (r.status == w::HelloStatus::too_large) != (r.error == w::HelloError::too_large)) {
      fuzz_fail("status and error disagree: " + describe_hello(r));
    }
    // Every prefix answers need_more or what the whole answers.
    for (const size_t n : prefix_lengths(size, complete ? r.hello_end : size)) {
      const w::ClientHelloResult p = w::inspect_client_hello(bytes_of(input.substr(0, n)));
      if (p.status == w::HelloStatus::need_more) continue;
      if (!(p == r)) {
        fuzz_fail("a prefix of " + std::to_string(n) + " bytes answers " + describe_hello(p) +
                  ", the whole " + describe_hello(r));
      }
      if (complete && n < r.hello_end) fuzz_fail("complete before its end");
    }
    // The handshake message in records of another size answers the same.
    std::string hs;
    const bool message_level = complete || r.error == w::HelloError::bad_hello ||
                               r.error == w::HelloError::bad_extensions ||
                               r.error == w::HelloError::bad_server_name ||
                               r.error == w::HelloError::invalid_host_name;
    if (!message_level ||
        !handshake_message(input.substr(0, std::min(size, w::kMaxClientHelloBytes)), &hs)) {
      return;
    }
    for (const size_t record : {size_t{1} + (size > 0 ? data[0] % 61 : 0), size_t{16384}}) {
      const std::string again = framed(hs, record);
      const w::ClientHelloResult f = w::inspect_client_hello(bytes_of(again));
      if (again.size() > w::kMaxClientHelloBytes) {
        if (f.status != w::HelloStatus::too_large)
          fuzz_fail("re-framed past the bound, not too_large");
        continue;
      }
      if (f.status != r.status || f.error != r.error || !(f.server_name == r.server_name) ||
          (complete && f.hello_end != again.size())) {
        fuzz_fail("re-framed in records of " + std::to_string(record) + " bytes it answers " +
                  describe_hello(f) + ", not " + describe_hello(r));
      }
    }
  });
  return 0;
}

int cidr(const uint8_t* data, size_t size) {
  no_throw("conf::parse_cidr", [&] {
    const std::string_view text = text_of(data, size);
    std::vector<conf::IpAddress> probes;
    if (const auto c = conf::parse_cidr(text); c.ok()) {
      const conf::Cidr& block = c.value();
      const bool v4 = block.family == conf::AddressFamily::ipv4;
      const int bits = v4 ? 32 : 128;
      if (block.prefix < 0 || block.prefix > bits) fuzz_fail("a prefix out of range");
      const std::string printed = block.to_string();
      const auto again = conf::parse_cidr(printed);
      if (!again.ok() || !(again.value() == block) || again.value().to_string() != printed) {
        fuzz_fail("a block does not print and parse back: " + printed);
      }
      conf::IpAddress first;
      first.family = block.family;
      first.bytes = block.bytes;
      conf::IpAddress last = first;
      for (int bit = block.prefix; bit < bits; ++bit) {
        if (first.bytes[bit / 8] & (0x80 >> (bit % 8))) fuzz_fail("host bits set: " + printed);
        last.bytes[bit / 8] = static_cast<uint8_t>(last.bytes[bit / 8] | (0x80 >> (bit % 8)));
      }
      if (!v4 && block.prefix >= 96 && first.is_v4_mapped()) fuzz_fail("an IPv4-mapped block");
      // An IPv4-mapped address is an IPv4 client: an IPv6 block never holds one (::/80 ends
      // in ::ffff:ffff:ffff), and an IPv4 block holds the mapped form of its own.
      for (const conf::IpAddress& end : {first, last}) {
        if (block.contains(end) == end.is_v4_mapped()) {
          fuzz_fail("a block without its first or last address, or with a mapped one: " + printed +
                    " and " + end.to_string());
        }
      }
      if (block.prefix > 0) {
        conf::IpAddress outside = first;
        const int bit = block.prefix - 1;
        outside.bytes[bit / 8] = static_cast<uint8_t>(outside.bytes[bit / 8] ^ (0x80 >> (bit % 8)));
        if (block.contains(outside)) fuzz_fail("a block holds an address outside it: " + printed);
        probes.push_back(outside);
      }
      if (v4) {
        uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        std::copy(first.bytes.begin(), first.bytes.begin() + 4, mapped + 12);
        if (!block.contains(conf::IpAddress::v6(mapped))) {
          fuzz_fail("an IPv4 block without the IPv4-mapped form of its address: " + printed);
        }
      }
      probes.push_back(first);
      probes.push_back(last);
    } else if (c.expected().rfind("expected", 0) != 0) {
      fuzz_fail("a failure that does not say what was expected: " + c.expected());
    }

    const auto list = conf::parse_cidr_list(text);
    if (!list.ok()) return;
    const conf::CidrSet set(list.value());
    for (const conf::Cidr& block : list.value()) {
      conf::IpAddress a;
      a.family = block.family;
      a.bytes = block.bytes;
      probes.push_back(a);
      const int bits = block.family == conf::AddressFamily::ipv4 ? 32 : 128;
      for (int bit = block.prefix; bit < bits; ++bit) {
        a.bytes[bit / 8] = static_cast<uint8_t>(a.bytes[bit / 8] | (0x80 >> (bit % 8)));
      }
      probes.push_back(a);
      // The addresses next to the block's ends.
      for (const int delta : {-1, 1}) {
        conf::IpAddress n = delta > 0 ? a : probes[probes.size() - 2];
        for (int i = (bits / 8) - 1; i >= 0; --i) {
          n.bytes[i] = static_cast<uint8_t>(n.bytes[i] + delta);
          if (n.bytes[i] != (delta > 0 ? 0 : 0xff)) break;
        }
        probes.push_back(n);
      }
    }
    for (const conf::IpAddress& p : probes) {
      bool any = false;
      for (const conf::Cidr& block : list.value()) any = any || block.contains(p);
      if (set.contains(p) != any) fuzz_fail("the set and its blocks disagree on " + p.to_string());
    }
  });
  return 0;
}

}  // namespace parkway::fuzz
