// ckpt_test_util.h: helpers of the checkpoint tests: a small training state (an MLP with Adam,
// StepLR and full metadata), comparisons of checkpoints bit for bit, and RawFile, an independent
// reading of the container layout from docs/checkpoint-format.md that lets a test change one field
// and re-seal the checksums, so the checks behind the checksums are exercised too.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <sepal.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/crc32c.h"

namespace sepal::testing {

namespace ck = sepal::checkpoint;

// Same shape, dtype and bytes.
inline ::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "shape/dtype differ: " << shape_str(a.shape()) << " " << dtype_name(a.dtype())
                                         << " vs " << shape_str(b.shape()) << " " << dtype_name(b.dtype());
  Tensor x = raw::contiguous(raw::to_device(a, Device::cpu())), y = raw::contiguous(raw::to_device(b, Device::cpu()));
  const size_t n = static_cast<size_t>(x.numel()) * x.element_size();
  if (n && std::memcmp(x.raw_data(), y.raw_data(), n) != 0) return ::testing::AssertionFailure() << "bytes differ";
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_state(const nn::StateDict& a, const nn::StateDict& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " tensors";
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& [na, ta] = a.entries()[i];
    const auto& [nb, tb] = b.entries()[i];
    if (na != nb) return ::testing::AssertionFailure() << "tensor " << i << ": " << na << " vs " << nb;
    if (auto r = same_bits(ta, tb); !r) return r << " (" << na << ")";
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_checkpoint(const ck::Checkpoint& a, const ck::Checkpoint& b) {
  if (auto r = same_state(a.model, b.model); !r) return r << " in model";
  if (a.params != b.params) return ::testing::AssertionFailure() << "params identities differ";
  if (a.optimizer.has_value() != b.optimizer.has_value()) return ::testing::AssertionFailure() << "optimizer presence";
  if (a.optimizer) {
    const auto &x = *a.optimizer, &y = *b.optimizer;
    if (x.type != y.type || x.groups.size() != y.groups.size()) return ::testing::AssertionFailure() << "optimizer type/groups";
    for (size_t g = 0; g < x.groups.size(); ++g)
      if (x.groups[g].options != y.groups[g].options || x.groups[g].params != y.groups[g].params)
        return ::testing::AssertionFailure() << "optimizer group " << g;
    if (x.state.size() != y.state.size()) return ::testing::AssertionFailure() << "optimizer state count";
    for (const auto& [name, st] : x.state) {
      auto it = y.state.find(name);
      if (it == y.state.end() || it->second.step != st.step || it->second.buffers.size() != st.buffers.size())
        return ::testing::AssertionFailure() << "optimizer state of " << name;
      for (size_t k = 0; k < st.buffers.size(); ++k) {
        if (st.buffers[k].first != it->second.buffers[k].first) return ::testing::AssertionFailure() << "buffer order";
        if (auto r = same_bits(st.buffers[k].second, it->second.buffers[k].second); !r) return r << " (" << name << ")";
      }
    }
  }
  if (a.scheduler.has_value() != b.scheduler.has_value()) return ::testing::AssertionFailure() << "scheduler presence";
  if (a.scheduler && (a.scheduler->type != b.scheduler->type || a.scheduler->values != b.scheduler->values ||
                      a.scheduler->lists != b.scheduler->lists))
    return ::testing::AssertionFailure() << "scheduler differs";
  if (!(a.meta == b.meta)) return ::testing::AssertionFailure() << "meta differs";
  return ::testing::AssertionSuccess();
}

// Metadata with every field set to something non-default.
inline ck::TrainingMeta full_meta() {
  ck::TrainingMeta m;
  m.epoch = 3;
  m.best_val_acc = 0.8125;
  m.best_epoch = 2;
  m.mode = "finetune-from=layer4";
  m.arch = "mlp";
  m.num_classes = 3;
  m.classes = {"1", "10", "100"};
  m.class_names = {"pink primrose", "globe thistle", "bl\xC3\xBC" "bell"};
  m.image_size = 224;
  m.resize = 256;
  m.mean = {0.485, 0.456, 0.406};
  m.std = {0.229, 0.224, 0.225};
  m.generators = {{"data", {42, 1234}}, {"dropout", {0xFFFFFFFFFFFFFFFFull, 7}}};
  m.counters = {{"global_step", 96}, {"loader.batch", 0}, {"loader.epoch", 3}};
  m.strings = {{"optimizer", "adam"}, {"data", "/data/flowers"}, {"empty", ""}};
  m.history = {{1, 1.5, 0.25, 1.25, 0.5, {1e-2}, 2.5}, {2, 1.0, 0.5, 0.75, 0.8125, {1e-2, 1e-4}, 2.25},
               {3, 0.5, 0.75, 0.8, 0.75, {}, 2.0}};
  return m;
}

// A small model with parameters, a buffer-holding layer and a frozen parameter.
inline std::shared_ptr<nn::Sequential> small_mlp(uint64_t seed) {
  Generator gen(seed);
  auto first = std::make_shared<nn::Linear>(4, 6, true, &gen);
  auto second = std::make_shared<nn::Linear>(6, 3, true, &gen);
  return std::make_shared<nn::Sequential>(nn::ModuleList{first, std::make_shared<nn::ReLU>(), second});
}

// One training step of `model` on fixed random data.
inline void train_step(nn::Module& model, optim::Optimizer& opt, uint64_t seed, int64_t in = 4, int64_t classes = 3) {
  Generator gen(seed);
  Tensor x = randn({5, in}, {}, &gen);
  Tensor y = randint(0, classes, {5}, DType::Int64, &gen);
  opt.zero_grad();
  cross_entropy(model(x), y).backward();
  opt.step();
}

// A whole training state: MLP (first layer's bias frozen), Adam with two groups, StepLR, full meta.
struct TrainedState {
  std::shared_ptr<nn::Sequential> model = small_mlp(1);
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<optim::StepLR> sched;
  ck::Checkpoint capture() const { return ck::capture(*model, opt.get(), sched.get(), full_meta()); }
};

inline TrainedState trained_state(int steps = 3) {
  TrainedState s;
  nn::NamedTensors head, body;
  for (const auto& [name, t] : s.model->named_parameters()) (name.rfind("2.", 0) == 0 ? head : body).emplace_back(name, t);
  for (auto& [name, t] : body)
    if (name == "0.bias") t.requires_grad_(false);  // frozen, yet in group 0: identity keeps both facts
  s.opt = std::make_unique<optim::Adam>(body, optim::AdamOptions(1e-2));
  s.opt->add_param_group(head, optim::AdamOptions(1e-3).amsgrad(true));
  s.sched = std::make_unique<optim::StepLR>(*s.opt, 2, 0.5);
  for (int i = 0; i < steps; ++i) {
    train_step(*s.model, *s.opt, 100 + i);
    s.sched->step();
  }
  return s;
}

// The container of docs/checkpoint-format.md, read independently of checkpoint/format.cpp.
struct RawEntry {
  std::string name;
  uint8_t role = 0, type = 0, reserved = 0;
  std::vector<uint64_t> dims;
  uint64_t offset = 0, length = 0;
  uint32_t crc = 0;
};

struct RawFile {
  uint8_t magic[8];
  uint32_t version = 0, flags = 0;
  uint64_t header_size = 0, record_count = 0, data_size = 0;
  uint32_t header_crc = 0, preamble_crc = 0;
  std::vector<RawEntry> entries;
  std::vector<uint8_t> data;

  static uint64_t le(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  static void put(std::vector<uint8_t>& out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }

  static RawFile parse(const std::vector<uint8_t>& f) {
    RawFile r;
    std::memcpy(r.magic, f.data(), 8);
    r.version = static_cast<uint32_t>(le(&f[8], 4));
    r.flags = static_cast<uint32_t>(le(&f[12], 4));
    r.header_size = le(&f[16], 8);
    r.record_count = le(&f[24], 8);
    r.data_size = le(&f[32], 8);
    r.header_crc = static_cast<uint32_t>(le(&f[40], 4));
    r.preamble_crc = static_cast<uint32_t>(le(&f[44], 4));
    size_t pos = 48;
    for (uint64_t i = 0; i < r.record_count; ++i) {
      RawEntry e;
      size_t n = static_cast<size_t>(le(&f[pos], 2));
      pos += 2;
      e.name.assign(reinterpret_cast<const char*>(&f[pos]), n);
      pos += n;
      e.role = f[pos];
      e.type = f[pos + 1];
      uint8_t ndim = f[pos + 2];
      e.reserved = f[pos + 3];
      pos += 4;
      for (uint8_t d = 0; d < ndim; ++d, pos += 8) e.dims.push_back(le(&f[pos], 8));
      e.offset = le(&f[pos], 8);
      e.length = le(&f[pos + 8], 8);
      e.crc = static_cast<uint32_t>(le(&f[pos + 16], 4));
      pos += 20;
      r.entries.push_back(e);
    }
    r.data.assign(f.begin() + static_cast<ptrdiff_t>(pos), f.end());
    return r;
  }

  std::vector<uint8_t> table() const {
    std::vector<uint8_t> t;
    for (const RawEntry& e : entries) {
      put(t, e.name.size(), 2);
      t.insert(t.end(), e.name.begin(), e.name.end());
      t.push_back(e.role);
      t.push_back(e.type);
      t.push_back(static_cast<uint8_t>(e.dims.size()));
      t.push_back(e.reserved);
      for (uint64_t d : e.dims) put(t, d, 8);
      put(t, e.offset, 8);
      put(t, e.length, 8);
      put(t, e.crc, 4);
    }
    return t;
  }

  // The file's bytes. reseal: recompute sizes and checksums from the contents first (record
  // checksums too), so only the deliberately changed field is wrong.
  std::vector<uint8_t> bytes(bool reseal = true) {
    if (reseal) {
      for (RawEntry& e : entries)
        if (e.offset <= data.size() && e.length <= data.size() - e.offset)
          e.crc = ck::crc32c(data.data() + e.offset, static_cast<size_t>(e.length));
      header_size = table().size();
      header_crc = ck::crc32c(table().data(), table().size());
    }
    std::vector<uint8_t> out(magic, magic + 8);
    put(out, version, 4);
    put(out, flags, 4);
    put(out, header_size, 8);
    put(out, record_count, 8);
    put(out, data_size, 8);
    put(out, header_crc, 4);
    if (reseal) preamble_crc = ck::crc32c(out.data(), out.size());
    put(out, preamble_crc, 4);
    std::vector<uint8_t> t = table();
    out.insert(out.end(), t.begin(), t.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }

  RawEntry& entry(const std::string& name) {
    for (RawEntry& e : entries)
      if (e.name == name) return e;
    throw std::runtime_error("no record " + name);
  }
};

}  // namespace sepal::testing
