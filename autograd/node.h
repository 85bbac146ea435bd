// node.h: the recorded graph. Each differentiable op whose inputs need gradients attaches one
// Node to its result: the node's backward closure (written next to the forward, in the op's
// file) maps the result's gradient to one gradient per input, and its edges say where each
// input gradient goes: to the node that produced that input, or into a leaf's .grad.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sepal::autograd {

struct Node;

// Where the gradient of one input goes. Both empty: the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;        // the input's grad_fn (non-leaf input)
  std::shared_ptr<TensorImpl> leaf;  // the input itself (leaf that requires grad)
  Shape shape;                       // the input's shape: the engine reduces broadcast gradients to it
  bool needed() const { return node || leaf; }
};

// grad: gradient of the node's result; needs[i]: whether input i wants a gradient. Returns one
// tensor per input (undefined where not needed); a gradient may have the broadcast shape.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad, const std::vector<bool>& needs)>;

struct Node {
  std::string name;
  std::vector<Edge> edges;
  BackwardFn backward;  // reset after a backward pass unless retain_graph
  bool released = false;
  // The profiler's scope when the node was recorded (tensor/profiler.h), so its backward is booked
  // under the layer that ran the forward; -1 when no profile was recording.
  int32_t profile_scope = -1;
  // Releases the nodes this one keeps alive iteratively: letting each node's edges destroy the
  // next one recursively overflows the stack on deep graphs (a 100000-op chain).
  ~Node();
};

// True when grad mode is on and some input requires grad.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a node named `name` to `result` when any input requires grad (and grad mode is on),
// marking result as requiring grad. Returns result. A result that is one of the inputs (an
// identity such as contiguous() of a contiguous tensor) records nothing.
Tensor record(const char* name, Tensor result, const std::vector<Tensor>& inputs, BackwardFn backward);

// Runs the backward pass from `roots` with their gradients (see Tensor::backward).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

}  // namespace sepal::autograd
