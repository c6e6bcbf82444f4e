// Parsing and printing listen addresses and endpoints; the forms are listed in
// conf/address.h.
#include "conf/address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace parkway::conf {
namespace {

constexpr std::string_view listen_expected =
    R"(expected an IP address and port such as "127.0.0.1:8080" or "[::1]:8080")";
constexpr std::string_view endpoint_expected =
    R"(expected "host:port" such as "10.0.0.5:80", "redis-a:6379" or "[::1]:80")";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string with_reason(std::string_view expected, std::string_view why) {
  std::string out(expected);
  out += " (";
  out += why;
  out += ')';
  return out;
}

// A port in min..65535: decimal digits only, no sign.
Parsed<std::uint16_t> parse_port(std::string_view text, std::uint16_t min) {
  const std::string range = "expected a port " + std::to_string(min) + "..65535";
  if (text.empty()) return Parsed<std::uint16_t>::failure(range + " after the ':'");
  std::uint32_t value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return Parsed<std::uint16_t>::failure(range);
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > 65535) return Parsed<std::uint16_t>::failure(range);
  }
  if (value < min) return Parsed<std::uint16_t>::failure(range);
  return static_cast<std::uint16_t>(value);
}

// Splits "host:port" / "[v6]:port" into its host (without brackets) and port text.
struct HostPort {
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
};

Parsed<HostPort> split_host_port(std::string_view text, std::string_view expected) {
  HostPort out;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Parsed<HostPort>::failure(with_reason(expected, "missing ']'"));
    }
    out.host = text.substr(1, close - 1);
    out.bracketed = true;
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return Parsed<HostPort>::failure(with_reason(expected, "missing ':PORT' after ']'"));
    }
    out.port = text.substr(close + 2);
    return out;
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Parsed<HostPort>::failure(with_reason(expected, "missing ':PORT'"));
  }
  out.host = text.substr(0, colon);
  out.port = text.substr(colon + 1);
  if (out.host.find(':') != std::string_view::npos) {
    return Parsed<HostPort>::failure(
        with_reason(expected, "an IPv6 address needs brackets: \"[::1]:80\""));
  }
  return out;
}

bool parse_ipv4(std::string_view host, std::uint8_t* out4) {
  if (host.empty() || host.size() > 15) return false;
  // Checked here, not left to inet_pton: it would stop at an embedded NUL.
  for (const char c : host) {
    if (!is_digit(c) && c != '.') return false;
  }
  const std::string copy(host);  // inet_pton needs a NUL-terminated string
  return inet_pton(AF_INET, copy.c_str(), out4) == 1;
}

bool parse_ipv6(std::string_view host, std::uint8_t* out16) {
  if (host.empty() || host.size() > 45) return false;
  for (const char c : host) {
    const bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return false;
  }
  const std::string copy(host);
  return inet_pton(AF_INET6, copy.c_str(), out16) == 1;
}

std::string ip_to_string(AddressFamily family, const std::uint8_t* bytes) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AddressFamily::ipv4 ? AF_INET : AF_INET6, bytes, buffer, sizeof buffer);
  return buffer;
}

// An RFC 1123 host name: labels of 1..63 [A-Za-z0-9-] not starting or ending with '-',
// separated by single dots, 253 characters at most. The last label must not be all
// digits: "10.0.0.256" is a mistyped address, not a name.
bool valid_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t begin = 0;
  bool last_all_digits = false;
  while (true) {
    std::size_t end = name.find('.', begin);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(begin, end - begin);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    last_all_digits = true;
    for (const char c : label) {
      if (!is_alnum(c) && c != '-') return false;
      if (!is_digit(c)) last_all_digits = false;
    }
    if (end == name.size()) break;
    begin = end + 1;
  }
  return !last_all_digits;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string ListenAddress::to_string() const {
  const std::string ip = ip_to_string(family, bytes.data());
  const std::string port_text = std::to_string(port);
  return family == AddressFamily::ipv4 ? ip + ":" + port_text : "[" + ip + "]:" + port_text;
}

std::string Endpoint::to_string() const {
  const std::string port_text = std::to_string(port);
  return kind == Kind::ipv6 ? "[" + host + "]:" + port_text : host + ":" + port_text;
}

std::string Endpoint::to_spec() const {
  std::string out = to_string();
  if (weight != 1) out += "/weight=" + std::to_string(weight);
  if (backup) out += "/backup";
  return out;
}

Parsed<ListenAddress> parse_listen_address(std::string_view text) {
  const Parsed<HostPort> split = split_host_port(text, listen_expected);
  if (!split.ok()) return Parsed<ListenAddress>::failure(split.expected());
  const HostPort& parts = split.value();

  ListenAddress address;
  if (parts.bracketed) {
    if (!parse_ipv6(parts.host, address.bytes.data())) {
      return Parsed<ListenAddress>::failure(
          with_reason(listen_expected, "not a valid IPv6 address inside the brackets"));
    }
    address.family = AddressFamily::ipv6;
  } else if (!parse_ipv4(parts.host, address.bytes.data())) {
    if (parts.host.empty()) {
      return Parsed<ListenAddress>::failure(with_reason(listen_expected, "the address is missing"));
    }
    return Parsed<ListenAddress>::failure(
        with_reason(listen_expected, "an IP literal, not a DNS name; 0.0.0.0 for all interfaces"));
  }
  const Parsed<std::uint16_t> port = parse_port(parts.port, 0);
  if (!port.ok()) return Parsed<ListenAddress>::failure(port.expected());
  address.port = port.value();
  return address;
}

Parsed<Endpoint> parse_endpoint(std::string_view text) {
  const Parsed<HostPort> split = split_host_port(text, endpoint_expected);
  if (!split.ok()) return Parsed<Endpoint>::failure(split.expected());
  const HostPort& parts = split.value();

  Endpoint endpoint;
  std::array<std::uint8_t, 16> bytes{};
  if (parts.bracketed) {
    if (!parse_ipv6(parts.host, bytes.data())) {
      return Parsed<Endpoint>::failure(
          with_reason(endpoint_expected, "not a valid IPv6 address inside the brackets"));
    }
    endpoint.kind = Endpoint::Kind::ipv6;
    endpoint.host = ip_to_string(AddressFamily::ipv6, bytes.data());
  } else if (parse_ipv4(parts.host, bytes.data())) {
    endpoint.kind = Endpoint::Kind::ipv4;
    endpoint.host = ip_to_string(AddressFamily::ipv4, bytes.data());
  } else if (valid_dns_name(parts.host)) {
    endpoint.kind = Endpoint::Kind::dns_name;
    endpoint.host = std::string(parts.host);
  } else if (parts.host.empty()) {
    return Parsed<Endpoint>::failure(with_reason(endpoint_expected, "the host is missing"));
  } else {
    return Parsed<Endpoint>::failure(with_reason(
        endpoint_expected,
        "the host is neither an IP address nor a DNS name of letters, digits, '-' and '.'"));
  }
  const Parsed<std::uint16_t> port = parse_port(parts.port, 1);
  if (!port.ok()) return Parsed<Endpoint>::failure(port.expected());
  endpoint.port = port.value();
  return endpoint;
}

Parsed<Endpoint> parse_endpoint_spec(std::string_view text) {
  const std::size_t slash = text.find('/');
  Parsed<Endpoint> endpoint = parse_endpoint(text.substr(0, slash));
  if (!endpoint.ok() || slash == std::string_view::npos) return endpoint;
  constexpr std::string_view options_expected =
      "expected \"host:port\" followed by options \"/weight=N\" (1..256) or \"/backup\"";
  std::string_view rest = text.substr(slash + 1);
  bool seen_weight = false, seen_backup = false;
  while (true) {
    const std::size_t next = rest.find('/');
    const std::string_view option = rest.substr(0, next);
    if (option == "backup" && !seen_backup) {
      endpoint.value().backup = seen_backup = true;
    } else if (option.starts_with("weight=") && !seen_weight) {
      const std::string_view digits = option.substr(7);
      int weight = 0;
      const bool ok =
          !digits.empty() && digits.size() <= 3 &&
          std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (ok) weight = std::stoi(std::string(digits));
      if (!ok || weight < 1 || weight > max_endpoint_weight) {
        return Parsed<Endpoint>::failure(with_reason(
            options_expected, "the weight \"" + std::string(digits) + "\" is not 1..256"));
      }
      endpoint.value().weight = weight;
      seen_weight = true;
    } else {
      return Parsed<Endpoint>::failure(with_reason(
          options_expected,
          (seen_weight && option.starts_with("weight=")) || (seen_backup && option == "backup")
              ? "\"" + std::string(option) + "\" is given twice"
              : "unknown option \"" + std::string(option) + "\""));
    }
    if (next == std::string_view::npos) break;
    rest = rest.substr(next + 1);
  }
  return endpoint;
}

bool same_endpoint(const Endpoint& a, const Endpoint& b) {
  return a.kind == b.kind && a.port == b.port &&
         std::equal(a.host.begin(), a.host.end(), b.host.begin(), b.host.end(),
                    [](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace parkway::conf
