#include "conf/diff.h"

#include <algorithm>

#include "conf/keys.h"

namespace parkway::conf {
namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// A value as a diff line shows it: as it is ("2s", "+PONG"), or quoted with TOML's escapes
// when it is empty or holds what would not read back plainly (a control byte, a quote, a
// space, a byte outside ASCII): `"PING\r\n"`, never a line broken in two.
std::string shown(const std::string& v) {
  const bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
  return plain ? v : toml_quote(v);
}

// An endpoint's address, its identity in a diff ("10.0.0.5:80", "[::1]:80", "db:5432").
const Endpoint* find_endpoint(const std::vector<Endpoint>& list, const Endpoint& e) {
  for (const Endpoint& x : list) {
    if (x.to_string() == e.to_string()) return &x;
  }
  return nullptr;
}

void diff_endpoints(const std::string& cluster, const std::vector<Endpoint>& before,
                    const std::vector<Endpoint>& after, std::vector<Change>& out) {
  const std::string who = "cluster " + quoted(cluster) + ": endpoint ";
  for (const Endpoint& e : after) {
    const Endpoint* old = find_endpoint(before, e);
    if (old == nullptr) {
      out.push_back({who + e.to_spec() + " added", {}, {}});
      continue;
    }
    if (old->weight != e.weight) {
      out.push_back({who + e.to_string() + " weight " + std::to_string(old->weight) + " -> " +
                         std::to_string(e.weight),
                     {},
                     {}});
    }
    if (old->backup != e.backup) {
      out.push_back(
          {who + e.to_string() + (e.backup ? " is a backup now" : " is a primary now"), {}, {}});
    }
  }
  for (const Endpoint& e : before) {
    if (find_endpoint(after, e) == nullptr) {
      out.push_back({who + e.to_string() + " removed", cluster, e.to_string()});
    }
  }
}

// The keys of S that differ, as "PREFIXkey before -> after"; `cluster` names the cluster
// whose endpoints these are, for the endpoint list.
template <class S>
void diff_keys(const std::string& who, const std::string& prefix, const S& before, const S& after,
               const std::string& cluster, std::vector<Change>& out) {
  for (const Key<S>& key : keys_of<S>()) {
    if (key.name == "name") continue;  // the identity, matched already
    const bool endpoints = std::visit(
        [](auto member) {
          return std::is_same_v<FieldType<S, decltype(member)>, std::vector<Endpoint>>;
        },
        key.field);
    if (endpoints) {
      std::visit(
          [&](auto member) {
            if constexpr (std::is_same_v<FieldType<S, decltype(member)>, std::vector<Endpoint>>) {
              diff_endpoints(cluster, before.*member, after.*member, out);
            }
          },
          key.field);
      continue;
    }
    const std::string a = field_text(key, before), b = field_text(key, after);
    if (a == b) continue;
    out.push_back(
        {who + prefix + std::string(key.name) + " " + shown(a) + " -> " + shown(b), {}, {}});
  }
}

// Every key of S in one line: "interval 2s, timeout 1s, ...".
template <class S>
std::string all_keys(const S& value) {
  std::string out;
  for (const Key<S>& key : keys_of<S>()) {
    const std::string v = field_text(key, value);
    if (v.empty()) continue;
    if (!out.empty()) out += ", ";
    out += std::string(key.name) + " " + shown(v);
  }
  return out;
}

template <class S>
void diff_sub_tables(const std::string& who, const S& before, const S& after,
                     const std::string& cluster, std::vector<Change>& out) {
  for_each_sub_section<S>([&](const auto& sub) {
    using Sub = std::remove_cvref_t<decltype(sub)>;
    const std::string name(sub.name);
    if constexpr (Sub::repeated) {
      const auto& a = before.*sub.member;
      const auto& b = after.*sub.member;
      const size_t n = std::max(a.size(), b.size());
      for (size_t i = 0; i < n; i++) {
        const std::string item = name + "[" + std::to_string(i) + "]";
        if (i >= a.size()) {
          out.push_back({who + item + " added (" + all_keys(b[i]) + ")", {}, {}});
        } else if (i >= b.size()) {
          out.push_back({who + item + " removed", {}, {}});
        } else {
          diff_keys(who, item + ".", a[i], b[i], cluster, out);
        }
      }
    } else if constexpr (Sub::optional) {
      const auto& a = before.*sub.member;
      const auto& b = after.*sub.member;
      if (!a && b) {
        out.push_back({who + name + " added (" + all_keys(*b) + ")", {}, {}});
      } else if (a && !b) {
        out.push_back({who + name + " removed", {}, {}});
      } else if (a && b) {
        diff_keys(who, name + ".", *a, *b, cluster, out);
      }
    } else {
      diff_keys(who, name + ".", before.*sub.member, after.*sub.member, cluster, out);
    }
  });
}

}  // namespace

std::vector<Change> diff(const Config& before, const Config& after) {
  std::vector<Change> out;
  for_each_section([&](const auto& section) {
    using Section = std::remove_cvref_t<decltype(section)>;
    using S = typename Section::Struct;
    const std::string table(section.name);
    if constexpr (Section::repeated) {
      const std::vector<S>& a = before.*section.member;
      const std::vector<S>& b = after.*section.member;
      auto find = [](const std::vector<S>& list, const std::string& name) -> const S* {
        for (const S& x : list) {
          if (x.name == name) return &x;
        }
        return nullptr;
      };
      for (const S& x : b) {
        const std::string who = table + " " + quoted(x.name) + ": ";
        const S* old = find(a, x.name);
        if (old == nullptr) {
          std::string what;
          if constexpr (std::is_same_v<S, Listener>) {
            what = x.address.to_string() + " -> cluster " + quoted(x.cluster);
          } else if constexpr (std::is_same_v<S, Cluster>) {
            for (const Endpoint& e : x.endpoints) what += (what.empty() ? "" : ", ") + e.to_spec();
          }
          out.push_back({who + "added" + (what.empty() ? "" : " (" + what + ")"), {}, {}});
          continue;
        }
        diff_keys(who, "", *old, x, x.name, out);
        diff_sub_tables(who, *old, x, x.name, out);
      }
      for (const S& x : a) {
        if (find(b, x.name) != nullptr) continue;
        std::string what;
        if constexpr (std::is_same_v<S, Listener>) what = " (" + x.address.to_string() + ")";
        out.push_back({table + " " + quoted(x.name) + ": removed" + what, {}, {}});
      }
    } else {
      diff_keys(table + ": ", "", before.*section.member, after.*section.member, "", out);
    }
  });
  return out;
}

}  // namespace parkway::conf
