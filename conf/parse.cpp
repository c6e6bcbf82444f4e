// The TOML reader: toml++ parses the text, then every table and key is checked against the
// key table (conf/keys.h), and the finished Config against conf/validate.h.
//
// Problems are collected, not thrown: one pass reports all of them. Each is filed under its
// key path ("cluster[1].endpoints[0]") together with where that key was written, so the
// cross-key checks, which only know key paths, can point at the line too, and so a key
// already reported as wrong is not reported again by a later check that tripped over it.
#include "conf/parse.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "conf/keys.h"
#include "conf/limits.h"
#include "conf/validate.h"

namespace parkway::conf {
namespace {

// A key as it appears in a key path: bare when TOML would allow it bare, else quoted.
std::string path_part(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  return bare ? std::string(key) : toml_quote(key);
}

// What the user wrote, for "found ...": "5 seconds" quoted, or "the integer 5".
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: {
      std::string_view text = node.as_string()->get();
      if (text.size() > 80) return toml_quote(text.substr(0, 80)) + "...";
      return toml_quote(text);
    }
    case toml::node_type::integer: return "the integer " + std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point: {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%g", node.as_floating_point()->get());
      return std::string("the float ") + buffer;
    }
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "the boolean true" : "the boolean false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table:
      return node.as_table()->is_inline() ? "an inline table" : "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// How a section is written: "[runtime]" or "[[listener]]".
template <class Section>
std::string header(const Section& section) {
  std::string_view name = section.name;
  if constexpr (requires { section.path; }) name = section.path;  // a sub-table
  return Section::repeated ? "[[" + std::string(name) + "]]" : "[" + std::string(name) + "]";
}

std::string single_quoted(std::string_view text) {
  std::string quoted = toml_quote(text);
  quoted.front() = '\'';
  quoted.back() = '\'';
  return quoted;
}

class Reader {
 public:
  Reader(std::string file, std::string_view text) : file_(std::move(file)), text_(text) {}

  LoadResult read() {
    LoadResult result;
    // What no real config needs is refused before the parser sees it (conf/limits.h).
    if (auto exceeded = check_limits(text_, file_)) {
      result.diagnostics.push_back(std::move(*exceeded));
      return result;
    }
    toml::table root;
    try {
      root = toml::parse(text_, std::string_view(file_));
    } catch (const toml::parse_error& error) {
      // toml++ says "Error while parsing string: ..."; the word "error" is already there.
      std::string_view description = error.description();
      constexpr std::string_view prefix = "Error while parsing ";
      if (description.starts_with(prefix)) description.remove_prefix(prefix.size());
      report(Severity::error, error.source().begin, {},
             "TOML syntax error in " + std::string(description));
      result.diagnostics = std::move(diagnostics_);
      return result;
    } catch (const std::exception& error) {
      report(Severity::error, {}, {}, std::string("cannot parse the file: ") + error.what());
      result.diagnostics = std::move(diagnostics_);
      return result;
    }

    Config config = default_config();
    config.source = file_;
    // (No structured bindings: clang 14 cannot capture them in the lambda below.)
    for (auto&& entry : root) {
      const toml::key& key = entry.first;
      const toml::node& node = entry.second;
      bool known = false;
      for_each_section([&](const auto& section) {
        if (key.str() != section.name) return;
        known = true;
        read_section(section, node, config);
      });
      if (!known) unknown_top_level_key(key);
    }
    check_across_keys(config);

    keep_first(max_diagnostics);
    if (!has_errors(diagnostics_) && suppressed_errors_ == 0) result.config = std::move(config);
    if (suppressed_ > 0) {
      Diagnostic more;
      more.severity = suppressed_errors_ > 0 ? Severity::error : Severity::warning;
      more.file = file_;
      more.message = std::to_string(suppressed_) + " more problem" + (suppressed_ == 1 ? "" : "s") +
                     " (" + std::to_string(suppressed_errors_) + " error" +
                     (suppressed_errors_ == 1 ? "" : "s") + ") not shown: at most " +
                     std::to_string(max_diagnostics) + " are reported; fix these first";
      diagnostics_.push_back(std::move(more));
    }
    result.diagnostics = std::move(diagnostics_);
    return result;
  }

 private:
  // --- sections and tables -------------------------------------------------------------

  template <class Section>
  void read_section(const Section& section, const toml::node& node, Config& config) {
    using S = typename Section::Struct;
    const std::string path(section.name);
    positions_[path] = node.source().begin;
    if constexpr (!Section::repeated) {
      if (const toml::table* table = node.as_table()) {
        read_table(section, *table, path, config.*section.member);
      } else {
        error(node, path,
              "expected a table written " + header(section) + ", found " + describe(node) +
                  (node.is_array_of_tables() ? " written [[" + path + "]]" : ""));
      }
    } else {
      const toml::array* array = node.as_array();
      if (array == nullptr) {
        std::string found = describe(node);
        if (const toml::table* table = node.as_table(); table != nullptr && !table->is_inline()) {
          found = "a single table written [" + path + "]";
        }
        error(node, path,
              "expected an array of tables written " + header(section) + ", found " + found);
        return;
      }
      auto& items = config.*section.member;
      for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        S item = defaults<S>();
        if (const toml::table* table = element.as_table()) {
          read_table(section, *table, item_path, item);
        } else {
          positions_[item_path] = element.source().begin;
          error(element, item_path, "expected a table, found " + describe(element));
        }
        items.push_back(std::move(item));
      }
    }
  }

  template <class Section, class S>
  void read_table(const Section& section, const toml::table& table, const std::string& path,
                  S& target) {
    const toml::source_position where = table.source().begin;
    positions_[path] = where;
    if constexpr (requires { target.origin; })
      target.origin = SourceLocation{where.line, where.column};

    std::vector<bool> present(section.keys.size());
    for (auto&& entry : table) {
      const toml::key& name = entry.first;
      const toml::node& node = entry.second;
      const std::string key_path = path + "." + path_part(name.str());
      const auto key = std::find_if(section.keys.begin(), section.keys.end(),
                                    [&](const Key<S>& k) { return k.name == name.str(); });
      if (key == section.keys.end()) {
        if (!read_sub_table(name.str(), node, key_path, target))
          unknown_key(section, name, key_path);
        continue;
      }
      present[static_cast<std::size_t>(key - section.keys.begin())] = true;
      read_value(*key, node, key_path, target);
    }
    for (std::size_t i = 0; i < section.keys.size(); ++i) {
      const Key<S>& key = section.keys[i];
      if (!key.required() || present[i]) continue;
      S example{};
      assign_text(key, key.example_text, example);
      report(Severity::error, where, path + "." + std::string(key.name),
             "missing required key " + single_quoted(key.name) + "; expected a line such as " +
                 std::string(key.name) + " = " + field_toml(key, example));
    }
  }

  // A sub-table of S named `name` ([cluster.health_check], [[listener.route]]): reads it and
  // returns true, or returns false when S has none of that name.
  template <class S>
  bool read_sub_table(std::string_view name, const toml::node& node, const std::string& path,
                      S& target) {
    bool found = false;
    for_each_sub_section<S>([&](const auto& sub) {
      using Sub = std::remove_cvref_t<decltype(sub)>;
      using C = typename Sub::Struct;
      if (sub.name != name || found) return;
      found = true;
      positions_[path] = node.source().begin;
      if constexpr (Sub::repeated) {
        const toml::array* array = node.as_array();
        if (array == nullptr || !node.is_array_of_tables()) {
          error(node, path,
                "expected an array of tables written " + header(sub) + ", found " + describe(node));
          return;
        }
        auto& items = target.*sub.member;
        for (std::size_t i = 0; i < array->size(); ++i) {
          C item = defaults<C>();
          read_table(sub, *array->get(i)->as_table(), path + "[" + std::to_string(i) + "]", item);
          items.push_back(std::move(item));
        }
      } else {
        const toml::table* table = node.as_table();
        if (table == nullptr) {
          error(node, path,
                "expected a table written " + header(sub) + ", found " + describe(node));
          return;
        }
        if constexpr (Sub::optional) {
          target.*sub.member = defaults<C>();
          read_table(sub, *table, path, *(target.*sub.member));
        } else {
          read_table(sub, *table, path, target.*sub.member);
        }
      }
    });
    return found;
  }

  // --- values -------------------------------------------------------------------------

  template <class S>
  void read_value(const Key<S>& key, const toml::node& node, const std::string& path, S& target) {
    positions_[path] = node.source().begin;
    std::visit(
        [&](auto member) {
          using T = FieldType<S, decltype(member)>;
          if constexpr (std::is_same_v<T, std::vector<Endpoint>>) {
            read_endpoints(node, path, target.*member);
          } else {
            Parsed<T> parsed = read_scalar<T>(node, key.bounds);
            if (parsed.ok()) {
              target.*member = std::move(parsed.value());
            } else {
              error(node, path,
                    parsed.expected() + ", found " + describe(node) +
                        (parsed.hint().empty() ? "" : "; " + parsed.hint()));
            }
          }
        },
        key.field);
  }

  // Integers and booleans are TOML integers and booleans; every other type is a string in
  // its text form (conf/value.h).
  template <class T>
  static Parsed<T> read_scalar(const toml::node& node, const Bounds& bounds) {
    if constexpr (std::is_same_v<T, int>) {
      if (const auto* value = node.as_integer()) return check_int(value->get(), bounds);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (const auto* value = node.as_boolean()) return value->get();
    } else {
      if (const auto* value = node.as_string()) return parse_text<T>(value->get(), bounds);
    }
    return Parsed<T>::failure("expected " + type_phrase<T>(bounds));
  }

  void read_endpoints(const toml::node& node, const std::string& path, std::vector<Endpoint>& out) {
    const toml::array* array = node.as_array();
    if (array == nullptr) {
      std::string hint;
      if (const auto* text = node.as_string())
        hint = "; write it as an array: [" + toml_quote(text->get()) + "]";
      error(node, path,
            "expected an array of \"host:port\" strings, found " + describe(node) + hint);
      return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const std::string element_path = path + "[" + std::to_string(i) + "]";
      positions_[element_path] = element.source().begin;
      std::string problem;
      if (const auto* text = element.as_string()) {
        Parsed<Endpoint> endpoint = parse_endpoint(text->get());
        if (endpoint.ok()) {
          out.push_back(std::move(endpoint.value()));
          continue;
        }
        problem = endpoint.expected();
      } else if (const auto* table = element.as_table()) {
        if (std::optional<Endpoint> endpoint = read_endpoint_table(*table, element_path)) {
          out.push_back(std::move(*endpoint));
          continue;
        }
        error_paths_.insert(path);
        continue;  // read_endpoint_table reported what is wrong
      } else {
        problem =
            "expected a \"host:port\" string or a table such as { address = \"host:port\", weight "
            "= 2 }";
      }
      error(element, element_path, problem + ", found " + describe(element));
      // The list is now shorter than the array: indexes no longer match, so checks of the
      // whole list (duplicates, emptiness) are left out for this key.
      error_paths_.insert(path);
    }
  }

  // { address = "host:port", weight = 3, backup = true }: the table form of an endpoint.
  std::optional<Endpoint> read_endpoint_table(const toml::table& table, const std::string& path) {
    std::optional<Endpoint> out;
    bool ok = true;
    int weight = 1;
    bool backup = false;
    bool has_address = false;
    for (auto&& entry : table) {
      const std::string name(entry.first.str());
      const toml::node& node = entry.second;
      const std::string key_path = path + "." + path_part(name);
      positions_[key_path] = node.source().begin;
      if (name == "address") {
        has_address = true;
        const auto* text = node.as_string();
        Parsed<Endpoint> endpoint =
            text ? parse_endpoint(text->get())
                 : Parsed<Endpoint>::failure("expected a \"host:port\" string");
        if (endpoint.ok()) {
          out = std::move(endpoint.value());
        } else {
          error(node, key_path, endpoint.expected() + ", found " + describe(node));
          ok = false;
        }
      } else if (name == "weight") {
        const auto* value = node.as_integer();
        Parsed<int> w = value ? check_int(value->get(), Bounds{1, max_endpoint_weight})
                              : Parsed<int>::failure("expected an integer 1..256");
        if (w.ok()) {
          weight = w.value();
        } else {
          error(node, key_path, w.expected() + ", found " + describe(node));
          ok = false;
        }
      } else if (name == "backup") {
        if (const auto* value = node.as_boolean()) {
          backup = value->get();
        } else {
          error(node, key_path, "expected true or false, found " + describe(node));
          ok = false;
        }
      } else {
        std::string message = "unknown key " + single_quoted(name) + " in an endpoint";
        if (const std::string_view close = closest_match(name, {"address", "weight", "backup"});
            !close.empty()) {
          message += "; did you mean " + single_quoted(close) + "?";
        } else {
          message += "; expected address, weight or backup";
        }
        report(Severity::error, entry.first.source().begin, key_path, std::move(message));
        ok = false;
      }
    }
    if (!has_address) {
      report(Severity::error, table.source().begin, path + ".address",
             "missing required key 'address' in an endpoint table; expected such as "
             "{ address = \"10.0.0.5:80\", weight = 2 }");
      ok = false;
    }
    if (!ok || !out) return std::nullopt;
    out->weight = weight;
    out->backup = backup;
    return out;
  }

  // --- unknown keys -------------------------------------------------------------------

  template <class Section>
  void unknown_key(const Section& section, const toml::key& name, const std::string& key_path) {
    std::vector<std::string_view> candidates;
    for (const auto& key : section.keys) candidates.push_back(key.name);
    using S = typename Section::Struct;
    for_each_sub_section<S>([&](const auto& sub) { candidates.push_back(sub.name); });
    std::string message = "unknown key " + single_quoted(name.str()) + " in " + header(section);
    if (const std::string_view close = closest_match(name.str(), candidates); !close.empty()) {
      message += "; did you mean " + single_quoted(close) + "?";
    } else if (const std::string home = section_of_key(name.str()); !home.empty()) {
      message += "; it is a key of " + home;
    } else {
      message += "; expected one of ";
      for (std::size_t i = 0; i < candidates.size(); ++i)
        message += (i ? ", " : "") + std::string(candidates[i]);
    }
    report(Severity::error, name.source().begin, key_path, std::move(message));
  }

  void unknown_top_level_key(const toml::key& name) {
    std::vector<std::string_view> candidates;
    std::vector<std::string> headers;
    for_each_section([&](const auto& section) {
      candidates.push_back(section.name);
      headers.push_back(header(section));
    });
    std::string message = "unknown top-level key " + single_quoted(name.str());
    if (const std::string_view close = closest_match(name.str(), candidates); !close.empty()) {
      message += "; did you mean " + single_quoted(close) + "?";
    } else if (const std::string home = section_of_key(name.str()); !home.empty()) {
      message += "; it is a key of " + home + ", so it goes below that table header";
    } else {
      message += "; expected ";
      for (std::size_t i = 0; i < headers.size(); ++i) {
        message += (i == 0 ? "" : i + 1 == headers.size() ? " or " : ", ") + headers[i];
      }
    }
    report(Severity::error, name.source().begin, path_part(name.str()), std::move(message));
  }

  // The header of the section that has a key of this name ("[runtime]"), or empty.
  static std::string section_of_key(std::string_view name) {
    std::string home;
    for_each_section([&](const auto& section) {
      for (const auto& key : section.keys) {
        if (key.name == name && home.empty()) home = header(section);
      }
    });
    return home;
  }

  // --- cross-key checks ---------------------------------------------------------------

  void check_across_keys(const Config& config) {
    ValidateOptions options;
    for (const std::string& path : error_paths_) {
      if (breaks(path, "cluster", {})) options.check_references = false;
      if (breaks(path, "listener", "cluster")) options.check_unused = false;
    }
    for (Diagnostic& diagnostic : validate(config, options)) {
      if (has_error_at_or_above(diagnostic.key_path)) continue;
      const toml::source_position* where = locate(diagnostic.key_path);
      report(diagnostic.severity, where ? *where : toml::source_position{},
             std::move(diagnostic.key_path), std::move(diagnostic.message));
    }
  }

  // Whether an error at `path` leaves a member of `section` unknown: the section itself,
  // one of its tables, or (when `key` is not empty) that table's `key`.
  static bool breaks(std::string_view path, std::string_view section, std::string_view key) {
    if (path.substr(0, section.size()) != section) return false;
    path.remove_prefix(section.size());
    if (path.empty()) return true;
    if (path.front() != '[') return false;
    const std::size_t close = path.find(']');
    if (close == std::string_view::npos) return false;
    path.remove_prefix(close + 1);
    return path.empty() || (!key.empty() && path.size() == key.size() + 1 && path.front() == '.' &&
                            path.substr(1) == key);
  }

  // The key path and each path above it: "a[1].b[2]", "a[1].b", "a[1]", "a".
  template <class F>
  static void for_each_ancestor(std::string_view path, F&& f) {
    while (!path.empty()) {
      if (f(path)) return;
      const std::size_t cut = path.find_last_of(".[");
      if (cut == std::string_view::npos) return;
      path = path.substr(0, cut);
    }
  }

  bool has_error_at_or_above(std::string_view path) const {
    bool found = false;
    for_each_ancestor(
        path, [&](std::string_view p) { return found = error_paths_.contains(std::string(p)); });
    return found;
  }

  const toml::source_position* locate(std::string_view path) const {
    const toml::source_position* where = nullptr;
    for_each_ancestor(path, [&](std::string_view p) {
      const auto it = positions_.find(std::string(p));
      if (it != positions_.end()) where = &it->second;
      return where != nullptr;
    });
    return where;
  }

  // --- reporting ----------------------------------------------------------------------

  // Sorts the diagnostics into file order and keeps the first `n`, counting the rest.
  // Positioned diagnostics come in file order, then those about the file as a whole.
  void keep_first(std::size_t n) {
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return std::make_tuple(a.line == 0, a.line, a.column) <
                              std::make_tuple(b.line == 0, b.line, b.column);
                     });
    for (std::size_t i = n; i < diagnostics_.size(); ++i) {
      suppressed_++;
      if (diagnostics_[i].severity == Severity::error) suppressed_errors_++;
    }
    if (diagnostics_.size() > n) diagnostics_.resize(n);
  }

  void error(const toml::node& node, const std::string& path, std::string message) {
    report(Severity::error, node.source().begin, path, std::move(message));
  }

  void report(Severity severity, toml::source_position where, std::string key_path,
              std::string message) {
    if (severity == Severity::error) error_paths_.insert(key_path);
    Diagnostic diagnostic;
    diagnostic.severity = severity;
    diagnostic.file = file_;
    diagnostic.line = where.line;
    diagnostic.column = where.line == 0 ? 0 : std::max<std::uint32_t>(where.column, 1);
    diagnostic.key_path = std::move(key_path);
    diagnostic.message = std::move(message);
    // A minified file may hold thousands of errors on one long line: copy only lines that
    // will be echoed.
    if (const std::string_view line = source_line(where.line); line.size() <= max_echoed_line) {
      diagnostic.source_line = std::string(line);
    }
    diagnostics_.push_back(std::move(diagnostic));
    // A file of a million unknown keys must not hold a million diagnostics: keep the
    // earliest, and count the others (amortised: one sort per 3 * max_diagnostics).
    if (diagnostics_.size() >= 4 * max_diagnostics) keep_first(max_diagnostics);
  }

  std::string_view source_line(std::uint32_t line) {
    if (lines_.empty()) {
      std::size_t begin = 0;
      while (begin <= text_.size()) {
        std::size_t end = text_.find('\n', begin);
        if (end == std::string_view::npos) end = text_.size();
        lines_.push_back(text_.substr(begin, end - begin));
        begin = end + 1;
      }
    }
    return line >= 1 && line <= lines_.size() ? lines_[line - 1] : std::string_view();
  }

  std::string file_;
  std::string_view text_;
  std::vector<std::string_view> lines_;  // text_ split at '\n', made when first needed
  std::vector<Diagnostic> diagnostics_;
  std::size_t suppressed_ = 0;         // diagnostics beyond max_diagnostics, not kept
  std::size_t suppressed_errors_ = 0;  // ... of which errors
  std::unordered_map<std::string, toml::source_position> positions_;  // key path -> where written
  std::unordered_set<std::string> error_paths_;                       // key paths reported as wrong
};

Diagnostic file_error(const std::string& path, std::string message) {
  Diagnostic diagnostic;
  diagnostic.file = path;
  diagnostic.message = std::move(message);
  return diagnostic;
}

}  // namespace

LoadResult load_string(std::string_view toml, std::string source_name) {
  return Reader(std::move(source_name), toml).read();
}

LoadResult load_file(const std::string& path) {
  LoadResult result;
  const auto fail = [&](std::string message) {
    result.diagnostics.push_back(file_error(path, std::move(message)));
    return result;
  };
  const auto errno_text = [](int error) { return std::generic_category().message(error); };

  // Non-blocking, so that opening a FIFO (or a device) cannot hang: only a regular file
  // is read, and never more than the largest config accepted.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return fail("cannot open the config file: " + errno_text(errno));
  std::string text;
  struct stat info {};
  int error = 0;
  std::string not_regular;
  if (::fstat(fd, &info) != 0) {
    error = errno;
  } else if (S_ISDIR(info.st_mode)) {
    error = EISDIR;
  } else if (!S_ISREG(info.st_mode)) {
    not_regular = S_ISFIFO(info.st_mode)   ? "a FIFO"
                  : S_ISSOCK(info.st_mode) ? "a socket"
                  : S_ISCHR(info.st_mode)  ? "a character device"
                  : S_ISBLK(info.st_mode)  ? "a block device"
                                           : "not a regular file";
  } else {
    char buffer[65536];
    while (text.size() <= max_file_bytes) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error = errno;
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (!not_regular.empty()) {
    return fail("cannot read the config file: expected a regular file, found " + not_regular);
  }
  if (error != 0) return fail("cannot read the config file: " + errno_text(error));
  if (text.size() > max_file_bytes) {
    return fail("expected a config file of at most " + std::to_string(max_file_bytes >> 20) +
                " MiB, found a larger one");
  }
  return load_string(text, path);
}

}  // namespace parkway::conf
