// resume_check.cpp: see resume_check.h.
#include "resume_check.h"

namespace flowers {

std::string other_run_reason(const sepal::checkpoint::TrainingMeta& saved, const std::string& path,
                             const std::string& arch, const std::vector<std::string>& classes) {
  const std::string hint = "; to start a new run from its weights use --init-from " + path + " instead of --resume";
  if (!saved.arch.empty() && saved.arch != arch)
    return path + " holds a " + saved.arch + " but this run builds a " + arch + hint;
  if (!saved.classes.empty() && saved.classes != classes) {
    const std::string counts = saved.classes.size() == classes.size()
                                   ? std::to_string(classes.size()) + " classes with other names or order"
                                   : std::to_string(saved.classes.size()) + " classes, the data has " +
                                         std::to_string(classes.size());
    return path + " was trained on other classes (" + counts + "): resuming would mislabel them" + hint;
  }
  return "";
}

}  // namespace flowers
