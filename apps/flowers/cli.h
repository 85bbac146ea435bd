// cli.h: the command-line parser of every flowers command. Flags are declared with their help
// text, parsed as `--flag value` or `--flag=value`, and checked: an unknown flag, a missing
// value, a repeated flag or a value out of range throws UsageError with one clear line.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowers {

// A bad command line: main prints "flowers <command>: <message>" and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  Args(std::string command, std::string synopsis, std::string description);

  // Declarations (before parse). `metavar` names the value in --help.
  void value(const std::string& name, const std::string& metavar, const std::string& help,
             const std::string& default_value = "");
  void toggle(const std::string& name, const std::string& help);  // a switch without value
  void positionals(const std::string& metavar, const std::string& help, size_t min_count, size_t max_count);

  // Parses argv (without the program and command names). Returns false after printing --help.
  bool parse(const std::vector<std::string>& argv);

  bool given(const std::string& name) const;    // set on the command line
  bool on(const std::string& name) const;       // a toggle's state
  std::string text(const std::string& name) const;  // the value, or its default
  double number(const std::string& name, double lo, double hi) const;
  int64_t integer(const std::string& name, int64_t lo, int64_t hi) const;
  // The value of a flag restricted to `choices`, or UsageError listing them.
  std::string choice(const std::string& name, const std::vector<std::string>& choices) const;
  const std::vector<std::string>& rest() const { return rest_; }
  std::string help() const;
  const std::string& command() const { return command_; }

 private:
  struct Flag {
    std::string metavar, help, default_value;
    bool is_toggle = false;
  };
  const Flag& declared(const std::string& name) const;

  std::string command_, synopsis_, description_;
  std::vector<std::string> order_;
  std::map<std::string, Flag> flags_;
  std::map<std::string, std::string> values_;
  std::string rest_metavar_, rest_help_;
  size_t rest_min_ = 0, rest_max_ = 0;
  std::vector<std::string> rest_;
};

// Splits "a b 'c d'" into words (single or double quotes group); used by inspect --against.
std::vector<std::string> split_words(const std::string& text);

}  // namespace flowers
