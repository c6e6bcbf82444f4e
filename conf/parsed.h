// Parsed<T>: the outcome of reading one value a user wrote (a duration, an address, a
// flag's argument): either the value, or a phrase saying what was expected instead
// ("expected a duration such as \"250ms\", \"5s\" or \"1h\"").
//
// The TOML parser and the command line read values through the same functions and both
// quote that phrase, so a bad value is explained in the same words wherever it was written.
// Unlike std::optional, a failure carries its explanation; there is no std::expected in C++20.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace parkway::conf {

template <class T>
class Parsed {
 public:
  Parsed(T value) : value_(std::move(value)) {}  // NOLINT: implicit, so parsers `return value;`

  // A failed parse. `expected` starts with "expected ..." and does not repeat the input:
  // callers add what was found, in their own context.
  // `hint` is an optional second sentence, such as "did you mean \"info\"?"; callers put it
  // after what was found.
  static Parsed failure(std::string expected, std::string hint = {}) {
    Parsed parsed;
    parsed.expected_ = std::move(expected);
    parsed.hint_ = std::move(hint);
    return parsed;
  }

  bool ok() const { return value_.has_value(); }
  // Precondition: ok().
  const T& value() const { return *value_; }
  T& value() { return *value_; }
  // Precondition: !ok().
  const std::string& expected() const { return expected_; }
  const std::string& hint() const { return hint_; }

 private:
  Parsed() = default;

  std::optional<T> value_;
  std::string expected_;
  std::string hint_;
};

}  // namespace parkway::conf
