// checkpoint.cpp: capture (snapshot of a live model, optimizer and scheduler), serialize and
// save (records built by schema.h, container by format.h, atomic write by atomic_file.h), and
// load/parse (tensor records read straight into CPU tensors, each checksum-verified).
#include "checkpoint/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "checkpoint/atomic_file.h"
#include "checkpoint/format.h"
#include "checkpoint/schema.h"
#include "io/utf8.h"
#include "tensor/raw.h"

namespace sepal::checkpoint {

using format::Role;

namespace {

// A contiguous CPU copy of t that shares nothing with it.
Tensor snapshot(const Tensor& t) {
  if (t.device().is_cpu()) return raw::contiguous(raw::clone(t));
  return raw::contiguous(raw::to_device(t, Device::cpu()));
}

// t itself when it is contiguous on the CPU, else a contiguous CPU copy.
Tensor host(const Tensor& t) {
  if (t.device().is_cpu() && t.is_contiguous()) return t;
  return raw::contiguous(raw::to_device(t, Device::cpu()));
}

// The records of `ckpt`, after checking that a loader will accept them (the same consistency
// rules schema::decode enforces). Tensor data is referenced from `hold`.
schema::RecordList build_records(const Checkpoint& ckpt, const std::string& context, std::vector<Tensor>* hold) {
  schema::RecordList out(context);
  auto fail = [&](const std::string& what) { out.fail(what); };
  auto add_tensor = [&](const std::string& record, Role role, const Tensor& t, const std::string& what) {
    if (!t.defined()) fail(what + " is an undefined tensor");
    Tensor h = host(t);
    hold->push_back(h);
    out.tensor(record, role, h.dtype(), h.shape(), h.raw_data(), static_cast<size_t>(h.numel()) * h.element_size());
  };

  std::unordered_map<std::string, const ParamIdentity*> identity;
  for (const ParamIdentity& p : ckpt.params) {
    if (!identity.emplace(p.name, &p).second) fail("parameter " + io::quote_name(p.name) + " is listed twice in params");
    const Tensor* t = ckpt.model.find(p.name);
    if (!t) fail("parameter " + io::quote_name(p.name) + " has an identity but no tensor in model");
    if (t->shape() != p.shape || t->dtype() != p.dtype)
      fail("parameter " + io::quote_name(p.name) + ": identity says " + dtype_name(p.dtype) + " " + shape_str(p.shape) +
           ", the tensor is " + dtype_name(t->dtype()) + " " + shape_str(t->shape()));
  }
  std::vector<ParamIdentity> ordered;  // identities in model order (the loader pairs them by position)
  for (const auto& [name, t] : ckpt.model) {
    schema::check_component(out, name, "tensor");
    auto it = identity.find(name);
    if (it != identity.end()) ordered.push_back(*it->second);
    add_tensor(schema::model_record(name), it != identity.end() ? Role::Parameter : Role::Buffer, t,
               "tensor " + io::quote_name(name));
  }
  schema::encode_identity(out, ordered);

  const size_t groups = ckpt.optimizer ? ckpt.optimizer->groups.size() : 0;
  std::unordered_map<std::string, int64_t> member_group;
  if (ckpt.optimizer) {
    const optim::OptimizerStateDict& o = *ckpt.optimizer;
    std::vector<schema::DecodedGroup> gs;
    for (size_t gi = 0; gi < o.groups.size(); ++gi) {
      for (const std::string& name : o.groups[gi].params) {
        if (!identity.count(name))
          fail("optimizer group " + std::to_string(gi) + " lists " + io::quote_name(name) + ", which is not a parameter in params");
        if (!member_group.emplace(name, static_cast<int64_t>(gi)).second)
          fail("parameter " + io::quote_name(name) + " is in two optimizer groups");
      }
      gs.push_back({o.groups[gi].options, o.groups[gi].params});
    }
    schema::encode_optimizer_groups(out, o.type, gs);
    for (const auto& [name, st] : o.state) {
      schema::check_component(out, name, "optimizer state parameter");
      if (!member_group.count(name)) fail("optimizer state for " + io::quote_name(name) + ", which no group lists");
      if (st.step < 0) fail("optimizer state of " + io::quote_name(name) + " has a negative step");
      out.i64(schema::state_record(name, "step"), Role::Optimizer, st.step);
      const ParamIdentity& id = *identity.at(name);
      std::string previous;
      for (const auto& [buf, t] : st.buffers) {
        schema::check_component(out, buf, "optimizer buffer");
        if (const std::string why = schema::buffer_problem(o.type, previous, buf); !why.empty())
          fail("optimizer state of " + io::quote_name(name) + ": " + why);
        previous = buf;
        if (buf == "step") fail("optimizer buffer of " + io::quote_name(name) + " may not be called \"step\"");
        if (!t.defined() || !is_floating(t.dtype()) || t.shape() != id.shape)
          fail("optimizer buffer " + buf + " of " + io::quote_name(name) +
               " must be a floating tensor of the parameter's shape " + shape_str(id.shape));
        add_tensor(schema::state_record(name, buf), Role::Optimizer, t, "optimizer buffer " + buf);
      }
    }
  }
  for (const ParamIdentity& p : ordered) {
    auto m = member_group.find(p.name);
    const int64_t listed = m == member_group.end() ? -1 : m->second;
    if (p.group != listed)
      fail("parameter " + io::quote_name(p.name) + " has group " + std::to_string(p.group) + " but the optimizer " +
           (listed < 0 ? std::string("lists it in no group") : "lists it in group " + std::to_string(listed)) +
           (groups == 0 && p.group >= 0 ? " (there is no optimizer)" : ""));
  }
  if (ckpt.scheduler) schema::encode_scheduler(out, {ckpt.scheduler->type, ckpt.scheduler->values, ckpt.scheduler->lists});
  schema::encode_meta(out, ckpt.meta);
  return out;
}

Tensor read_tensor(const format::Reader& reader, size_t index) {
  const format::RecordInfo& r = reader.records()[index];
  Tensor t = empty(r.shape, TensorOptions(schema::to_dtype(r.type)));  // length == its bytes, <= file size
  auto* dst = static_cast<uint8_t*>(t.raw_data());
  reader.read(r, dst);
  if (r.type == format::RecordType::Bool)
    for (uint64_t i = 0; i < r.length; ++i)
      if (dst[i] > 1) reader.fail(r, "BOOL element " + std::to_string(i) + " is " + std::to_string(dst[i]) + ", not 0 or 1");
  return t;
}

Checkpoint build(const format::Reader& reader) {
  schema::Decoded d = schema::decode(reader);
  Checkpoint c;
  for (const auto& [name, index] : d.model) c.model.insert(name, read_tensor(reader, index));
  c.params = std::move(d.params);
  if (d.optimizer) {
    optim::OptimizerStateDict o;
    o.type = d.optimizer->type;
    for (schema::DecodedGroup& g : d.optimizer->groups) o.groups.push_back({std::move(g.options), std::move(g.params)});
    for (const auto& [name, st] : d.optimizer->state) {
      optim::ParamState ps;
      ps.step = st.step;
      for (const auto& [buf, index] : st.buffers) ps.buffers.emplace_back(buf, read_tensor(reader, index));
      o.state.emplace(name, std::move(ps));
    }
    c.optimizer = std::move(o);
  }
  if (d.scheduler) c.scheduler = optim::SchedulerStateDict{d.scheduler->type, d.scheduler->values, d.scheduler->lists};
  c.meta = std::move(d.meta);
  return c;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens `path` and calls fn(reader) with a Reader over it.
template <typename Fn>
auto with_file_reader(const std::string& path, Fn&& fn) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) throw CheckpointError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw CheckpointError(path + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw CheckpointError(path + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  format::ReadAt read_at = [&](uint64_t offset, uint8_t* dst, size_t n) {
    while (n > 0) {
      ssize_t got = ::pread(f.fd, dst, std::min<size_t>(n, size_t{1} << 30), static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        throw CheckpointError(path + ": read failed at byte " + std::to_string(offset) + ": " + std::strerror(errno));
      }
      if (got == 0)
        throw CheckpointError(path + ": file ended at byte " + std::to_string(offset) + " of " + std::to_string(size) +
                              " (truncated while being read?)");
      dst += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
  };
  format::Reader reader(size, read_at, path);
  return fn(reader);
}

template <typename T>
bool all_finite(const Tensor& t) {
  const T* p = static_cast<const T*>(t.raw_data());
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

bool finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype())) return true;
  Tensor h = host(t);
  return h.dtype() == DType::Float32 ? all_finite<float>(h) : all_finite<double>(h);
}

}  // namespace

const ParamIdentity* Checkpoint::param(const std::string& name) const {
  for (const ParamIdentity& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

Checkpoint capture(const nn::Module& model, const optim::Optimizer* opt, const optim::Scheduler* sched,
                   TrainingMeta meta) {
  Checkpoint c;
  for (const auto& [name, t] : model.state_dict()) c.model.insert(name, snapshot(t));
  for (const auto& [name, t] : model.named_parameters()) {
    int64_t group = -1;
    if (opt)
      if (auto g = opt->group_of(name)) group = static_cast<int64_t>(*g);
    c.params.push_back({name, t.shape(), t.dtype(), t.requires_grad(), group});
  }
  if (opt) {
    optim::OptimizerStateDict o = opt->state_dict();
    for (auto& [name, st] : o.state)
      for (auto& [buf, t] : st.buffers) t = snapshot(t);
    c.optimizer = std::move(o);
  }
  if (sched) c.scheduler = sched->state_dict();
  if (meta.sepal_version.empty()) meta.sepal_version = kSepalVersion;
  c.meta = std::move(meta);
  return c;
}

std::vector<uint8_t> serialize_checkpoint(const Checkpoint& ckpt) {
  std::vector<Tensor> hold;
  schema::RecordList records = build_records(ckpt, "serialize_checkpoint", &hold);
  std::vector<uint8_t> out;
  format::write_container(records.records(), [&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); },
                          "serialize_checkpoint");
  return out;
}

void save_checkpoint(const Checkpoint& ckpt, const std::string& path) {
  const std::string context = "save_checkpoint: " + path;
  std::vector<Tensor> hold;
  schema::RecordList records = build_records(ckpt, context, &hold);  // every check before the disk
  try {
    write_file_atomically(
        path, [&](const ByteSink& sink) { format::write_container(records.records(), sink, context); }, context);
  } catch (const CheckpointError&) {
    throw;
  } catch (const IOError& e) {
    throw CheckpointError(e.what());
  }
}

Checkpoint parse_checkpoint(const uint8_t* data, size_t size, const std::string& source_name) {
  format::ReadAt read_at = [&](uint64_t offset, uint8_t* dst, size_t n) {
    if (offset > size || n > size - offset)  // the reader only asks for checked ranges
      throw CheckpointError(source_name + ": internal error: read past the end of the input");
    if (n > 0) std::memcpy(dst, data + offset, n);
  };
  format::Reader reader(size, read_at, source_name);
  return build(reader);
}

Checkpoint load_checkpoint(const std::string& path) {
  return with_file_reader(path, [](const format::Reader& reader) { return build(reader); });
}

TrainingMeta load_checkpoint_meta(const std::string& path) {
  return with_file_reader(path, [](const format::Reader& reader) { return schema::decode(reader, true).meta; });
}

std::optional<std::string> first_non_finite(const Checkpoint& ckpt) {
  for (const auto& [name, t] : ckpt.model)
    if (!finite(t)) return name;
  if (ckpt.optimizer)
    for (const auto& [name, st] : ckpt.optimizer->state)
      for (const auto& [buf, t] : st.buffers)
        if (!finite(t)) return "optimizer state " + buf + " of " + name;
  return std::nullopt;
}

}  // namespace sepal::checkpoint
