// resume_text.cpp: ResumePlan::str(), the plan as a person reads it: the action and why, the
// parameter and buffer changes with names, each optimizer group, the scheduler, and what the
// action will do. Example (feature extraction resumed into fine-tuning):
//
//   Resume plan (policy auto): MERGE
//     checkpoint: epoch 2, resnet18, feature-extract, sepal 0.1.0
//     why: 60 parameters are trainable now that were frozen; optimizer group 0 has other options (lr); ...
//   Parameters: 62 in the model, 62 in the checkpoint
//     unchanged        2  fc.weight, fc.bias
//     now trainable   60  conv1.* (1), bn1.* (2), layer1.* (12), layer2.* (15), ...
//   ...
#include <cstdio>
#include <sstream>

#include "checkpoint/resume.h"

namespace sepal::checkpoint {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string names(const std::vector<std::string>& list, size_t max) {
  std::string out;
  for (size_t i = 0; i < list.size() && i < max; ++i) out += (i ? ", " : "") + list[i];
  if (list.size() > max) out += ", ... and " + std::to_string(list.size() - max) + " more";
  return out;
}

// Up to `max` names in full; a longer list is summarised by its first name component
// ("layer1.* (12)"), in order, so 60 backbone parameters read as 6 modules.
std::string summary(const std::vector<std::string>& list, size_t max) {
  if (list.size() <= max) return names(list, max);
  std::vector<std::pair<std::string, size_t>> parts;
  for (const std::string& n : list) {
    const std::string head = n.substr(0, n.find('.'));
    if (parts.empty() || parts.back().first != head) parts.emplace_back(head, 0);
    ++parts.back().second;
  }
  std::vector<std::string> items;
  for (const auto& [head, count] : parts) items.push_back(head + ".* (" + std::to_string(count) + ")");
  return names(items, max);
}

std::string upper(const char* s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return out;
}

}  // namespace

std::string ResumePlan::str(size_t max_names) const {
  std::ostringstream os;
  os << "Resume plan (policy " << to_string(policy) << "): " << upper(action_name(action)) << "\n";
  os << "  checkpoint: " << source << "\n";
  for (const std::string& r : reasons) os << "  " << (r.rfind("to proceed", 0) == 0 ? "" : "why: ") << r << "\n";

  // ---- tensors ----
  for (bool buffers : {false, true}) {
    size_t live = 0, saved = 0;
    for (const TensorDiff& t : tensors) {
      if (t.buffer != buffers) continue;
      live += t.change != ParamChange::Removed;
      saved += t.change != ParamChange::New;
    }
    os << (buffers ? "Buffers: " : "Parameters: ") << live << " in the model, " << saved << " in the checkpoint\n";
    for (ParamChange change : {ParamChange::Unchanged, ParamChange::NowTrainable, ParamChange::NowFrozen,
                               ParamChange::MovedGroup, ParamChange::New, ParamChange::Removed, ParamChange::Reshaped}) {
      std::vector<std::string> list;
      for (const TensorDiff& t : tensors) {
        if (t.buffer != buffers || t.change != change) continue;
        std::string item = t.name;
        if (change == ParamChange::Reshaped) {
          item += ' ';  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on " " + std::string
          item += shape_text(t.saved_shape);
          item += " -> ";
          item += shape_text(t.live_shape);
          if (t.saved_dtype != t.live_dtype) item += std::string(" (") + dtype_name(t.saved_dtype) + " -> " + dtype_name(t.live_dtype) + ")";
        } else if (change == ParamChange::MovedGroup) {
          item += " (group " + std::to_string(t.saved_group) + " -> " + std::to_string(t.live_group) + ")";
        }
        list.push_back(item);
      }
      if (list.empty()) continue;
      char head[64];
      std::snprintf(head, sizeof head, "  %-22s %4zu  ", change_name(change), list.size());
      os << head << summary(list, max_names) << "\n";
    }
  }

  // ---- optimizer ----
  os << "Optimizer: " << (saved_optimizer.empty() ? "(none saved)" : saved_optimizer) << " -> " << live_optimizer << "\n";
  for (const GroupDiff& g : groups) {
    os << "  group " << g.index << ": ";
    if (g.is_new) {
      os << "new, " << g.live_size << " members, lr " << num(g.live_lr) << "\n";
      continue;
    }
    if (g.is_removed) {
      os << "only in the checkpoint (" << g.saved_size << " members); dropped\n";
      continue;
    }
    os << g.live_size << " members";
    if (g.added.empty() && g.removed.empty()) os << " (same as saved)";
    os << "; lr " << num(g.live_lr);
    if (g.saved_lr) os << " (saved group at " << num(*g.saved_lr) << ")";
    os << "\n";
    if (!g.added.empty()) os << "    joined: " << names(g.added, max_names) << "\n";
    if (!g.removed.empty()) os << "    left: " << names(g.removed, max_names) << "\n";
    for (const OptionDiff& o : g.options)
      os << "    option " << o.name << " " << (o.saved ? num(*o.saved) : "(absent)") << " -> "
         << (o.live ? num(*o.live) : "(absent)") << "\n";
  }

  // ---- scheduler ----
  os << "Scheduler: " << (scheduler.saved_type.empty() ? "(none saved)" : scheduler.saved_type) << " -> "
     << (scheduler.live_type.empty() ? "(none)" : scheduler.live_type)
     << (scheduler.changed ? "" : (scheduler.live_type.empty() ? "" : " (same settings)")) << "\n";
  for (const std::string& f : scheduler.findings) os << "  " << f << "\n";

  // ---- what will happen ----
  os << "What will happen:\n";
  if (action == ResumeAction::Refuse) {
    os << "  nothing: the model, optimizer and scheduler are left as they are\n";
    return os.str();
  }
  size_t loaded = 0, total = 0;
  std::vector<std::string> kept, fresh, not_loaded;
  for (const TensorDiff& t : tensors) {
    if (t.change == ParamChange::Removed) continue;
    ++total;
    if (t.loads_weights) ++loaded;
    else not_loaded.push_back(t.name);
    if (t.buffer || t.live_group < 0) continue;
    (t.keeps_state ? kept : fresh).push_back(t.name);
  }
  os << "  weights: " << loaded << " of " << total << " model tensors loaded from the checkpoint";
  if (!not_loaded.empty()) os << "; kept as initialised: " << summary(not_loaded, max_names);
  os << "\n";
  if (action == ResumeAction::Full) {
    os << "  optimizer: restored as saved (state of " << kept.size() << " parameters, options and learning rates)\n";
  } else {
    os << "  optimizer state: ";
    if (action == ResumeAction::WeightsOnly) os << "none kept (a fresh optimizer)";
    else if (kept.empty()) os << "none kept";
    else os << "kept for " << kept.size() << " (" << summary(kept, max_names) << ")";
    if (!fresh.empty()) os << "; fresh for " << fresh.size() << " (" << summary(fresh, max_names) << ")";
    os << "\n  learning rates: from the new configuration:";
    bool first = true;
    for (const GroupDiff& g : groups)
      if (!g.is_removed) {
        os << (first ? " " : ", ") << "group " << g.index << " " << num(g.live_lr);
        first = false;
      }
    os << "\n";
  }
  os << "  scheduler: " << scheduler.decision << "\n";
  os << "  training progress (epoch, history, best, generators, loader position): "
     << (continues_run() ? "continues from the checkpoint" : "the caller decides; a new phase of training") << "\n";
  return os.str();
}

}  // namespace sepal::checkpoint
