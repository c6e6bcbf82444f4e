// Plain-text views of the key table (conf/keys.h) for docs, help and tests.
#include "conf/keys.h"

#include <algorithm>

namespace parkway::conf {

std::string flag_name(std::string_view key_name) {
  std::string out = "--";
  for (const char c : key_name) out += c == '_' ? '-' : c;
  return out;
}

namespace {

template <class Table>
void add_docs(std::vector<KeyDoc>& docs, const Table& table) {
  using S = typename Table::Struct;
  const S defaulted = defaults<S>();
  for (const Key<S>& key : table.keys) {
    KeyDoc doc;
    doc.section = table.name;
    if constexpr (requires { table.path; }) {
      doc.section = table.path;
      doc.optional_table = Table::optional;
    }
    doc.repeated = Table::repeated;
    doc.name = key.name;
    doc.help = key.help;
    doc.flag = key.flag;
    if (key.flag != FlagUse::none) {
      doc.flag_name =
          key.flag_override.empty() ? flag_name(key.name) : std::string(key.flag_override);
    }
    doc.required = key.required();
    std::visit(
        [&](auto member) {
          using T = FieldType<S, decltype(member)>;
          doc.type = type_name<T>();
          doc.type_phrase = type_phrase<T>(key.bounds);
          doc.accepted = describe_accepted<T>(key.bounds);
          if constexpr (is_enum_field<T>) doc.choices = enum_names<T>();
        },
        key.field);
    if (key.required()) {
      S example{};
      if (const std::string error = assign_text(key, key.example_text, example); !error.empty()) {
        std::fprintf(stderr, "conf: bad example for key %.*s in conf/keys.h: %s\n",
                     static_cast<int>(key.name.size()), key.name.data(), error.c_str());
        std::abort();
      }
      doc.example_toml = field_toml(key, example);
    } else {
      doc.default_text = field_text(key, defaulted);
      doc.default_toml = field_toml(key, defaulted);
      doc.example_toml = doc.default_toml;
      if (!key.forward_default_text.empty()) {
        const S forwarded = defaults<S>(Origin::forwards);
        doc.forward_default_text = field_text(key, forwarded);
        doc.forward_default_toml = field_toml(key, forwarded);
      }
    }
    docs.push_back(std::move(doc));
  }
  for_each_sub_section<S>([&](const auto& sub) { add_docs(docs, sub); });
}

}  // namespace

std::vector<KeyDoc> key_docs() {
  std::vector<KeyDoc> docs;
  for_each_section([&](const auto& section) { add_docs(docs, section); });
  return docs;
}

std::vector<std::string> wrap_words(std::string_view text, std::size_t width) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find(' ', pos), text.size());
    const std::string_view word = text.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(std::move(line));
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

}  // namespace parkway::conf
