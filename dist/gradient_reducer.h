// gradient_reducer.h: data-parallel gradient averaging overlapped with backward, as PyTorch's DDP
// does it. The trainable parameters, in reverse registration order (roughly the order backward
// produces their gradients), are packed into buckets of about `bucket_mb` MiB (the first one
// small, so communication starts early). A post-accumulate-grad hook (autograd/hooks.h) marks a
// parameter ready; once every parameter of a bucket is ready its gradients are copied into the
// bucket's flat buffer and its all-reduce (a sum) starts, while backward goes on. Buckets start
// in index order on every rank (a bucket ready early waits for the ones before it), so all ranks
// issue the same collectives in the same order. finish() starts what is left (a parameter without
// a gradient this step contributes zeros), waits for every bucket and writes the sums back into
// each .grad: the caller scales its loss so that the sum is the global average (local loss sum
// divided by the global sample count). Frozen parameters take no part.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "autograd/hooks.h"
#include "dist/communicator.h"
#include "layers/module.h"

namespace sepal::dist {

struct ReducerOptions {
  double bucket_mb = 25.0;       // later buckets: about this many MiB of gradients each
  double first_bucket_mb = 1.0;  // the first bucket (the last layers' gradients)
};

class GradientReducer {
 public:
  // `named_parameters` in registration order (Module::named_parameters()); those that do not
  // require grad are left out.
  GradientReducer(Communicator& comm, const nn::NamedTensors& named_parameters, ReducerOptions options = {});
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // After backward (or instead of it, on a rank with no sample): every bucket reduced, the sums
  // in the parameters' .grad; ready for the next step.
  void finish();

  size_t num_buckets() const { return buckets_.size(); }
  // The parameter names of each bucket, in launch order.
  std::vector<std::vector<std::string>> bucket_names() const;
  int64_t bytes_per_step() const;  // gradient bytes all-reduced per step
  // Buckets whose all-reduce has started since the last finish(): after a backward pass, those
  // that overlapped it.
  size_t buckets_started() const { return next_launch_; }
  // How many buckets had started when the last finish() was called (overlapped backward).
  size_t last_overlapped_buckets() const { return overlapped_; }
  // Seconds the last finish() spent launching the rest and waiting: communication backward did
  // not hide.
  double last_exposed_seconds() const { return exposed_seconds_; }

 private:
  struct Param {
    std::string name;
    Tensor tensor;
    size_t bucket = 0;
    int64_t offset = 0;  // in the bucket's buffer, elements
    bool ready = false;
  };
  struct Bucket {
    std::vector<size_t> params;
    Tensor buffer;  // flat, the parameters' dtype and device
    size_t pending = 0;
    bool launched = false;
    WorkHandle work;
  };
  void on_gradient(size_t param);
  void launch_ready_buckets();
  void launch(Bucket& bucket);

  Communicator& comm_;
  std::vector<Param> params_;
  std::vector<Bucket> buckets_;
  std::vector<autograd::HookHandle> hooks_;
  size_t next_launch_ = 0;
  size_t overlapped_ = 0;
  double exposed_seconds_ = 0;
};

}  // namespace sepal::dist
