// profiler.cpp: the recording state of a profiling session (thread-local: the scope stack, the
// interned scope paths, the open op timers and the accumulated cells) and the tables.
#include "tensor/profiler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <tuple>
#include <unordered_map>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace sepal::profile {

namespace detail {
thread_local bool recording = false;
}

namespace {

using Clock = std::chrono::steady_clock;

struct Cell {
  double ns = 0;
  int64_t calls = 0;
};

struct Frame {
  Clock::time_point start;
  double child_ns = 0;  // time of the backend calls made inside this one
};

struct State {
  std::vector<std::string> paths{""};  // by ScopeId; 0 is the root
  std::unordered_map<std::string, ScopeId> ids{{"", 0}};
  std::vector<ScopeId> stack{0};
  Phase phase = Phase::Forward;
  std::vector<Frame> timers;
  std::map<std::tuple<std::string, Phase, ScopeId>, Cell> cells;
  Clock::time_point start;
};

thread_local State* state = nullptr;

ScopeId intern(const std::string& path) {
  auto [it, inserted] = state->ids.try_emplace(path, static_cast<ScopeId>(state->paths.size()));
  if (inserted) state->paths.push_back(path);
  return it->second;
}

}  // namespace

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::Forward: return "forward";
    case Phase::Backward: return "backward";
    case Phase::Optimizer: return "optimizer";
  }
  return "?";
}

ScopeId current_scope() { return state ? state->stack.back() : 0; }

void Scope::enter(std::string_view name, const Phase* phase) {
  const std::string& parent = state->paths[state->stack.back()];
  // an unnamed scope (a model run on its own, not as a child) stays in its parent's
  state->stack.push_back(name.empty()    ? state->stack.back()
                         : parent.empty() ? intern(std::string(name))
                                          : intern(parent + "." + std::string(name)));
  saved_phase_ = state->phase;
  if (phase) state->phase = *phase;
  entered_ = true;
}

void Scope::enter_id(ScopeId id, Phase phase) {
  if (id < 0 || id >= static_cast<ScopeId>(state->paths.size())) id = state->stack.back();
  state->stack.push_back(id);
  saved_phase_ = state->phase;
  state->phase = phase;
  entered_ = true;
}

void Scope::leave() {
  if (!state) return;  // the session ended inside this scope
  if (state->stack.size() > 1) state->stack.pop_back();
  state->phase = saved_phase_;
}

OpTimer::OpTimer(Backend& device, const char* kind, const char* suffix, bool sync)
    : device_(device), kind_(kind), suffix_(suffix), sync_(sync && state) {
  // no session on this thread (a wrapper reference kept past its session): times nothing
  if (!state) return;
  if (sync_) device_.synchronize();
  state->timers.push_back({Clock::now(), 0});
}

OpTimer::~OpTimer() {
  if (sync_) device_.synchronize();
  if (!state || state->timers.empty()) return;
  const Frame frame = state->timers.back();
  state->timers.pop_back();
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - frame.start).count();
  if (!state->timers.empty()) state->timers.back().child_ns += ns;
  Cell& cell = state->cells[{std::string(kind_) + suffix_, state->phase, state->stack.back()}];
  cell.ns += ns - frame.child_ns;
  ++cell.calls;
}

Session::Session() {
  if (state) throw Error("profile::Session: a session is already recording on this thread");
  state = new State;
  state->start = Clock::now();
  detail::recording = true;
}

Session::~Session() {
  if (open_) finish();
}

Profile Session::finish(int64_t steps) {
  if (!open_) throw Error("profile::Session::finish: the session has already finished");
  if (steps < 1) throw Error("profile::Session::finish: steps must be at least 1, got " + std::to_string(steps));
  open_ = false;
  detail::recording = false;
  Profile p;
  p.steps = steps;
  const double per_step = 1e-6 / static_cast<double>(steps);  // ns in total -> ms per step
  p.step_ms = std::chrono::duration<double, std::nano>(Clock::now() - state->start).count() * per_step;
  for (const auto& [key, cell] : state->cells) {
    const auto& [kind, phase, scope] = key;
    p.records.push_back({kind, phase, state->paths[scope], cell.ns * per_step,
                         static_cast<double>(cell.calls) / static_cast<double>(steps)});
  }
  std::stable_sort(p.records.begin(), p.records.end(), [](const OpRecord& a, const OpRecord& b) { return a.ms > b.ms; });
  delete state;
  state = nullptr;
  return p;
}

double Profile::op_ms() const {
  double sum = 0;
  for (const OpRecord& r : records) sum += r.ms;
  return sum;
}

namespace {

// Allocations are counted as calls only in their own rows ("allocate", "free"), not in a scope's.
bool is_allocation(const OpRecord& r) { return r.kind == "allocate" || r.kind == "free"; }

template <typename KeyOf>
std::vector<Row> rows_by(const Profile& p, KeyOf key_of, bool count_allocations) {
  std::vector<Row> rows;
  std::unordered_map<std::string, size_t> index;
  for (const OpRecord& r : p.records) {
    const std::string name = key_of(r);
    auto [it, inserted] = index.try_emplace(name, rows.size());
    if (inserted) rows.push_back(Row{name});
    Row& row = rows[it->second];
    (r.phase == Phase::Forward ? row.forward_ms : r.phase == Phase::Backward ? row.backward_ms : row.optimizer_ms) += r.ms;
    if (count_allocations || !is_allocation(r)) row.calls += r.calls;
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.total_ms() > b.total_ms(); });
  return rows;
}

// One table line; a negative time prints as "-" (the summary lines have no per-phase split).
std::string line(const std::string& name, const std::string& calls, double fwd, double bwd, double opt, double total,
                 double step_ms) {
  auto col = [](double v) {
    char b[32];
    if (v < 0) std::snprintf(b, sizeof b, "%10s", "-");
    else std::snprintf(b, sizeof b, "%10.2f", v);
    return std::string(b);
  };
  char head[128], pct[32];
  std::snprintf(head, sizeof head, "%-40s %8s", name.c_str(), calls.c_str());
  std::snprintf(pct, sizeof pct, "%7.1f\n", step_ms > 0 ? 100.0 * total / step_ms : 0.0);
  return std::string(head) + " " + col(fwd) + " " + col(bwd) + " " + col(opt) + " " + col(total) + " " + pct;
}

}  // namespace

std::vector<Row> rows_by_kind(const Profile& p) {
  return rows_by(p, [](const OpRecord& r) { return r.kind; }, true);
}

std::vector<Row> rows_by_scope(const Profile& p) {
  return rows_by(p, [](const OpRecord& r) { return r.scope.empty() ? std::string("(outside modules)") : r.scope; }, false);
}

std::string format_table(const std::string& title, const std::vector<Row>& rows, const Profile& p) {
  char head[512];
  std::snprintf(head, sizeof head, "%-40s %8s %10s %10s %10s %10s %7s\n", title.c_str(), "calls", "forward",
                "backward", "optimizer", "total ms", "% step");
  std::string out = head;
  for (const Row& r : rows) {
    char calls[32];
    std::snprintf(calls, sizeof calls, "%.0f", r.calls);
    out += line(r.name, calls, r.forward_ms, r.backward_ms, r.optimizer_ms, r.total_ms(), p.step_ms);
  }
  const double outside = p.step_ms - p.op_ms();
  out += line("(not in an op)", "-", -1, -1, -1, outside, p.step_ms);
  out += line("step", "-", -1, -1, -1, p.step_ms, p.step_ms);
  return out;
}

std::string format_by_kind(const Profile& p) { return format_table("op kind (ms per step)", rows_by_kind(p), p); }

std::string format_by_layer(const Profile& p) { return format_table("layer (ms per step)", rows_by_scope(p), p); }

}  // namespace sepal::profile
