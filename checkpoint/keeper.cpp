// keeper.cpp: CheckpointKeeper (see keeper.h): epoch files with keep-last-N pruning, last.sepal
// as an atomically replaced hard link, and the best-checkpoint rule.
#include "checkpoint/keeper.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "checkpoint/atomic_file.h"

namespace sepal::checkpoint {

namespace fs = std::filesystem;

namespace {

// The epoch of "epoch-<digits>.sepal", or -1 for any other name.
int64_t epoch_of(const std::string& filename) {
  const std::string prefix = "epoch-", suffix = ".sepal";
  if (filename.size() <= prefix.size() + suffix.size() || filename.rfind(prefix, 0) != 0 ||
      filename.compare(filename.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits = filename.substr(prefix.size(), filename.size() - prefix.size() - suffix.size());
  if (digits.size() > 15) return -1;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string epoch_filename(int64_t epoch) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "epoch-%04lld.sepal", static_cast<long long>(epoch));
  return buf;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

CheckpointKeeper::CheckpointKeeper(std::string dir, size_t keep_last) : dir_(std::move(dir)), keep_last_(keep_last) {
  if (keep_last_ < 1) throw Error("CheckpointKeeper: keep_last must be at least 1");
  if (dir_.empty()) dir_.assign(1, '.');  // (not = "." : GCC 12 warns falsely, -Wrestrict)
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw CheckpointError("CheckpointKeeper: cannot create the folder " + dir_ + ": " + ec.message());
  if (fs::exists(best_path())) {
    try {
      const TrainingMeta meta = load_checkpoint_meta(best_path());
      if (std::isfinite(meta.best_val_acc)) best_ = meta.best_val_acc;
    } catch (const Error& e) {
      warning_ = "ignoring the unreadable best checkpoint (the next valid one replaces it): ";
      warning_ += e.what();
    }
  }
}

std::vector<std::string> CheckpointKeeper::epoch_files() const {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const int64_t epoch = epoch_of(name);
    if (epoch >= 0) found.emplace_back(epoch, dir_ + "/" + name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [epoch, path] : found) out.push_back(std::move(path));
  return out;
}

std::string CheckpointKeeper::save_last(const Checkpoint& ckpt) {
  const std::string path = dir_ + "/" + epoch_filename(ckpt.meta.epoch);
  save_checkpoint(ckpt, path);
  // last.sepal: a hard link made under a temporary name, renamed over the old link (atomic).
  const std::string context = "CheckpointKeeper: " + last_path();
  const std::string tmp = last_path() + ".tmp-link-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  if (::link(path.c_str(), tmp.c_str()) == 0) {
    if (::rename(tmp.c_str(), last_path().c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      throw CheckpointError(context + ": cannot rename " + tmp + " to it: " + std::strerror(err));
    }
    sync_dir(dir_, context);
  } else {
    save_checkpoint(ckpt, last_path());  // a filesystem without hard links: write a copy
  }
  // Keep the newest keep_last epoch files (the one just written always stays).
  std::vector<std::string> files = epoch_files();
  size_t excess = files.size() > keep_last_ ? files.size() - keep_last_ : 0;
  for (size_t i = 0; i < files.size() && excess > 0; ++i) {
    if (files[i] == path) continue;
    ::unlink(files[i].c_str());
    --excess;
  }
  return path;
}

bool CheckpointKeeper::save_if_best(const Checkpoint& ckpt, double val_acc) {
  warning_.clear();
  if (!std::isfinite(val_acc)) {
    warning_ = "not saved as best: validation accuracy is " + number(val_acc);
    return false;
  }
  if (best_ && !(val_acc > *best_)) return false;
  if (auto bad = first_non_finite(ckpt)) {
    warning_ = "not saved as best: " + *bad + " holds NaN or infinity";
    return false;
  }
  Checkpoint best = ckpt;  // shares the tensors
  best.meta.best_val_acc = val_acc;
  best.meta.best_epoch = ckpt.meta.epoch;
  save_checkpoint(best, best_path());
  best_ = val_acc;
  return true;
}

void CheckpointKeeper::carry_best(double val_acc) {
  if (!std::isfinite(val_acc) || val_acc < 0) return;
  if (!best_ || val_acc > *best_) best_ = val_acc;
}

}  // namespace sepal::checkpoint
