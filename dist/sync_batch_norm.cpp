// sync_batch_norm.cpp: the differentiable all-reduce and SyncBatchNorm's forward (see
// sync_batch_norm.h).
#include "dist/sync_batch_norm.h"

#include "autograd/grad_mode.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "tensor/error.h"

namespace sepal::dist {

Tensor all_reduce_sum(Communicator& comm, const Tensor& t) {
  Tensor sum;
  {
    NoGradGuard no_grad;
    sum = t.contiguous().clone();
    comm.all_reduce(sum);
  }
  Communicator* c = &comm;
  return autograd::record("all_reduce_sum", sum, {t}, [c](const Tensor& g, const std::vector<bool>&) {
    Tensor total = g.contiguous().clone();
    c->all_reduce(total);
    return std::vector<Tensor>{total};
  });
}

Tensor SyncBatchNorm::forward(nn::BatchNorm2d& bn, const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != bn.num_features)
    throw ShapeError("SyncBatchNorm: expected input [N, " + std::to_string(bn.num_features) + ", H, W], got " +
                     shape_str(x.shape()));
  const int64_t C = bn.num_features;
  const Tensor x64 = x.to(DType::Float64);
  Tensor s1 = x64.sum({0, 2, 3}), s2 = (x64 * x64).sum({0, 2, 3});
  double local_count = static_cast<double>(x.size(0) * x.size(2) * x.size(3));
  if (local_empty_) {
    s1 = s1 * 0.0;
    s2 = s2 * 0.0;
    local_count = 0;
  }
  std::vector<double> count{local_count};
  comm_.all_reduce_host(count);
  const double n = count[0];
  if (n < 2)
    throw ShapeError("SyncBatchNorm: expected more than 1 value per channel in training, got " +
                     std::to_string(static_cast<int64_t>(n)) + " over all ranks (input " + shape_str(x.shape()) + ")");
  const Tensor mean = all_reduce_sum(comm_, s1) / n;
  const Tensor var = all_reduce_sum(comm_, s2) / n - mean * mean;  // biased, as in normalisation
  {
    NoGradGuard no_grad;
    const double m = bn.momentum;
    Tensor rm = bn.running_mean, rv = bn.running_var;
    rm.copy_(rm * (1 - m) + mean.detach().to(rm.dtype()) * m);
    rv.copy_(rv * (1 - m) + (var.detach() * (n / (n - 1))).to(rv.dtype()) * m);
  }
  // The statistics rounded to the input's type and applied in the batch_norm kernel's order
  // (tensor/kernels/norm_pool.h: (x - mean) * invstd * w + b), so that with equal statistics
  // the output is bit for bit the local kernel's: ReLU and max-pool decisions downstream then
  // agree with a single process's.
  const Shape per_channel{1, C, 1, 1};
  const Tensor mean_x = mean.to(x.dtype()).reshape(per_channel);
  const Tensor invstd_x = (1.0 / (var + bn.eps).sqrt()).to(x.dtype()).reshape(per_channel);
  return (x - mean_x) * invstd_x * bn.weight.to(x.dtype()).reshape(per_channel) +
         bn.bias.to(x.dtype()).reshape(per_channel);
}

std::shared_ptr<SyncBatchNorm> convert_sync_batch_norm(nn::Module& model, Communicator& comm) {
  auto sync = std::make_shared<SyncBatchNorm>(comm);
  for (auto& [name, module] : model.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(module.get())) bn->sync = sync;
  return sync;
}

}  // namespace sepal::dist
