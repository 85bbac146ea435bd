// resume_compare.h (internal to checkpoint/): the resume planner's comparisons. Each compares
// one part of a checkpoint with the live object and returns the plan's detail for it; none
// decides anything (resume_decide.h does, on facts summarised from these).
#pragma once
#include <vector>

#include "checkpoint/resume.h"

namespace sepal::checkpoint {

// Every parameter in live order, then the checkpoint's parameters the model lacks, then the
// buffers likewise: the change of each, its shapes, trainability and groups on both sides.
std::vector<TensorDiff> compare_tensors(const Checkpoint& ckpt, const nn::Module& model, const optim::Optimizer& opt);

// Every optimizer group index on either side: members added and removed, configured options that
// differ, the lrs. Without saved optimizer state every live group is new.
std::vector<GroupDiff> compare_groups(const Checkpoint& ckpt, const optim::Optimizer& opt);

// The scheduler's type and settings against the saved one, and the saved scheduler against the
// saved optimizer's learning rates (`inconsistent`). Leaves `decision` empty: it follows the action.
SchedulerCheck compare_scheduler(const Checkpoint& ckpt, const optim::Scheduler* sched, const optim::Optimizer& opt);

}  // namespace sepal::checkpoint
