// report_test.cpp: the report's axes (round 1-2-5 ticks, integer epochs, percent labels), its
// records in meta.strings (resumes, images per epoch, skipped files) and what history.json and
// report.html show of them.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "io/json.h"
#include "plot.h"
#include "report.h"

namespace flowers {
namespace {

namespace fs = std::filesystem;

TEST(NiceAxis, RoundOneTwoFiveSteps) {
  NiceAxis a = nice_axis(0.942, 3.33);  // the raw ticks the issue saw: 3.33, 2.53, 1.74, 0.942
  EXPECT_EQ(a.step, 1.0);
  EXPECT_EQ(a.ticks, (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(a.decimals, 0);
  for (double t : a.ticks) EXPECT_NEAR(std::remainder(t, a.step), 0.0, 1e-12) << t;

  a = nice_axis(12.0, 91.0);  // accuracy in percent
  EXPECT_EQ(a.step, 20.0);
  EXPECT_EQ(a.ticks, (std::vector<double>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(a.decimals, 0);

  a = nice_axis(0.0012, 0.0047);
  EXPECT_DOUBLE_EQ(a.step, 0.001);
  EXPECT_EQ(a.decimals, 3);
  EXPECT_DOUBLE_EQ(a.lo, 0.001);
  EXPECT_DOUBLE_EQ(a.hi, 0.005);

  a = nice_axis(2.0, 2.0);  // one value: a range around it, still round
  EXPECT_LT(a.lo, 2.0);
  EXPECT_GT(a.hi, 2.0);
  EXPECT_GE(a.ticks.size(), 2u);

  a = nice_axis(-1.3, 0.4);
  EXPECT_EQ(a.step, 0.5);
  EXPECT_EQ(a.ticks.front(), -1.5);
  EXPECT_EQ(a.ticks.back(), 0.5);
}

TEST(NiceAxis, TickLabels) {
  EXPECT_EQ(tick_label(0.5, 1), "0.5");
  EXPECT_EQ(tick_label(3.0, 1), "3.0");
  EXPECT_EQ(tick_label(80.0, 0, true), "80%");
  EXPECT_EQ(tick_label(-0.0000001, 2), "0.00");
  EXPECT_EQ(tick_label(0.001, 3), "0.001");
}

TEST(EpochTicks, IntegersInOneTwoFiveSteps) {
  EXPECT_EQ(epoch_ticks(1, 3), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(epoch_ticks(1, 10), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(epoch_ticks(1, 14), (std::vector<int64_t>{2, 4, 6, 8, 10, 12, 14}));
  EXPECT_EQ(epoch_ticks(1, 30), (std::vector<int64_t>{5, 10, 15, 20, 25, 30}));
  EXPECT_EQ(epoch_ticks(1, 100), (std::vector<int64_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}));
  EXPECT_EQ(epoch_ticks(0.5, 1.5), (std::vector<int64_t>{1}));  // one epoch
  EXPECT_EQ(epoch_ticks(2.5, 4), (std::vector<int64_t>{3, 4}));  // a resume marker at 2.5
  EXPECT_EQ(epoch_ticks(1, 1000, 5).size(), 5u);
}

class ReportFiles : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("sepal_report_test_" + std::to_string(getpid()));
  void TearDown() override { fs::remove_all(dir); }
  std::string read(const std::string& name) {
    std::ifstream f(dir / name);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
};

TEST_F(ReportFiles, ResumesImagesAndSkipsReachHistoryAndReport) {
  sepal::checkpoint::TrainingMeta meta;
  meta.arch = "resnet18";
  meta.mode = "finetune";
  meta.num_classes = 3;
  meta.best_val_acc = 0.902778;
  meta.best_epoch = 2;
  for (int64_t e = 1; e <= 3; ++e) {
    meta.history.push_back({e, 1.0 / e, 0.3 * e, 1.2 / e, 0.3 * e, {1e-3, 1e-5}, 2.0});
    record_epoch_images(meta, e, 100);
  }
  add_resume_event(meta, {2, "merge", "merge", "resume plan (policy merge): merge\n  layer4: now trainable"});
  sepal::data::SkipTally tally = sepal::data::tally_skipped(
      412, {{"a", "empty file (0 bytes)"}, {"b", "truncated JPEG (no end-of-image marker)"}});
  record_skipped(meta, "valid", "valid/", tally);

  // the records survive a resume: carried into the next run's meta
  sepal::checkpoint::TrainingMeta next;
  carry_report_strings(meta, next);
  ASSERT_EQ(resume_events(next).size(), 1u);
  EXPECT_EQ(resume_events(next)[0].epoch, 2);
  EXPECT_EQ(resume_events(next)[0].policy, "merge");
  EXPECT_EQ(next.strings.count("skipped"), 0u);  // recounted by each run

  write_run_report(dir.string(), meta, "flowers: test");
  sepal::io::Json h = sepal::io::load_json((dir / "history.json").string());
  ASSERT_EQ(h.at("resumes").size(), 1u);
  EXPECT_EQ(h.at("resumes")[0].at("epoch").as_int(), 2);
  EXPECT_EQ(h.at("resumes")[0].at("policy").as_string(), "merge");
  EXPECT_EQ(h.at("resumes")[0].at("action").as_string(), "merge");
  const auto& valid = h.at("skipped").at("valid");
  EXPECT_EQ(valid.at("total").as_int(), 2);
  EXPECT_EQ(valid.at("files").as_int(), 412);
  EXPECT_EQ(valid.at("by_reason").at("truncated").as_int(), 1);
  EXPECT_EQ(h.at("epochs")[0].at("images").as_int(), 100);
  EXPECT_DOUBLE_EQ(h.at("epochs")[0].at("images_per_second").as_number(), 50.0);

  const std::string html = read("report.html");
  EXPECT_NE(html.find("90.3%"), std::string::npos);  // not 0.902778
  EXPECT_EQ(html.find("0.902778"), std::string::npos);
  EXPECT_NE(html.find("resumed: merge"), std::string::npos);  // the marker on the curves
  EXPECT_NE(html.find("layer4: now trainable"), std::string::npos);  // the plan
  EXPECT_NE(html.find("1 truncated"), std::string::npos);
  EXPECT_NE(html.find("images/s"), std::string::npos);
  EXPECT_NE(html.find("<td>50.0</td>"), std::string::npos);
  EXPECT_EQ(html.find("text-anchor=\"middle\">1.0<"), std::string::npos);  // integer epochs on the axis
  EXPECT_NE(html.find("text-anchor=\"middle\">3<"), std::string::npos);
  EXPECT_NE(html.find("stroke-dasharray"), std::string::npos);
  EXPECT_TRUE(fs::file_size(dir / "curves.png") > 0);
}

}  // namespace
}  // namespace flowers
