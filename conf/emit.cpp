// Config -> TOML, driven by the key table; see conf/emit.h.
#include "conf/emit.h"

#include "conf/keys.h"

namespace parkway::conf {
namespace {

constexpr std::size_t comment_width = 88;

// Comment text is the source path at most, but a path may hold a newline: never let it
// end the comment.
std::string comment_safe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

void add_comment(std::string& out, std::string_view text) {
  for (const std::string& line : wrap_words(text, comment_width - 2)) out += "# " + line + "\n";
}

template <class S>
void add_key_comment(std::string& out, const Key<S>& key) {
  add_comment(out, key.help);
  std::string facts;
  std::visit(
      [&](auto member) {
        using T = FieldType<S, decltype(member)>;
        const std::string accepted = describe_accepted<T>(key.bounds);
        facts = std::string(type_name<T>());
        facts[0] = static_cast<char>(facts[0] - 'a' + 'A');
        if (!accepted.empty()) facts += ", " + accepted;
        facts += ". ";
      },
      key.field);
  if (key.required()) {
    facts += "Required.";
  } else {
    facts += "Default: " + field_toml(key, defaults<S>());
    if (!key.forward_default_text.empty()) {
      facts += " (" + field_toml(key, defaults<S>(Origin::forwards)) + " for -L forwards)";
    }
    facts += ".";
  }
  add_comment(out, facts);
}

template <class Section>
std::string header_of(const Section& section) {
  std::string_view name = section.name;
  if constexpr (requires { section.path; }) name = section.path;
  return Section::repeated ? "[[" + std::string(name) + "]]" : "[" + std::string(name) + "]";
}

// `text` with every line commented out ("# "), blank lines kept as "#".
std::string commented_out(const std::string& text) {
  std::string out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + begin, end - begin);
    if (line.empty()) {
      out += "#\n";
    } else if (line.starts_with("#")) {
      out += std::string(line) + "\n";
    } else {
      out += "# " + std::string(line) + "\n";
    }
    begin = end + 1;
  }
  return out;
}

template <class Section>
void add_table(std::string& out, const Section& section, const typename Section::Struct& value,
               bool comments);

// The sub-tables of `value` ([cluster.health_check] after the keys of its [[cluster]]).
template <class S>
void add_sub_tables(std::string& out, const S& value, bool comments) {
  for_each_sub_section<S>([&](const auto& sub) {
    using Sub = std::remove_cvref_t<decltype(sub)>;
    using C = typename Sub::Struct;
    if constexpr (Sub::repeated) {
      for (const C& item : value.*sub.member) add_table(out, sub, item, comments);
    } else if constexpr (Sub::optional) {
      if (value.*sub.member) {
        add_table(out, sub, *(value.*sub.member), comments);
      } else if (comments) {
        // Absent means off: the reference shows it commented out, at its defaults.
        std::string table;
        add_table(table, sub, defaults<C>(), true);
        out += "\n# (Off: uncomment this table, with the keys you change, to turn it on.)\n";
        out += commented_out(table.substr(1));  // (its leading blank line is above)
      }
    } else {
      add_table(out, sub, value.*sub.member, comments);
    }
  });
}

template <class Section>
void add_table(std::string& out, const Section& section, const typename Section::Struct& value,
               bool comments) {
  const std::string header = header_of(section);
  out += '\n';
  if (comments) add_comment(out, header + " " + std::string(section.help));
  out += header + "\n";
  for (const auto& key : section.keys) {
    if (comments) {
      out += '\n';
      add_key_comment(out, key);
    }
    out += std::string(key.name) + " = " + field_toml(key, value) + "\n";
  }
  add_sub_tables(out, value, comments);
}

std::string emit(const Config& config, std::string preamble, bool comments) {
  std::string out = std::move(preamble);
  for_each_section([&](const auto& section) {
    using Section = std::remove_cvref_t<decltype(section)>;
    if constexpr (Section::repeated) {
      for (const auto& item : config.*section.member) add_table(out, section, item, comments);
    } else {
      add_table(out, section, config.*section.member, comments);
    }
  });
  return out;
}

}  // namespace

std::string to_toml(const Config& config) {
  std::string preamble = "# parkway configuration";
  if (!config.source.empty()) preamble += ", from " + comment_safe(config.source);
  preamble += ".\n# Every key is shown, defaults included.\n";
  return emit(config, std::move(preamble), false);
}

std::string to_commented_toml(const Config& config, std::string_view preamble) {
  return emit(config, std::string(preamble), true);
}

}  // namespace parkway::conf
