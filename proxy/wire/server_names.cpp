// Routing by server name: proxy/wire/server_names.h.
#include "proxy/wire/server_names.h"

#include <algorithm>
#include <array>

namespace parkway::proxy::wire {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

ServerNameRoutes::ServerNameRoutes(const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    (e.pattern.wildcard ? wildcard_ : exact_).push_back({e.pattern.name, e.route});
  }
  for (std::vector<Key>* keys : {&exact_, &wildcard_}) {
    for (Key& k : *keys) {
      for (char& c : k.name) c = lower(c);
    }
    // Stable, so that among duplicates the first listed stays first; then the earliest
    // route keeps the pattern.
    std::stable_sort(keys->begin(), keys->end(), [](const Key& a, const Key& b) {
      return a.name != b.name ? a.name < b.name : a.route < b.route;
    });
    keys->erase(std::unique(keys->begin(), keys->end(),
                            [](const Key& a, const Key& b) { return a.name == b.name; }),
                keys->end());
  }
}

std::optional<std::size_t> ServerNameRoutes::find(const std::vector<Key>& keys,
                                                  std::string_view name) {
  const auto it = std::lower_bound(keys.begin(), keys.end(), name,
                                   [](const Key& k, std::string_view n) { return k.name < n; });
  if (it == keys.end() || it->name != name) return std::nullopt;
  return it->route;
}

std::optional<std::size_t> ServerNameRoutes::match(std::string_view name) const {
  if (name.size() > conf::max_host_name_length) return std::nullopt;
  std::array<char, conf::max_host_name_length> buffer{};
  for (std::size_t i = 0; i < name.size(); ++i) buffer[i] = lower(name[i]);
  const std::string_view host(buffer.data(), name.size());

  if (auto route = find(exact_, host)) return route;
  // Longest suffix first: the suffix after each dot, from the leftmost dot on.
  for (std::size_t dot = host.find('.'); dot != std::string_view::npos;
       dot = host.find('.', dot + 1)) {
    if (dot == 0) continue;  // at least one label before the suffix
    if (auto route = find(wildcard_, host.substr(dot + 1))) return route;
  }
  return std::nullopt;
}

}  // namespace parkway::proxy::wire
