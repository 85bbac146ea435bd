// cli.cpp: Args, the declared-flag parser behind every flowers command.
#include "cli.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace flowers {

Args::Args(std::string command, std::string synopsis, std::string description)
    : command_(std::move(command)), synopsis_(std::move(synopsis)), description_(std::move(description)) {
  toggle("--help", "print this help and exit");
}

void Args::value(const std::string& name, const std::string& metavar, const std::string& help,
                 const std::string& default_value) {
  order_.push_back(name);
  flags_[name] = Flag{metavar, help, default_value, false};
}

void Args::toggle(const std::string& name, const std::string& help) {
  order_.push_back(name);
  flags_[name] = Flag{"", help, "", true};
}

void Args::positionals(const std::string& metavar, const std::string& help, size_t min_count,
                       size_t max_count) {
  rest_metavar_ = metavar;
  rest_help_ = help;
  rest_min_ = min_count;
  rest_max_ = max_count;
}

const Args::Flag& Args::declared(const std::string& name) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) throw std::logic_error("flowers: flag " + name + " was never declared");
  return it->second;
}

bool Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word.rfind("--", 0) != 0 || word == "--") {
      if (word == "--") {
        for (size_t j = i + 1; j < argv.size(); ++j) rest_.push_back(argv[j]);
        break;
      }
      if (rest_max_ == 0) throw UsageError("unexpected argument '" + word + "' (see --help)");
      rest_.push_back(word);
      continue;
    }
    std::string name = word, inline_value;
    bool has_inline = false;
    if (auto eq = word.find('='); eq != std::string::npos) {
      name = word.substr(0, eq);
      inline_value = word.substr(eq + 1);
      has_inline = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) throw UsageError("unknown flag '" + name + "' (see --help)");
    if (values_.count(name)) throw UsageError(name + " given twice");
    if (it->second.is_toggle) {
      if (has_inline) throw UsageError(name + " takes no value");
      values_[name].assign(1, '1');  // not = "1": GCC 12 warns falsely (-Wrestrict) on that
      if (name == "--help") {
        std::fputs(help().c_str(), stdout);
        return false;
      }
      continue;
    }
    if (has_inline) {
      values_[name] = inline_value;
    } else {
      if (i + 1 >= argv.size()) throw UsageError(name + ": missing value " + it->second.metavar);
      values_[name] = argv[++i];
    }
    if (values_[name].empty()) throw UsageError(name + ": empty value");
  }
  if (rest_.size() < rest_min_)
    throw UsageError("missing " + rest_metavar_ + " (see --help)");
  if (rest_.size() > rest_max_)
    throw UsageError("too many arguments: expected at most " + std::to_string(rest_max_) + " " +
                     rest_metavar_);
  return true;
}

bool Args::given(const std::string& name) const {
  declared(name);
  return values_.count(name) > 0;
}

bool Args::on(const std::string& name) const { return given(name); }

std::string Args::text(const std::string& name) const {
  const Flag& flag = declared(name);
  auto it = values_.find(name);
  return it != values_.end() ? it->second : flag.default_value;
}

double Args::number(const std::string& name, double lo, double hi) const {
  const std::string t = text(name);
  try {
    size_t used = 0;
    double v = std::stod(t, &used);
    if (used == t.size() && std::isfinite(v) && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
  }
  std::ostringstream msg;
  msg << name << ": expected a number in [" << lo << ", " << hi << "], got '" << t << "'";
  throw UsageError(msg.str());
}

int64_t Args::integer(const std::string& name, int64_t lo, int64_t hi) const {
  const std::string t = text(name);
  try {
    size_t used = 0;
    long long v = std::stoll(t, &used);
    if (used == t.size() && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
  }
  throw UsageError(name + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                   "], got '" + t + "'");
}

std::string Args::choice(const std::string& name, const std::vector<std::string>& choices) const {
  const std::string t = text(name);
  std::string list;
  for (const auto& c : choices) {
    if (c == t) return t;
    list += (list.empty() ? "" : ", ") + c;
  }
  throw UsageError(name + ": expected one of " + list + ", got '" + t + "'");
}

namespace {
// `text` as lines of at most `width` columns, each indented by `indent` spaces.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::istringstream words(text);
  std::string word, line, out;
  while (words >> word) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += std::string(indent, ' ') + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += std::string(indent, ' ') + line + "\n";
  return out;
}
}  // namespace

std::string Args::help() const {
  std::ostringstream out;
  out << "usage: flowers " << command_ << " " << synopsis_ << "\n\n" << description_ << "\n";
  if (!rest_metavar_.empty()) out << "\n  " << rest_metavar_ << "\n      " << rest_help_ << "\n";
  out << "\noptions:\n";
  for (const auto& name : order_) {
    const Flag& f = flags_.at(name);
    std::string text = f.help;
    if (!f.default_value.empty()) text += " (default: " + f.default_value + ")";
    out << "  " << name << (f.is_toggle ? "" : " " + f.metavar) << "\n" << wrap(text, 6, 96);
  }
  return out.str();
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
      else cur += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote) throw UsageError("unterminated quote in '" + text + "'");
  if (in_word) words.push_back(cur);
  return words;
}

}  // namespace flowers
