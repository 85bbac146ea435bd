// profiler.h: where the time of a training step goes, per op kind and per layer (issue 15).
// Off by default, and then every hook costs one thread-local flag check. A Session (RAII) turns
// it on for the thread that creates it; while it records, every backend call made through
// backend_for() on that thread is timed (wall time; on CUDA the device is synchronised before and
// after each call, only while profiling) and booked under (op kind, phase, scope):
//   op kind  the backend call: "conv2d_forward", "conv2d_backward_input", "batch_norm_backward",
//            "matmul", "adam_step", elementwise ops by name ("relu", "add", "relu_backward"), ...
//   phase    forward, backward (inside the autograd engine) or optimizer (Optimizer::step)
//   scope    the dotted path of the modules being run ("layer1.0.conv1"): nn::Module::operator()
//            pushes the module's name; "" is outside every module. The backward of an op is booked
//            under the scope that was current when the op recorded its autograd node (the engine
//            re-enters it with Scope::replay), so "layer1.0.conv1" shows its forward and backward.
// Times are self times: a backend call made inside another one is not counted twice.
//
//   profile::Session session;                 // this thread records from here
//   for (int i = 0; i < 5; ++i) step();
//   profile::Profile p = session.finish(5);   // per-step averages over 5 steps
//   std::cout << profile::format_by_kind(p) << profile::format_by_layer(p);
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sepal {
class Backend;
}

namespace sepal::profile {

enum class Phase : uint8_t { Forward, Backward, Optimizer };
const char* phase_name(Phase phase);

namespace detail {
extern thread_local bool recording;
}
// Whether a Session records on this thread.
inline bool enabled() { return detail::recording; }

// A scope path interned by the recording session; 0 is the root (outside every module).
using ScopeId = int32_t;
// The scope now current on this thread (0 when not recording).
ScopeId current_scope();

// Pushes a child scope `name` under the current one (and optionally switches the phase) until
// destroyed; does nothing when not recording.
class Scope {
 public:
  explicit Scope(std::string_view name) {
    if (enabled()) enter(name, nullptr);
  }
  Scope(std::string_view name, Phase phase) {
    if (enabled()) enter(name, &phase);
  }
  // Re-enters a scope recorded earlier (an autograd node's) in `phase`; id < 0: the current scope.
  static Scope replay(ScopeId id, Phase phase) { return Scope(id, phase); }
  ~Scope() {
    if (entered_) leave();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Scope(ScopeId id, Phase phase) {
    if (enabled()) enter_id(id, phase);
  }
  void enter(std::string_view name, const Phase* phase);
  void enter_id(ScopeId id, Phase phase);
  void leave();
  bool entered_ = false;
  Phase saved_phase_ = Phase::Forward;
};

// Times one backend call (its self time) under `kind` + `suffix` in the current scope and phase.
// sync: synchronise `device` before and after (kernels; not allocations). Only constructed while
// recording (the profiling backend, tensor/profiling_backend.cpp).
class OpTimer {
 public:
  OpTimer(Backend& device, const char* kind, const char* suffix = "", bool sync = true);
  ~OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  Backend& device_;
  const char* kind_;
  const char* suffix_;
  bool sync_;
};

// One (op kind, phase, scope) cell of a profile; ms and calls are per step.
struct OpRecord {
  std::string kind;
  Phase phase = Phase::Forward;
  std::string scope;  // "" outside every module
  double ms = 0;
  double calls = 0;
};

struct Profile {
  std::vector<OpRecord> records;  // sorted by ms, largest first
  double step_ms = 0;             // wall time per step
  int64_t steps = 0;
  double op_ms() const;  // the sum of the records: time inside backend calls
};

// Records on the calling thread from construction until finish() or destruction. One session per
// thread at a time (a second throws sepal::Error).
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // Stops recording and returns the profile with every time divided by `steps` (>= 1).
  Profile finish(int64_t steps = 1);

 private:
  bool open_ = true;
};

// A table row: the time of one op kind (or one scope) per phase, per step.
struct Row {
  std::string name;
  double forward_ms = 0, backward_ms = 0, optimizer_ms = 0, calls = 0;
  double total_ms() const { return forward_ms + backward_ms + optimizer_ms; }
};
// Rows by op kind / by scope ("(outside modules)" for ""), largest total first.
std::vector<Row> rows_by_kind(const Profile& p);
std::vector<Row> rows_by_scope(const Profile& p);
// The tables printed by `flowers train --profile` and `bench_step --profile` (bench/profile_torch.py
// prints PyTorch's in the same format and parses these): a header line, one line per row
// ("name  calls  forward  backward  optimizer  total  %step", times in ms per step), then
// "(not in an op)" (step time outside backend calls) and "step" (the wall time per step).
std::string format_table(const std::string& title, const std::vector<Row>& rows, const Profile& p);
std::string format_by_kind(const Profile& p);
std::string format_by_layer(const Profile& p);

}  // namespace sepal::profile
