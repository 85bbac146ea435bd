// state_dict.h: StateDict, the ordered name -> tensor map that modules export and load
// (torchvision's dotted names: "layer1.0.conv1.weight", "bn1.running_mean"), and LoadReport,
// what load_state_dict found: missing keys, unexpected keys and size mismatches.
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace sepal::nn {

class StateDict {
 public:
  using Entry = std::pair<std::string, Tensor>;
  // Adds `name`, or replaces its tensor keeping its position.
  void insert(const std::string& name, const Tensor& tensor) {
    auto it = index_.find(name);
    if (it != index_.end()) {
      entries_[it->second].second = tensor;
      return;
    }
    index_.emplace(name, entries_.size());
    entries_.emplace_back(name, tensor);
  }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  // The tensor named `name`, or nullptr.
  const Tensor* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

struct LoadReport {
  std::vector<std::string> missing_keys;     // in the model, not in the state dict
  std::vector<std::string> unexpected_keys;  // in the state dict, not in the model
  std::vector<std::string> size_mismatches;  // "size mismatch for fc.weight: checkpoint [102, 512], model [1000, 512]"
  bool ok() const { return missing_keys.empty() && unexpected_keys.empty() && size_mismatches.empty(); }
  std::string str() const;  // PyTorch-like multi-line text, empty when ok()
};

}  // namespace sepal::nn
