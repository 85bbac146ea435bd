// resume_policy.h: the resume policies and their one list of names, kept apart from the planner
// (resume.h) so that option readers can hold a ResumePolicy without the checkpoint types. Parse a
// policy once, where the options are read; everything after that passes the enum.
//
//   ResumePolicy p = parse_resume_policy("weights-only");   // throws sepal::Error for "yolo"
//   std::string name = to_string(p);                        // "weights-only"
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sepal::checkpoint {

enum class ResumePolicy : uint8_t { Auto, Strict, Merge, WeightsOnly };

// The names, in this order: "auto", "strict", "merge", "weights-only" (for choices and help texts).
const std::vector<std::string>& resume_policy_names();
// One of those names (also "weights_only", an older spelling), else throws sepal::Error:
// "unknown resume policy 'yolo' (expected auto, strict, merge or weights-only)".
ResumePolicy parse_resume_policy(const std::string& text);
const char* to_string(ResumePolicy policy);

}  // namespace sepal::checkpoint
