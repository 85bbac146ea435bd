// loss.h: the losses (NLLLoss after LogSoftmax, CrossEntropyLoss on raw logits) and the accuracy
// helper. Targets are int64 class indices [N].
#pragma once
#include "autograd/nn_functions.h"
#include "tensor/tensor.h"

namespace sepal::nn {

class NLLLoss {
 public:
  explicit NLLLoss(Reduction reduction = Reduction::Mean) : reduction(reduction) {}
  Tensor operator()(const Tensor& log_probs, const Tensor& target) const { return nll_loss(log_probs, target, reduction); }
  Reduction reduction;
};

class CrossEntropyLoss {
 public:
  explicit CrossEntropyLoss(Reduction reduction = Reduction::Mean) : reduction(reduction) {}
  Tensor operator()(const Tensor& logits, const Tensor& target) const { return cross_entropy(logits, target, reduction); }
  Reduction reduction;
};

// Number of rows whose arg-max over dim 1 equals the target.
int64_t count_correct(const Tensor& scores, const Tensor& target);
// count_correct / N (0 for an empty batch).
double accuracy(const Tensor& scores, const Tensor& target);

}  // namespace sepal::nn
