// report.h: what a training run leaves next to its checkpoints: history.json (one object per
// epoch: train_loss, train_acc, val_loss, val_acc, lr per group, seconds), curves.png (loss,
// accuracy and learning-rate panels) and report.html (the same curves as inline SVG plus the
// table, self-contained: no scripts, no external files).
#pragma once
#include <string>
#include <vector>

#include "checkpoint/meta.h"

namespace flowers {

// Writes the three files into `dir` (each atomically). `title` heads the HTML page.
void write_run_report(const std::string& dir, const sepal::checkpoint::TrainingMeta& meta, const std::string& title);

}  // namespace flowers
