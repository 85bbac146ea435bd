// engine.cpp: grad mode, graph recording and the backward pass. The pass sorts the graph
// iteratively (no recursion, so deep ResNet graphs cannot overflow the stack), runs each node
// once all of its consumers have contributed, reduces broadcast gradients to each input's shape
// once here (ops never do it themselves), and accumulates into leaves with +=.
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/hooks.h"
#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/profiler.h"
#include "tensor/raw.h"

namespace sepal {

namespace {
thread_local bool grad_enabled = true;
}
bool GradMode::is_enabled() { return grad_enabled; }
void GradMode::set_enabled(bool enabled) { grad_enabled = enabled; }

namespace autograd {

Node::~Node() {
  std::vector<std::shared_ptr<Node>> orphans;
  auto adopt = [&orphans](Node& n) {
    for (Edge& e : n.edges)
      if (e.node) orphans.push_back(std::move(e.node));
  };
  backward = nullptr;  // first, so saved inputs drop their references while the edges still hold theirs
  adopt(*this);
  while (!orphans.empty()) {
    std::shared_ptr<Node> n = std::move(orphans.back());
    orphans.pop_back();
    if (n.use_count() == 1) {  // the last reference: empty it so its destructor recurses no further
      n->backward = nullptr;   // saved tensors may own references to nodes it also has edges to
      adopt(*n);
    }
  }
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor result, const std::vector<Tensor>& inputs, BackwardFn backward) {
  if (!any_requires_grad(inputs)) return result;
  for (const Tensor& t : inputs)
    if (t.defined() && t.same(result)) return result;
  auto node = std::make_shared<Node>();
  node->name = name;
  if (profile::enabled()) node->profile_scope = profile::current_scope();
  node->backward = std::move(backward);
  node->edges.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    Edge edge;
    if (t.defined() && t.requires_grad()) {
      if (t.grad_fn()) edge.node = t.grad_fn();
      else edge.leaf = t.impl_ptr();
      edge.shape = t.shape();
    }
    node->edges.push_back(std::move(edge));
  }
  result.impl()->grad_fn = std::move(node);
  result.impl()->requires_grad = true;
  return result;
}

namespace {

// True when nothing but `t` can reach its memory: its only handle, the only view of its storage,
// and a dense tensor over that storage (what a backward pass returns when it allocated the result),
// which is not outside memory (from_blob).
bool sole_owner(const Tensor& t) {
  return t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1 && !t.storage()->external() &&
         t.offset() == 0 && (t.is_contiguous() || t.is_contiguous(MemoryFormat::ChannelsLast)) &&
         t.storage()->nbytes() == static_cast<size_t>(t.numel()) * t.element_size();
}

// ---- post-accumulate-grad hooks (autograd/hooks.h) ----
struct HookEntry {
  uint64_t id;
  std::weak_ptr<TensorImpl> leaf;  // an address reused by a later tensor does not inherit the hook
  PostAccumulateGradHook fn;
};
std::mutex hooks_mutex;
std::unordered_map<const TensorImpl*, std::vector<HookEntry>> hooks;
std::atomic<size_t> hook_count{0};
uint64_t next_hook_id = 1;

void run_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  if (hook_count.load(std::memory_order_relaxed) == 0) return;
  std::vector<PostAccumulateGradHook> to_run;
  {
    std::lock_guard<std::mutex> l(hooks_mutex);
    auto it = hooks.find(leaf.get());
    if (it == hooks.end()) return;
    for (const HookEntry& e : it->second)
      if (e.leaf.lock() == leaf) to_run.push_back(e.fn);
  }
  const Tensor t(leaf);
  for (const auto& fn : to_run) fn(t);
}

void add_into_leaf(TensorImpl& leaf, const Tensor& grad);

void accumulate_into_leaf(const std::shared_ptr<TensorImpl>& leaf, const Tensor& grad) {
  add_into_leaf(*leaf, grad);
  run_hooks(leaf);
}

void add_into_leaf(TensorImpl& leaf, const Tensor& grad) {
  if (!leaf.grad) {
    // Own the memory: the incoming gradient may be a view of a buffer another node still uses, so
    // it is copied unless nothing else can reach it (then a new handle onto it is enough). The
    // gradient has the leaf's layout (row-major, or channels-last for a channels-last leaf), as
    // PyTorch's .grad has its parameter's strides.
    const MemoryFormat format = memory_format_of(leaf.shape, leaf.strides);
    if (grad.dtype() == leaf.dtype && sole_owner(grad) && grad.is_contiguous(format)) {
      leaf.grad = raw::as_strided(grad, grad.shape(), grad.strides(), 0).impl_ptr();
    } else {
      const Tensor owned = empty(grad.shape(), TensorOptions().dtype(leaf.dtype).device(grad.device()).memory_format(format));
      raw::copy_(owned, grad);
      leaf.grad = owned.impl_ptr();
    }
    return;
  }
  raw::binary_(BinaryOp::Add, Tensor(leaf.grad), raw::cast(grad, leaf.dtype));
}

void add_into(std::unordered_map<Node*, Tensor>& pending, Node* node, const Tensor& grad) {
  auto [it, inserted] = pending.try_emplace(node, grad);
  if (!inserted) it->second = raw::binary(BinaryOp::Add, it->second, grad);
}

}  // namespace

HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook) {
  if (!leaf.defined() || !leaf.is_leaf() || !leaf.requires_grad())
    throw AutogradError("register_post_accumulate_grad_hook: the tensor must be a leaf that requires grad");
  std::lock_guard<std::mutex> l(hooks_mutex);
  const uint64_t id = next_hook_id++;
  hooks[leaf.impl()].push_back({id, leaf.impl_ptr(), std::move(hook)});
  ++hook_count;
  return HookHandle(leaf.impl(), id);
}

void HookHandle::remove() {
  if (id_ == 0) return;
  std::lock_guard<std::mutex> l(hooks_mutex);
  auto it = hooks.find(static_cast<const TensorImpl*>(key_));
  if (it == hooks.end()) return;
  auto& v = it->second;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].id == id_) {
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
      --hook_count;
      break;
    }
  if (v.empty()) hooks.erase(it);
  id_ = 0;
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;
  const profile::Scope backward_phase = profile::Scope::replay(profile::current_scope(), profile::Phase::Backward);
  std::unordered_map<Node*, Tensor> pending;
  std::unordered_map<Node*, int> dependencies;
  std::vector<Node*> stack;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    if (!root.requires_grad())
      throw AutogradError("backward: the tensor does not require grad and has no grad_fn "
                          "(did you call requires_grad_() on the inputs, or run under NoGradGuard?)");
    if (!root.grad_fn()) {
      accumulate_into_leaf(root.impl_ptr(), grads[i]);
      continue;
    }
    Node* node = root.grad_fn().get();
    if (!pending.count(node)) stack.push_back(node);
    add_into(pending, node, grads[i]);
  }
  // count, for every node reachable from the roots, how many reachable nodes feed it a gradient
  std::vector<Node*> visit = stack;
  std::unordered_map<Node*, bool> seen;
  for (Node* n : visit) seen[n] = true;
  while (!visit.empty()) {
    Node* n = visit.back();
    visit.pop_back();
    for (const Edge& e : n->edges) {
      if (!e.node) continue;
      ++dependencies[e.node.get()];
      if (!seen[e.node.get()]) {
        seen[e.node.get()] = true;
        visit.push_back(e.node.get());
      }
    }
  }
  std::vector<Node*> ready;
  for (Node* n : stack)
    if (dependencies[n] == 0) ready.push_back(n);
  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    if (node->released)
      throw AutogradError("backward: trying to backward through the graph a second time (node " +
                          node->name + "): its saved tensors were freed; pass retain_graph=true to "
                          "the first backward() if you need to backward twice");
    const profile::Scope node_scope = profile::Scope::replay(node->profile_scope, profile::Phase::Backward);
    Tensor grad = std::move(pending[node]);
    pending.erase(node);
    std::vector<bool> needs(node->edges.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = node->edges[i].needed();
    std::vector<Tensor> input_grads = node->backward(grad, needs);
    grad = Tensor();
    if (!retain_graph) {
      node->backward = nullptr;  // frees the saved tensors
      node->released = true;
    }
    for (size_t i = 0; i < node->edges.size(); ++i) {
      const Edge& e = node->edges[i];
      if (!e.needed()) continue;
      Tensor g = i < input_grads.size() ? std::move(input_grads[i]) : Tensor();
      if (g.defined()) {
        if (g.shape() != e.shape) g = raw::sum_to(g, e.shape);
        if (e.leaf) accumulate_into_leaf(e.leaf, g);
        else add_into(pending, e.node.get(), g);
      }
      if (e.node && --dependencies[e.node.get()] == 0) {
        if (pending.count(e.node.get())) ready.push_back(e.node.get());
        else {
          // no gradient arrived (all contributions undefined): its inputs get nothing from it, but
          // its own inputs may still be waiting on it, so propagate the empty contribution
          std::vector<Node*> silent{e.node.get()};
          while (!silent.empty()) {
            Node* s = silent.back();
            silent.pop_back();
            for (const Edge& se : s->edges)
              if (se.node && --dependencies[se.node.get()] == 0) {
                if (pending.count(se.node.get())) ready.push_back(se.node.get());
                else silent.push_back(se.node.get());
              }
          }
        }
      }
    }
  }
}

}  // namespace autograd

// ---- Tensor's autograd methods ----
bool Tensor::requires_grad() const { return impl()->requires_grad; }

Tensor& Tensor::requires_grad_(bool enabled) {
  if (!defined()) throw Error("requires_grad_: undefined tensor");
  if (grad_fn())
    throw AutogradError("requires_grad_: only leaf tensors can change requires_grad; this tensor was "
                        "produced by " + grad_fn()->name + " (use detach() to get a leaf)");
  if (enabled && !is_floating(dtype()))
    throw AutogradError(std::string("requires_grad_: only floating tensors can require gradients, got ") +
                        dtype_name(dtype()));
  impl()->requires_grad = enabled;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(impl()->grad); }

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined() && grad.shape() != shape())
    throw ShapeError("set_grad: gradient " + shape_str(grad.shape()) + " does not match tensor " + shape_str(shape()));
  impl()->grad = grad.impl_ptr();
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const { return impl()->grad_fn; }
bool Tensor::is_leaf() const { return impl()->grad_fn == nullptr; }

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor grad = gradient;
  if (!grad.defined()) {
    if (numel() != 1)
      throw AutogradError("backward: grad can be implicitly created only for a one-element output; "
                          "this output has shape " + shape_str(shape()) + ", pass a gradient");
    grad = ones(shape(), TensorOptions().dtype(dtype()).device(device()));
  } else if (grad.shape() != shape()) {
    throw ShapeError("backward: gradient " + shape_str(grad.shape()) + " does not match output " +
                     shape_str(shape()));
  }
  autograd::run_backward({*this}, {grad}, retain_graph);
}

Tensor Tensor::detach() const {
  return raw::as_strided(*this, shape(), strides(), offset());
}

void Tensor::zero_grad(bool set_to_none) {
  if (!impl()->grad) return;
  if (set_to_none) impl()->grad.reset();
  else raw::fill_(Tensor(impl()->grad), 0.0);
}

}  // namespace sepal
