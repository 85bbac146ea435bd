// loss.cpp: the accuracy helpers of loss.h.
#include "layers/loss.h"

#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal::nn {

int64_t count_correct(const Tensor& scores, const Tensor& target) {
  if (scores.dim() != 2 || target.dim() != 1 || target.size(0) != scores.size(0))
    throw ShapeError("accuracy: expected scores [N, C] and target [N], got " + shape_str(scores.shape()) + " and " +
                     shape_str(target.shape()));
  if (target.dtype() != DType::Int64)
    throw DTypeError(std::string("accuracy: target must be int64, got ") + dtype_name(target.dtype()));
  if (scores.size(0) == 0) return 0;
  Tensor predicted = raw::reduce(ReduceOp::ArgMax, scores, {1}, false);
  Tensor hits = raw::compare(CompareOp::Eq, predicted, raw::to_device(target, scores.device()));
  return raw::reduce(ReduceOp::Sum, hits, {}, false).item<int64_t>();
}

double accuracy(const Tensor& scores, const Tensor& target) {
  int64_t n = scores.defined() && scores.dim() >= 1 ? scores.size(0) : 0;
  int64_t correct = count_correct(scores, target);
  return n == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace sepal::nn
