// report.h: what a training run leaves next to its checkpoints: history.json (one object per
// epoch: train_loss, train_acc, val_loss, val_acc, lr per group, seconds, images and
// images_per_second; the run's resumes and each split's skipped files), curves.png (loss,
// accuracy and learning-rate panels, a dashed line where the run was resumed) and report.html
// (the same curves as inline SVG, the resume plans, the skipped files and the table;
// self-contained: no scripts, no external files).
//
// What the report needs beyond the epoch history travels in the checkpoint's meta.strings, as
// compact JSON under these keys (so a resumed run's report still shows them):
//   "resumes"       [{"epoch": E, "policy": "merge", "action": "merge", "plan": "<plan text>"}, ...]:
//                   each resume, E being the epochs completed before it (the marker is drawn at E + 0.5)
//   "epoch_images"  {"1": 6552, ...}: training images of each epoch (images per second = images / seconds)
//   "skipped"       {"train": {"folder": "train/", "files": N, "total": k, "by_reason": {...}}, "valid": ...}:
//                   this run's skipped files per split (recounted by every run, not carried over)
#pragma once
#include <string>
#include <vector>

#include "checkpoint/meta.h"
#include "data/image_folder.h"

namespace flowers {

struct ResumeEvent {
  int64_t epoch = 0;   // epochs completed when the run was resumed
  std::string policy;  // "auto", "strict", "merge", "weights-only"
  std::string action;  // "full resume", "merge", "weights only"
  std::string plan;    // the plan as printed
};

// The resumes recorded in meta.strings["resumes"] (empty when none or unreadable).
std::vector<ResumeEvent> resume_events(const sepal::checkpoint::TrainingMeta& meta);
// Appends one to meta.strings["resumes"].
void add_resume_event(sepal::checkpoint::TrainingMeta& meta, const ResumeEvent& event);
// Carries "resumes" and "epoch_images" from a resumed checkpoint's meta into the new run's.
void carry_report_strings(const sepal::checkpoint::TrainingMeta& saved, sepal::checkpoint::TrainingMeta& meta);
// Records the training images of epoch `epoch` in meta.strings["epoch_images"].
void record_epoch_images(sepal::checkpoint::TrainingMeta& meta, int64_t epoch, int64_t images);
// Records one split's skipped-file tally in meta.strings["skipped"] under `split` ("train", "valid").
void record_skipped(sepal::checkpoint::TrainingMeta& meta, const std::string& split, const std::string& folder,
                    const sepal::data::SkipTally& tally);

// Writes the three files into `dir` (each atomically). `title` heads the HTML page.
void write_run_report(const std::string& dir, const sepal::checkpoint::TrainingMeta& meta, const std::string& title);

}  // namespace flowers
