// report.cpp: history.json, curves.png and report.html from a run's history.
#include "report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "checkpoint/atomic_file.h"
#include "data/image.h"
#include "data/json.h"
#include "plot.h"

namespace flowers {

namespace fs = std::filesystem;
using sepal::checkpoint::TrainingMeta;
using sepal::data::Json;

namespace {

std::vector<Chart> charts_of(const TrainingMeta& meta) {
  Chart loss{"loss", {}, {{"train", 0x1f77b4, {}}, {"valid", 0xff7f0e, {}}}, false};
  Chart acc{"accuracy", {}, {{"train", 0x1f77b4, {}}, {"valid", 0xff7f0e, {}}}, false};
  Chart lr{"learning rate", {}, {}, true};
  const uint32_t group_colours[] = {0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b};
  size_t groups = 0;
  for (const auto& r : meta.history) groups = std::max(groups, r.lrs.size());
  for (size_t g = 0; g < groups; ++g)
    lr.series.push_back({g == 0 ? "head" : g == 1 ? "backbone" : "group " + std::to_string(g), group_colours[g % 4], {}});
  for (const auto& r : meta.history) {
    const double x = static_cast<double>(r.epoch);
    loss.x.push_back(x);
    acc.x.push_back(x);
    lr.x.push_back(x);
    loss.series[0].y.push_back(r.train_loss);
    loss.series[1].y.push_back(r.val_loss);
    acc.series[0].y.push_back(r.train_acc);
    acc.series[1].y.push_back(r.val_acc);
    for (size_t g = 0; g < groups; ++g)
      lr.series[g].y.push_back(g < r.lrs.size() ? r.lrs[g] : std::numeric_limits<double>::quiet_NaN());
  }
  return {loss, acc, lr};
}

Json history_json(const TrainingMeta& meta) {
  Json epochs = Json::array();
  for (const auto& r : meta.history) {
    Json e = Json::object();
    e.set("epoch", r.epoch);
    e.set("train_loss", r.train_loss);
    e.set("train_acc", r.train_acc);
    e.set("val_loss", r.val_loss);
    e.set("val_acc", r.val_acc);
    Json lrs = Json::array();
    for (double v : r.lrs) lrs.push_back(v);
    e.set("lr", lrs);
    e.set("seconds", r.seconds);
    epochs.push_back(e);
  }
  Json root = Json::object();
  root.set("arch", meta.arch);
  root.set("mode", meta.mode);
  root.set("best_val_acc", meta.best_val_acc);
  root.set("best_epoch", meta.best_epoch);
  root.set("epochs", epochs);
  return root;
}

}  // namespace

void write_run_report(const std::string& dir, const TrainingMeta& meta, const std::string& title) {
  fs::create_directories(dir);
  sepal::data::save_json(history_json(meta), (fs::path(dir) / "history.json").string());
  const std::vector<Chart> charts = charts_of(meta);
  sepal::data::save_png(render_charts(charts), (fs::path(dir) / "curves.png").string());

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << html_escape(title)
       << "</title>\n<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}"
          "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>\n";
  html << "<h1>" << html_escape(title) << "</h1>\n<p>" << html_escape(meta.arch) << ", mode " << html_escape(meta.mode) << ", "
       << meta.num_classes << " classes, image size " << meta.image_size << ". Best valid accuracy "
       << meta.best_val_acc << " at epoch " << meta.best_epoch << ".</p>\n<div>\n";
  for (const auto& c : charts) html << chart_svg(c);
  html << "</div>\n<table><tr><th>epoch</th><th>train loss</th><th>train acc</th><th>valid loss</th>"
          "<th>valid acc</th><th>lr per group</th><th>seconds</th></tr>\n";
  char buf[256];
  for (const auto& r : meta.history) {
    std::string lrs;
    for (double v : r.lrs) {
      std::snprintf(buf, sizeof buf, "%s%.3g", lrs.empty() ? "" : ", ", v);
      lrs += buf;
    }
    std::snprintf(buf, sizeof buf, "<tr><td>%lld</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td>",
                  static_cast<long long>(r.epoch), r.train_loss, r.train_acc, r.val_loss, r.val_acc);
    html << buf << "<td>" << lrs << "</td>";
    std::snprintf(buf, sizeof buf, "<td>%.1f</td></tr>\n", r.seconds);
    html << buf;
  }
  html << "</table>\n</body></html>\n";
  const std::string text = html.str();
  const std::string path = (fs::path(dir) / "report.html").string();
  sepal::checkpoint::write_file_atomically(
      path, [&](const sepal::checkpoint::ByteSink& sink) { sink(reinterpret_cast<const uint8_t*>(text.data()), text.size()); },
      "report");
}

}  // namespace flowers
