// state_dict.cpp: Optimizer::state_dict, check_state_dict and load_state_dict, and the report
// that compares a saved optimizer state with a live optimizer name by name.
#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "optim/optimizer.h"
#include "tensor/raw.h"

namespace sepal::optim {

namespace {

std::string number(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

Tensor copy_like(const Tensor& src, const Tensor& param) {
  Tensor dst = empty(param.shape(), TensorOptions().dtype(param.dtype()).device(param.device()));
  raw::copy_(dst, src);
  return dst;
}

}  // namespace

const char* issue_name(ParamIssue issue) {
  switch (issue) {
    case ParamIssue::Missing: return "missing";
    case ParamIssue::Unexpected: return "unexpected";
    case ParamIssue::Reshaped: return "reshaped";
    case ParamIssue::BadState: return "bad state";
  }
  return "unknown";
}

OptimizerStateDict OptimizerStateDict::clone() const {
  OptimizerStateDict out{type, groups, {}};
  for (const auto& [name, st] : state) {
    ParamState copy{st.step, {}};
    for (const auto& [buf, t] : st.buffers) copy.buffers.emplace_back(buf, raw::clone(t));
    out.state.emplace(name, std::move(copy));
  }
  return out;
}

// ---- report ----
bool OptimizerLoadReport::ok() const {
  if (saved_type != live_type || saved_groups != live_groups || !params.empty()) return false;
  for (const GroupReport& g : groups)
    if (g.members_changed()) return false;
  return true;
}

bool OptimizerLoadReport::has(const std::string& name, ParamIssue issue) const {
  for (const ParamReport& p : params)
    if (p.name == name && p.issue == issue) return true;
  return false;
}

const GroupReport* OptimizerLoadReport::group(size_t index) const {
  for (const GroupReport& g : groups)
    if (g.index == index) return &g;
  return nullptr;
}

std::string OptimizerLoadReport::str() const {
  std::ostringstream os;
  auto line = [&os](const std::string& text) { os << (os.tellp() > 0 ? "\n" : "") << text; };
  if (saved_groups != live_groups)
    line("groups: the saved " + saved_type + " has " + std::to_string(saved_groups) + ", this one " +
         std::to_string(live_groups));
  for (const ParamReport& p : params) line("parameter '" + p.name + "': " + issue_name(p.issue) + ": " + p.detail);
  for (const GroupReport& g : groups) {
    const std::string head = "group " + std::to_string(g.index) + ": ";
    if (!g.added.empty()) line(head + "members not in the saved group: " + join(g.added));
    if (!g.removed.empty()) line(head + "saved members not in this group: " + join(g.removed));
    for (const OptionChange& c : g.options)
      line(head + "option " + c.name + ": saved " + (c.saved ? number(*c.saved) : "(absent)") + ", live " +
           (c.live ? number(*c.live) : "(absent)"));
  }
  return os.str();
}

// ---- Optimizer ----
OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict out;
  out.type = type_;
  for (const ParamGroup& g : groups_) out.groups.push_back({g.options_, g.names_});
  out.state = state_;
  return out;
}

OptimizerLoadReport Optimizer::check_state_dict(const OptimizerStateDict& saved) const {
  const std::string where = type_ + ".load_state_dict";
  if (saved.type != type_)
    throw Error(where + ": the saved state is from a" + (saved.type.empty() ? "n untyped" : " " + saved.type) +
                " optimizer, this one is " + type_);
  OptimizerLoadReport r;
  r.saved_type = saved.type;
  r.live_type = type_;
  r.saved_groups = saved.groups.size();
  r.live_groups = groups_.size();

  // The saved groups must be well formed: known options, each member in one group, state only
  // for members, non-negative steps.
  std::unordered_map<std::string, size_t> saved_group_of;
  for (size_t gi = 0; gi < saved.groups.size(); ++gi) {
    check_option_names(saved.groups[gi].options, where + " (saved group " + std::to_string(gi) + ")");
    for (const std::string& name : saved.groups[gi].params)
      if (!saved_group_of.emplace(name, gi).second)
        throw Error(where + ": malformed state: parameter '" + name + "' is in saved groups " +
                    std::to_string(saved_group_of[name]) + " and " + std::to_string(gi));
  }
  for (const auto& [name, st] : saved.state) {
    if (!saved_group_of.count(name))
      throw Error(where + ": malformed state: saved state for '" + name + "', which no saved group lists");
    if (st.step < 0)
      throw Error(where + ": malformed state: '" + name + "' has step " + std::to_string(st.step));
  }

  const std::vector<std::string> known = known_buffers();
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    // The options this group will have after a load: the saved group's, when there is one.
    const Options& after = gi < saved.groups.size() ? saved.groups[gi].options : g.options_;
    const std::vector<std::string> required = required_buffers(after);
    for (size_t i = 0; i < g.names_.size(); ++i) {
      const std::string& name = g.names_[i];
      const Tensor& p = g.params_[i];
      if (!saved_group_of.count(name)) {
        r.params.push_back({name, ParamIssue::Missing, "not in the saved optimizer; its state starts fresh"});
        r.fresh.push_back(name);
        continue;
      }
      auto st = saved.state.find(name);
      if (st == saved.state.end()) {  // listed but never stepped: nothing to restore
        r.fresh.push_back(name);
        continue;
      }
      std::string bad, reshaped;
      for (const auto& [buf, t] : st->second.buffers) {
        if (std::find(known.begin(), known.end(), buf) == known.end())
          bad += (bad.empty() ? "" : "; ") + std::string("unknown buffer '") + buf + "'";
        else if (!t.defined() || !is_floating(t.dtype()))
          bad += (bad.empty() ? "" : "; ") + std::string("buffer '") + buf + "' is not a floating tensor";
        else if (t.shape() != p.shape())
          reshaped += (reshaped.empty() ? "" : "; ") + buf + " " + shape_str(t.shape()) + " vs parameter " +
                      shape_str(p.shape());
      }
      for (const std::string& buf : required)
        if (!st->second.find(buf)) bad += (bad.empty() ? "" : "; ") + std::string("lacks buffer '") + buf + "'";
      if (!reshaped.empty()) r.params.push_back({name, ParamIssue::Reshaped, reshaped + "; its state starts fresh"});
      else if (!bad.empty()) r.params.push_back({name, ParamIssue::BadState, bad + "; its state starts fresh"});
      else {
        r.loaded.push_back(name);
        continue;
      }
      r.fresh.push_back(name);
    }
  }
  for (size_t gi = 0; gi < saved.groups.size(); ++gi)
    for (const std::string& name : saved.groups[gi].params)
      if (!group_of_.count(name))
        r.params.push_back({name, ParamIssue::Unexpected,
                            "in saved group " + std::to_string(gi) +
                                (saved.state.count(name) ? " with state" : "") +
                                " but not in this optimizer; dropped"});

  const size_t n = std::max(groups_.size(), saved.groups.size());
  for (size_t gi = 0; gi < n; ++gi) {
    GroupReport gr;
    gr.index = gi;
    static const std::vector<std::string> none;
    const std::vector<std::string>& live = gi < groups_.size() ? groups_[gi].names_ : none;
    const std::vector<std::string>& old = gi < saved.groups.size() ? saved.groups[gi].params : none;
    const std::unordered_set<std::string> live_set(live.begin(), live.end()), old_set(old.begin(), old.end());
    for (const std::string& name : live)
      if (!old_set.count(name)) gr.added.push_back(name);
    for (const std::string& name : old)
      if (!live_set.count(name)) gr.removed.push_back(name);
    if (gi < groups_.size() && gi < saved.groups.size()) {
      const Options& lo = groups_[gi].options_;
      const Options& so = saved.groups[gi].options;
      Options all = lo;
      all.insert(so.begin(), so.end());
      for (const auto& [name, unused] : all) {
        auto l = lo.find(name), s = so.find(name);
        std::optional<double> lv, sv;
        if (l != lo.end()) lv = l->second;
        if (s != so.end()) sv = s->second;
        if (lv != sv) gr.options.push_back({name, sv, lv});
      }
    }
    if (gr.members_changed() || !gr.options.empty()) r.groups.push_back(std::move(gr));
  }
  return r;
}

OptimizerLoadReport Optimizer::load_state_dict(const OptimizerStateDict& saved, bool strict) {
  OptimizerLoadReport report = check_state_dict(saved);
  const std::string where = type_ + ".load_state_dict";
  if (strict && !report.ok())
    throw OptimizerStateError(where + ": the saved state does not match this optimizer (nothing was loaded; "
                                      "load with strict = false to restore what matches and start the rest fresh):\n" +
                                  report.str(),
                              report);
  // Build everything first, then commit: a failure (a device copy, an invalid saved option)
  // leaves the optimizer unchanged.
  std::vector<Options> options;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Options o = groups_[gi].options_;
    if (gi < saved.groups.size())
      for (const auto& [name, value] : saved.groups[gi].options) o[name] = value;
    check_options(o, where + " (group " + std::to_string(gi) + ")");
    options.push_back(std::move(o));
  }
  std::map<std::string, ParamState> next;
  for (const std::string& name : report.loaded) {
    const ParamGroup& g = groups_[group_of_.at(name)];
    const Tensor& p = g.params_[std::find(g.names_.begin(), g.names_.end(), name) - g.names_.begin()];
    const ParamState& st = saved.state.at(name);
    ParamState copy{st.step, {}};
    for (const auto& [buf, t] : st.buffers) copy.buffers.emplace_back(buf, copy_like(t, p));
    next.emplace(name, std::move(copy));
  }
  state_ = std::move(next);
  for (size_t gi = 0; gi < groups_.size(); ++gi) groups_[gi].options_ = std::move(options[gi]);
  return report;
}

}  // namespace sepal::optim
