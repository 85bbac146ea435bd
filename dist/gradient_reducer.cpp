// gradient_reducer.cpp: the buckets, the hook that launches them, and finish() (see
// gradient_reducer.h).
#include "dist/gradient_reducer.h"

#include <chrono>

#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace sepal::dist {

GradientReducer::GradientReducer(Communicator& comm, const nn::NamedTensors& named_parameters, ReducerOptions options)
    : comm_(comm) {
  if (!(options.bucket_mb > 0) || !(options.first_bucket_mb > 0))
    throw Error("GradientReducer: bucket sizes must be positive, got " + std::to_string(options.bucket_mb) + " and " +
                std::to_string(options.first_bucket_mb) + " MiB");
  for (auto it = named_parameters.rbegin(); it != named_parameters.rend(); ++it)
    if (it->second.requires_grad()) params_.push_back({it->first, it->second});
  // buckets: consecutive parameters of one dtype and device, up to the size cap
  int64_t bucket_bytes = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    Param& p = params_[i];
    const double cap_mb = buckets_.size() <= 1 ? options.first_bucket_mb : options.bucket_mb;
    const bool new_bucket =
        buckets_.empty() || bucket_bytes >= static_cast<int64_t>(cap_mb * 1024 * 1024) ||
        params_[buckets_.back().params.front()].tensor.dtype() != p.tensor.dtype() ||
        params_[buckets_.back().params.front()].tensor.device() != p.tensor.device();
    if (new_bucket) {
      buckets_.emplace_back();
      bucket_bytes = 0;
    }
    Bucket& b = buckets_.back();
    p.bucket = buckets_.size() - 1;
    p.offset = 0;
    for (size_t q : b.params) p.offset += params_[q].tensor.numel();
    b.params.push_back(i);
    bucket_bytes += p.tensor.numel() * static_cast<int64_t>(p.tensor.element_size());
  }
  for (Bucket& b : buckets_) {
    int64_t n = 0;
    for (size_t q : b.params) n += params_[q].tensor.numel();
    const Tensor& first = params_[b.params.front()].tensor;
    b.buffer = empty({n}, TensorOptions(first.dtype()).device(first.device()));
    b.pending = b.params.size();
  }
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(autograd::register_post_accumulate_grad_hook(params_[i].tensor, [this, i](const Tensor&) {
      on_gradient(i);
    }));
}

void GradientReducer::on_gradient(size_t i) {
  Param& p = params_[i];
  Bucket& b = buckets_[p.bucket];
  if (b.launched)
    throw Error("GradientReducer: parameter " + p.name + " received another gradient after its bucket was "
                "all-reduced (a parameter used twice in one forward is not supported)");
  if (p.ready) return;  // a second contribution before the bucket filled: packed at launch
  p.ready = true;
  if (--b.pending == 0) launch_ready_buckets();
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(buckets_[next_launch_++]);
}

void GradientReducer::launch(Bucket& b) {
  NoGradGuard no_grad;
  for (size_t q : b.params) {
    const Param& p = params_[q];
    Tensor slice = b.buffer.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.shape());
    const Tensor g = p.tensor.grad();
    if (g.defined()) slice.copy_(g);
    else slice.zero_();
  }
  b.launched = true;
  b.work = comm_.all_reduce_async(b.buffer);
}

void GradientReducer::finish() {
  const auto t0 = std::chrono::steady_clock::now();
  overlapped_ = next_launch_;
  for (Bucket& b : buckets_) b.pending = 0;  // parameters without a gradient count as zeros
  launch_ready_buckets();
  NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    b.work->wait();
    b.work.reset();
    for (size_t q : b.params) {
      Param& p = params_[q];
      const Tensor sum = b.buffer.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.shape());
      Tensor g = p.tensor.grad();
      if (g.defined()) {
        g.copy_(sum);
      } else {
        Tensor owned = empty_like(p.tensor);
        owned.copy_(sum);
        p.tensor.set_grad(owned);
      }
      p.ready = false;
    }
    b.launched = false;
    b.pending = b.params.size();
  }
  next_launch_ = 0;
  exposed_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::vector<std::string>> GradientReducer::bucket_names() const {
  std::vector<std::vector<std::string>> out;
  for (const Bucket& b : buckets_) {
    out.emplace_back();
    for (size_t q : b.params) out.back().push_back(params_[q].name);
  }
  return out;
}

int64_t GradientReducer::bytes_per_step() const {
  int64_t n = 0;
  for (const Bucket& b : buckets_) n += b.buffer.numel() * static_cast<int64_t>(b.buffer.element_size());
  return n;
}

}  // namespace sepal::dist
