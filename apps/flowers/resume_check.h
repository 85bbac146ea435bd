// resume_check.h: whether a checkpoint belongs to the run a train configuration describes. A
// checkpoint of another architecture, or trained on other classes than the data's, is another
// run: resuming it would continue the wrong model or mislabel every class. `train` then shows the
// resume plan (which tensors changed shape, which are missing) and refuses with exit status 3;
// `inspect --against` shows the same plan and the same refusal. Starting a new run from such a
// checkpoint's weights is what --init-from is for.
#pragma once
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace flowers {

// "" when the checkpoint (saved at `path`) may be resumed by a run of `arch` on `classes`; else
// the reason, naming both sides, with the --init-from hint.
std::string other_run_reason(const sepal::checkpoint::TrainingMeta& saved, const std::string& path,
                             const std::string& arch, const std::vector<std::string>& classes);

}  // namespace flowers
