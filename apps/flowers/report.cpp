// report.cpp: history.json, curves.png and report.html from a run's history, and the report's
// records in meta.strings (resumes, images per epoch, skipped files).
#include "report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "checkpoint/atomic_file.h"
#include "data/image.h"
#include "io/json.h"
#include "plot.h"

namespace flowers {

namespace fs = std::filesystem;
using sepal::checkpoint::TrainingMeta;
using sepal::io::Json;

namespace {

constexpr const char* kResumes = "resumes";
constexpr const char* kEpochImages = "epoch_images";
constexpr const char* kSkipped = "skipped";

// meta.strings[key] parsed, or `fallback` when absent or not valid JSON of the expected kind.
Json string_json(const TrainingMeta& meta, const char* key, Json fallback) {
  auto it = meta.strings.find(key);
  if (it == meta.strings.end()) return fallback;
  try {
    Json j = sepal::io::parse_json(it->second, std::string("meta ") + key);
    if (j.type() == fallback.type()) return j;
  } catch (const sepal::Error&) {
  }
  return fallback;
}

int64_t epoch_images(const Json& images, int64_t epoch) {
  const Json* v = images.find(std::to_string(epoch));
  return v && v->is_number() ? static_cast<int64_t>(v->as_number()) : -1;
}

std::string percent(double fraction, int decimals = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, fraction * 100.0);
  return buf;
}

std::vector<Marker> resume_markers(const TrainingMeta& meta) {
  std::vector<Marker> out;
  for (const auto& r : resume_events(meta)) out.push_back({static_cast<double>(r.epoch) + 0.5, "resumed: " + r.policy});
  return out;
}

std::vector<Chart> charts_of(const TrainingMeta& meta) {
  Chart loss{"loss", {}, {{"train", 0x1f77b4, {}}, {"valid", 0xff7f0e, {}}}, false, false, {}};
  Chart acc{"accuracy", {}, {{"train", 0x1f77b4, {}}, {"valid", 0xff7f0e, {}}}, false, true, {}};
  Chart lr{"learning rate", {}, {}, true, false, {}};
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
  const std::vector<Marker> markers = resume_markers(meta);
  loss.markers = acc.markers = lr.markers = markers;
  return {loss, acc, lr};
}

Json history_json(const TrainingMeta& meta) {
  const Json images = string_json(meta, kEpochImages, Json::object());
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
    const int64_t n = epoch_images(images, r.epoch);
    if (n >= 0) {
      e.set("images", n);
      e.set("images_per_second", r.seconds > 0 ? static_cast<double>(n) / r.seconds : 0.0);
    }
    epochs.push_back(e);
  }
  Json resumes = Json::array();
  for (const auto& r : resume_events(meta)) {
    Json j = Json::object();
    j.set("epoch", r.epoch);
    j.set("policy", r.policy);
    j.set("action", r.action);
    resumes.push_back(j);
  }
  Json root = Json::object();
  root.set("arch", meta.arch);
  root.set("mode", meta.mode);
  root.set("best_val_acc", meta.best_val_acc);
  root.set("best_epoch", meta.best_epoch);
  root.set("resumes", resumes);
  root.set("skipped", string_json(meta, kSkipped, Json::object()));
  root.set("epochs", epochs);
  return root;
}

}  // namespace

std::vector<ResumeEvent> resume_events(const TrainingMeta& meta) {
  std::vector<ResumeEvent> out;
  const Json list = string_json(meta, kResumes, Json::array());
  for (const auto& j : list.as_array()) {
    if (!j.is_object()) continue;
    ResumeEvent e;
    if (const Json* v = j.find("epoch"); v && v->is_number()) e.epoch = static_cast<int64_t>(v->as_number());
    if (const Json* v = j.find("policy"); v && v->is_string()) e.policy = v->as_string();
    if (const Json* v = j.find("action"); v && v->is_string()) e.action = v->as_string();
    if (const Json* v = j.find("plan"); v && v->is_string()) e.plan = v->as_string();
    out.push_back(std::move(e));
  }
  return out;
}

void add_resume_event(TrainingMeta& meta, const ResumeEvent& event) {
  Json list = string_json(meta, kResumes, Json::array());
  Json j = Json::object();
  j.set("epoch", event.epoch);
  j.set("policy", event.policy);
  j.set("action", event.action);
  j.set("plan", event.plan);
  list.push_back(j);
  meta.strings[kResumes] = list.dump();
}

void carry_report_strings(const TrainingMeta& saved, TrainingMeta& meta) {
  for (const char* key : {kResumes, kEpochImages})
    if (auto it = saved.strings.find(key); it != saved.strings.end()) meta.strings[key] = it->second;
}

void record_epoch_images(TrainingMeta& meta, int64_t epoch, int64_t images) {
  Json j = string_json(meta, kEpochImages, Json::object());
  j.set(std::to_string(epoch), images);
  meta.strings[kEpochImages] = j.dump();
}

void record_skipped(TrainingMeta& meta, const std::string& split, const std::string& folder,
                    const sepal::data::SkipTally& tally) {
  Json all = string_json(meta, kSkipped, Json::object());
  Json j = Json::object();
  j.set("folder", folder);
  j.set("files", tally.files);
  j.set("total", tally.skipped);
  Json by = Json::object();
  for (const auto& [reason, n] : tally.by_reason) by.set(reason, n);
  j.set("by_reason", by);
  all.set(split, j);
  meta.strings[kSkipped] = all.dump();
}

void write_run_report(const std::string& dir, const TrainingMeta& meta, const std::string& title) {
  fs::create_directories(dir);
  sepal::io::save_json(history_json(meta), (fs::path(dir) / "history.json").string());
  const std::vector<Chart> charts = charts_of(meta);
  sepal::data::save_png(render_charts(charts), (fs::path(dir) / "curves.png").string());

  const Json images = string_json(meta, kEpochImages, Json::object());
  double total_images = 0, total_seconds = 0;
  for (const auto& r : meta.history)
    if (int64_t n = epoch_images(images, r.epoch); n >= 0) total_images += static_cast<double>(n), total_seconds += r.seconds;

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << html_escape(title)
       << "</title>\n<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}"
          "table{border-collapse:collapse;margin:0.5em 0 1em}tr:nth-child(even){background:#f4f4f4}"
          "pre{background:#f6f6f6;padding:6px 10px;font-size:12px;overflow-x:auto}"
          "svg{margin-right:8px}</style></head><body>\n";
  html << "<h1>" << html_escape(title) << "</h1>\n<p>" << html_escape(meta.arch) << ", mode " << html_escape(meta.mode)
       << ", " << meta.num_classes << " classes, image size " << meta.image_size << ".";
  if (meta.best_epoch > 0)
    html << " Best valid accuracy <b>" << percent(meta.best_val_acc) << "</b> at epoch " << meta.best_epoch << ".";
  if (total_seconds > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", total_images / total_seconds);
    html << " Training speed " << buf << " images/s.";
  }
  html << "</p>\n<div>\n";
  for (const auto& c : charts) html << chart_svg(c);
  html << "</div>\n";

  const std::vector<ResumeEvent> resumes = resume_events(meta);
  if (!resumes.empty()) {
    html << "<h2>Resumes</h2>\n";
    for (const auto& r : resumes)
      html << "<p>After epoch " << r.epoch << ": policy <b>" << html_escape(r.policy) << "</b>, "
           << html_escape(r.action) << " (the dashed line on the curves).</p>\n<pre>" << html_escape(r.plan) << "</pre>\n";
  }
  const Json skipped = string_json(meta, kSkipped, Json::object());
  if (skipped.size() > 0) {
    html << "<h2>Skipped files</h2>\n<table><tr><th>split</th><th>files</th><th>skipped</th><th>why</th></tr>\n";
    for (const auto& [split, j] : skipped.as_object()) {
      if (!j.is_object()) continue;
      std::string why;
      if (const Json* by = j.find("by_reason"); by && by->is_object())
        for (const auto& [reason, n] : by->as_object())
          why += (why.empty() ? "" : ", ") + std::to_string(static_cast<int64_t>(n.as_number())) + " " + reason;
      auto num = [&](const char* k) {
        const Json* v = j.find(k);
        return v && v->is_number() ? std::to_string(static_cast<int64_t>(v->as_number())) : std::string("?");
      };
      const Json* folder = j.find("folder");
      html << "<tr><td>" << html_escape(folder && folder->is_string() ? folder->as_string() : split) << "</td><td>"
           << num("files") << "</td><td>" << num("total") << "</td><td style=\"text-align:left\">"
           << html_escape(why.empty() ? "-" : why) << "</td></tr>\n";
    }
    html << "</table>\n";
  }

  html << "<h2>Epochs</h2>\n<table><tr><th>epoch</th><th>train loss</th><th>train acc</th><th>valid loss</th>"
          "<th>valid acc</th><th>lr per group</th><th>seconds</th><th>images/s</th></tr>\n";
  char buf[256];
  for (const auto& r : meta.history) {
    std::string lrs;
    for (double v : r.lrs) {
      std::snprintf(buf, sizeof buf, "%s%.3g", lrs.empty() ? "" : ", ", v);
      lrs += buf;
    }
    std::snprintf(buf, sizeof buf, "<tr><td>%lld</td><td>%.4f</td><td>%s</td><td>%.4f</td><td>%s</td>",
                  static_cast<long long>(r.epoch), r.train_loss, percent(r.train_acc).c_str(), r.val_loss,
                  percent(r.val_acc).c_str());
    html << buf << "<td>" << lrs << "</td>";
    const int64_t n = epoch_images(images, r.epoch);
    if (n >= 0 && r.seconds > 0) std::snprintf(buf, sizeof buf, "<td>%.1f</td><td>%.1f</td></tr>\n", r.seconds, n / r.seconds);
    else std::snprintf(buf, sizeof buf, "<td>%.1f</td><td>-</td></tr>\n", r.seconds);
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
