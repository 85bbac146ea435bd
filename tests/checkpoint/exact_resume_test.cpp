// exact_resume_test.cpp: training N epochs in one go and training k epochs, saving, loading into
// fresh objects and resuming for N-k give bit-identical weights, optimizer state and per-epoch
// metrics on the CPU. The run has a Generator-driven shuffle and dropout, Adam and StepLR, so
// every piece of state a resume must restore is exercised; a resume that skips the generators
// is shown to differ.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <numeric>

#include "checkpoint/resume.h"
#include "ckpt_test_util.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;

constexpr int64_t kSamples = 48, kFeatures = 6, kClasses = 3, kBatch = 8;

// Synthetic data: features from one generator, labels from a fixed rule with noise.
struct Data {
  std::vector<float> x;
  std::vector<int64_t> y;
  Data(uint64_t seed, int64_t n) {
    Generator g(seed);
    x = randn({n, kFeatures}, {}, &g).to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float s = x[i * kFeatures] + 0.5f * x[i * kFeatures + 1] - x[i * kFeatures + 2];
      y.push_back(s < -0.4f ? 0 : (s < 0.4f ? 1 : 2));
    }
  }
  std::pair<Tensor, Tensor> batch(const std::vector<int64_t>& rows) const {
    std::vector<float> bx;
    std::vector<int64_t> by;
    for (int64_t r : rows) {
      bx.insert(bx.end(), x.begin() + r * kFeatures, x.begin() + (r + 1) * kFeatures);
      by.push_back(y[r]);
    }
    const int64_t n = static_cast<int64_t>(rows.size());
    return {from_vector(bx, {n, kFeatures}), from_vector(by, {n})};
  }
};

// Loss sum and correct count of a batch's logits.
std::pair<double, int64_t> score(const Tensor& logits, const Tensor& y, const Tensor& loss) {
  std::vector<float> l = logits.to_vector<float>();
  std::vector<int64_t> t = y.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const float* row = &l[i * kClasses];
    correct += (std::max_element(row, row + kClasses) - row) == t[i];
  }
  return {loss.item<double>() * static_cast<double>(t.size()), correct};
}

struct TrainingRun {
  Generator init, shuffle{21}, drop{22};
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<optim::StepLR> sched;
  std::vector<ck::EpochRecord> history;
  int64_t epoch = 0;
  const Data& train;
  const Data& val;

  TrainingRun(uint64_t init_seed, const Data& train, const Data& val) : init(init_seed), train(train), val(val) {
    model = std::make_shared<nn::Sequential>(nn::ModuleList{
        std::make_shared<nn::Linear>(kFeatures, 16, true, &init), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Dropout>(0.3, &drop), std::make_shared<nn::Linear>(16, kClasses, true, &init)});
    opt = std::make_unique<optim::Adam>(model->named_parameters(), optim::AdamOptions(2e-2));
    sched = std::make_unique<optim::StepLR>(*opt, 2, 0.5);
  }

  void run_epoch() {
    std::vector<int64_t> order(kSamples);
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = kSamples - 1; i > 0; --i)  // Fisher-Yates with the shuffle generator
      std::swap(order[i], order[shuffle.next_below(static_cast<uint64_t>(i + 1))]);
    model->train();
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < kSamples; b += kBatch) {
      auto [x, y] = train.batch(std::vector<int64_t>(order.begin() + b, order.begin() + b + kBatch));
      opt->zero_grad();
      Tensor logits = model->forward(x);
      Tensor loss = cross_entropy(logits, y);
      loss.backward();
      opt->step();
      auto [l, c] = score(logits.detach(), y, loss.detach());
      loss_sum += l;
      correct += c;
    }
    model->eval();
    NoGradGuard no_grad;
    std::vector<int64_t> all(val.y.size());
    std::iota(all.begin(), all.end(), 0);
    auto [vx, vy] = val.batch(all);
    Tensor logits = model->forward(vx);
    auto [vl, vc] = score(logits, vy, cross_entropy(logits, vy));
    const double n = static_cast<double>(all.size());
    history.push_back({epoch + 1, loss_sum / kSamples, static_cast<double>(correct) / kSamples, vl / n,
                       static_cast<double>(vc) / n, {opt->lr(0)}, 0.0});
    sched->step();
    ++epoch;
  }

  ck::TrainingMeta meta() const {
    ck::TrainingMeta m;
    m.epoch = epoch;
    m.history = history;
    m.generators = {{"shuffle", {shuffle.seed(), shuffle.offset()}}, {"dropout", {drop.seed(), drop.offset()}}};
    return m;
  }
  void restore(const ck::TrainingMeta& m, bool generators = true) {
    epoch = m.epoch;
    history = m.history;
    if (!generators) return;
    shuffle.set_state(m.generators.at("shuffle").first, m.generators.at("shuffle").second);
    drop.set_state(m.generators.at("dropout").first, m.generators.at("dropout").second);
  }
};

class ExactResume : public ::testing::Test {
 protected:
  Data train{1, kSamples}, val{2, 24};
  std::string path = (std::filesystem::temp_directory_path() / ("sepal-exact-" + std::to_string(::getpid()) + ".sepal")).string();
  void TearDown() override { std::filesystem::remove(path); }

  // k epochs, save, fresh objects (other initial weights), load, resume for n - k epochs.
  std::unique_ptr<TrainingRun> resumed(int k, int n, bool restore_generators) {
    {
      TrainingRun first(5, train, val);
      for (int e = 0; e < k; ++e) first.run_epoch();
      ck::save_checkpoint(ck::capture(*first.model, first.opt.get(), first.sched.get(), first.meta()), path);
    }
    auto second = std::make_unique<TrainingRun>(6, train, val);
    ck::Checkpoint c = ck::load_checkpoint(path);
    ck::ResumePlan plan = ck::plan_resume(c, *second->model, *second->opt, second->sched.get(), ck::ResumePolicy::Auto);
    EXPECT_EQ(plan.action, ck::ResumeAction::Full) << plan.str();
    EXPECT_TRUE(plan.continues_run());
    ck::apply_resume(plan, c, *second->model, *second->opt, second->sched.get());
    second->restore(c.meta, restore_generators);
    for (int e = k; e < n; ++e) second->run_epoch();
    return second;
  }
};

TEST_F(ExactResume, KEpochsPlusResumeEqualsNEpochsBitForBit) {
  constexpr int kEpochs = 5;
  TrainingRun straight(5, train, val);
  for (int e = 0; e < kEpochs; ++e) straight.run_epoch();
  for (int k : {1, 3}) {
    SCOPED_TRACE("resumed after epoch " + std::to_string(k));
    std::unique_ptr<TrainingRun> r = resumed(k, kEpochs, true);
    EXPECT_TRUE(same_state(straight.model->state_dict(), r->model->state_dict()));
    ASSERT_EQ(r->history.size(), straight.history.size());
    for (size_t e = 0; e < straight.history.size(); ++e)
      EXPECT_TRUE(r->history[e] == straight.history[e]) << "epoch " << e + 1 << ": val_acc " << r->history[e].val_acc
                                                        << " vs " << straight.history[e].val_acc;
    for (const auto& [name, t] : straight.model->named_parameters()) {
      const optim::ParamState *a = straight.opt->state(name), *b = r->opt->state(name);
      ASSERT_TRUE(a && b) << name;
      EXPECT_EQ(a->step, b->step) << name;
      for (const char* buf : {"exp_avg", "exp_avg_sq"}) EXPECT_TRUE(same_bits(*a->find(buf), *b->find(buf))) << name;
    }
    EXPECT_EQ(r->opt->lr(0), straight.opt->lr(0));
    EXPECT_EQ(r->sched->last_epoch(), straight.sched->last_epoch());
    EXPECT_EQ(r->shuffle.offset(), straight.shuffle.offset());
    EXPECT_EQ(r->drop.offset(), straight.drop.offset());
  }
  // The learning rate did change during the run (StepLR), so the scheduler restore mattered.
  EXPECT_NE(straight.history.front().lrs, straight.history.back().lrs);
}

TEST_F(ExactResume, ForgettingTheGeneratorsChangesTheRun) {
  TrainingRun straight(5, train, val);
  for (int e = 0; e < 4; ++e) straight.run_epoch();
  std::unique_ptr<TrainingRun> r = resumed(2, 4, false);
  EXPECT_FALSE(same_state(straight.model->state_dict(), r->model->state_dict()));
}

}  // namespace
