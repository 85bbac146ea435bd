// data_parallel_test.cpp: data-parallel training equals single-process training. Every rank
// trains a reference model on the whole global batch with the single-process communicator, and
// the data-parallel model on its shard (the DataLoader's split rule); after 10 Adam or SGD steps
// the parameters agree within 1e-5 relative, in the BatchNorm modes where that must hold (frozen,
// eval, sync), and differ visibly with local BatchNorm in training (so the comparison can fail).
// After every step the parameters are bitwise identical on all ranks. Uneven shards, an empty
// rank and a "skipped" sample (a smaller global batch) behave like one process.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "common/expect_error.h"
#include "dist/data_parallel.h"
#include "dist_test_util.h"
#include "sepal.h"

namespace sepal {
namespace {

using testing::test_comm;

std::shared_ptr<nn::Sequential> small_net(bool frozen_backbone) {
  Generator gen(7);
  auto backbone = std::make_shared<nn::Sequential>(nn::ModuleList{
      std::make_shared<nn::Conv2d>(3, 6, 3, 1, 1, false, &gen), std::make_shared<nn::BatchNorm2d>(6),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Conv2d>(6, 8, 3, 2, 1, false, &gen),
      std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{1, 1}), std::make_shared<nn::Flatten>()});
  if (frozen_backbone) backbone->requires_grad_(false);
  auto net = std::make_shared<nn::Sequential>(nn::ModuleList{
      backbone, std::make_shared<nn::Linear>(8, 5, true, &gen), std::make_shared<nn::LogSoftmax>(1)});
  return net;
}

enum class BnMode { Frozen, Eval, Sync, LocalTrain };

// Shard `rank` of a batch of n samples among `size`: [begin, end) (the DataLoader's rule).
std::pair<int64_t, int64_t> shard(int64_t n, int rank, int size) {
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

struct TrainedNet {
  std::shared_ptr<nn::Sequential> net;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<dist::DataParallel> dp;
};

TrainedNet make_run(dist::Communicator& comm, BnMode mode, bool adam) {
  TrainedNet r;
  r.net = small_net(mode == BnMode::Frozen);
  if (mode == BnMode::Frozen) {
    r.net->train();
    r.net->child("0")->eval();  // feature extraction: the frozen backbone's BatchNorm uses its running statistics
  } else {
    r.net->train(mode != BnMode::Eval);
  }
  nn::NamedTensors trainable;
  for (auto& [name, p] : r.net->named_parameters())
    if (p.requires_grad()) trainable.emplace_back(name, p);
  if (adam) r.opt = std::make_unique<optim::Adam>(trainable, optim::AdamOptions(1e-2));
  else r.opt = std::make_unique<optim::SGD>(trainable, optim::SGDOptions(0.1).momentum(0.9));
  dist::DataParallelOptions o;
  o.sync_bn = mode == BnMode::Sync;
  o.buckets.first_bucket_mb = 1e-4;  // several buckets even for this small model
  o.buckets.bucket_mb = 2e-4;
  r.dp = std::make_unique<dist::DataParallel>(comm, *r.net, o);
  return r;
}

// One training step of `run` on rows [begin, end) of (x, y).
void step(TrainedNet& run, const Tensor& x, const Tensor& y, int64_t begin, int64_t end) {
  run.dp->before_forward();
  Tensor loss_sum;
  int64_t correct = 0;
  const int64_t n = end - begin;
  if (n > 0) {
    const Tensor out = (*run.net)(x.narrow(0, begin, n));
    loss_sum = nll_loss(out, y.narrow(0, begin, n), Reduction::Sum);
    correct = nn::count_correct(out.detach(), y.narrow(0, begin, n));
  } else if (run.dp->sync_bn()) {  // a placeholder batch joins the BatchNorm collectives
    run.dp->placeholder_batch(true);
    loss_sum = nll_loss((*run.net)(zeros({1, x.size(1), x.size(2), x.size(3)})), zeros({1}, DType::Int64),
                        Reduction::Sum) * 0.0;
    run.dp->placeholder_batch(false);
  }
  const dist::StepTotals t = run.dp->backward(loss_sum, n, correct, false);
  ASSERT_FALSE(t.non_finite);
  // a rank that ran backward started every bucket before backward ended (overlap)
  if (const dist::GradientReducer* r = run.dp->reducer(); r && loss_sum.defined() && n > 0)
    EXPECT_EQ(r->last_overlapped_buckets(), r->num_buckets());
  if (t.stepped) run.opt->step();
  run.opt->zero_grad();
}

double max_relative_difference(nn::Module& a, nn::Module& b) {
  double diff = 0, scale = 0;
  const nn::NamedTensors pa = a.named_parameters(), pb = b.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    const std::vector<double> va = pa[i].second.to(DType::Float64).to_vector<double>();
    const std::vector<double> vb = pb[i].second.to(DType::Float64).to_vector<double>();
    for (size_t k = 0; k < va.size(); ++k) {
      diff = std::max(diff, std::abs(va[k] - vb[k]));
      scale = std::max(scale, std::abs(vb[k]));
    }
  }
  return diff / scale;
}

// Every rank's parameters, bit for bit, equal rank 0's.
void expect_bitwise_same_on_all_ranks(dist::Communicator& comm, nn::Module& net, int step) {
  for (const auto& [name, p] : net.named_parameters()) {
    Tensor root = p.clone();
    comm.broadcast(root, 0);
    const int differs = std::memcmp(root.raw_data(), p.contiguous().raw_data(), p.numel() * p.element_size()) != 0;
    std::vector<double> any{static_cast<double>(differs)};
    comm.all_reduce_host(any);
    ASSERT_EQ(any[0], 0) << name << " differs between ranks after step " << step;
  }
}

// Trains the reference (one process, whole batches) and the data-parallel run (shards) on the
// same batches of the given sizes; returns the final max relative parameter difference.
using Splitter = std::function<std::pair<int64_t, int64_t>(int64_t n, int rank, int size)>;

double train_both(BnMode mode, bool adam, const std::vector<int64_t>& batch_sizes, const Splitter& split = shard) {
  dist::Communicator& comm = test_comm();
  auto single = dist::make_single_process();
  TrainedNet ref = make_run(*single, mode, adam), dp = make_run(comm, mode, adam);
  for (size_t t = 0; t < batch_sizes.size(); ++t) {
    Generator gen(100 + t);
    const int64_t n = batch_sizes[t];
    const Tensor x = randn({n, 3, 6, 6}, {}, &gen) * 2.0 + 0.5;
    const Tensor y = (rand({n}, {}, &gen) * 4.999).to(DType::Int64);
    step(ref, x, y, 0, n);
    const auto [begin, end] = split(n, comm.rank(), comm.size());
    step(dp, x, y, begin, end);
    expect_bitwise_same_on_all_ranks(comm, *dp.net, static_cast<int>(t) + 1);
  }
  return max_relative_difference(*dp.net, *ref.net);
}

const std::vector<int64_t> kTenBatches(10, 8);

TEST(DataParallel, AdamWithFrozenBatchNormMatchesOneProcess) {
  EXPECT_LT(train_both(BnMode::Frozen, true, kTenBatches), 1e-5);
}
TEST(DataParallel, SgdWithFrozenBatchNormMatchesOneProcess) {
  EXPECT_LT(train_both(BnMode::Frozen, false, kTenBatches), 1e-5);
}
TEST(DataParallel, AdamInEvalModeMatchesOneProcess) { EXPECT_LT(train_both(BnMode::Eval, true, kTenBatches), 1e-5); }
TEST(DataParallel, SgdInEvalModeMatchesOneProcess) { EXPECT_LT(train_both(BnMode::Eval, false, kTenBatches), 1e-5); }
TEST(DataParallel, AdamWithSyncBatchNormMatchesOneProcess) {
  EXPECT_LT(train_both(BnMode::Sync, true, kTenBatches), 1e-5);
}
TEST(DataParallel, SgdWithSyncBatchNormMatchesOneProcess) {
  EXPECT_LT(train_both(BnMode::Sync, false, kTenBatches), 1e-5);
}
TEST(DataParallel, LocalBatchNormInTrainingDiffersFromOneProcess) {
  const double d = train_both(BnMode::LocalTrain, true, kTenBatches);
  if (test_comm().size() == 1) EXPECT_LT(d, 1e-6);
  else EXPECT_GT(d, 1e-3) << "local batch statistics should make 2 ranks differ from one process";
}
// 5 = 3 + 2 (uneven), then 1 = 1 + 0 (rank 1 empty), then 7 (a sample "skipped" from a batch of 8)
TEST(DataParallel, UnevenEmptyAndShortBatchesMatchOneProcess) {
  const std::vector<int64_t> sizes{8, 5, 8, 1, 7, 8};
  EXPECT_LT(train_both(BnMode::Frozen, true, sizes), 1e-5);
  EXPECT_LT(train_both(BnMode::Eval, false, sizes), 1e-5);
}
TEST(DataParallel, SyncBatchNormWithAnEmptyRankMatchesOneProcess) {
  const std::vector<int64_t> sizes{8, 5, 3, 7};  // 3 = 2 + 1: BatchNorm still sees 3 samples in all
  EXPECT_LT(train_both(BnMode::Sync, true, sizes), 1e-5);
  // rank 0 holds every sample (the others' were all skipped): the others run placeholder batches
  const Splitter all_on_rank0 = [](int64_t n, int rank, int) { return std::pair<int64_t, int64_t>{0, rank == 0 ? n : 0}; };
  EXPECT_LT(train_both(BnMode::Sync, true, sizes, all_on_rank0), 1e-5);
}

TEST(DataParallel, StopAndNonFiniteFlagsReachEveryRank) {
  dist::Communicator& comm = test_comm();
  TrainedNet run = make_run(comm, BnMode::Eval, true);
  const Tensor x = ones({2, 3, 6, 6});
  const Tensor out = (*run.net)(x);
  Tensor loss = nll_loss(out, zeros({2}, DType::Int64), Reduction::Sum);
  if (comm.rank() == comm.size() - 1) loss = loss * std::numeric_limits<double>::quiet_NaN();
  const dist::StepTotals t = run.dp->backward(loss, 2, 0, comm.rank() == 0);
  EXPECT_TRUE(t.non_finite);
  EXPECT_TRUE(t.stop);
  EXPECT_FALSE(t.stepped);
  EXPECT_EQ(t.count, 2 * comm.size());
}

TEST(DataParallel, RanksCheckTheirModelsAgree) {
  dist::Communicator& comm = test_comm();
  if (comm.size() == 1) GTEST_SKIP() << "needs two ranks";
  auto net = small_net(false);
  if (comm.rank() == 1) net->child("0")->child("0")->requires_grad_(false);
  sepal::testing::expect_error_containing([&] { dist::DataParallel dp(comm, *net); },
                                          "entry 1 is 'parameter 0.0.weight [6, 3, 3, 3]' on rank 0 but "
                                          "'parameter 0.0.weight [6, 3, 3, 3] frozen' on rank 1");
}

TEST(DataParallel, StartsFromRankZerosWeights) {
  dist::Communicator& comm = test_comm();
  auto net = small_net(false);
  {
    NoGradGuard no_grad;
    for (auto& [name, p] : net->named_parameters()) p.add_(full(p.shape(), comm.rank()));
  }
  dist::DataParallel dp(comm, *net);
  auto reference = small_net(false);
  EXPECT_EQ(max_relative_difference(*net, *reference), 0.0);
}

TEST(GradientReducer, BucketsFollowReverseRegistrationOrder) {
  auto net = small_net(false);
  dist::ReducerOptions o;
  o.first_bucket_mb = 100.0 / (1024 * 1024);  // the head's 45 floats, then
  o.bucket_mb = 1000.0 / (1024 * 1024);
  dist::GradientReducer reducer(test_comm(), net->named_parameters(), o);
  const auto names = reducer.bucket_names();
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[0].front(), "1.bias");
  EXPECT_EQ(names.back().back(), "0.0.weight");
  EXPECT_EQ(reducer.bytes_per_step(), net->num_parameters(true) * 4);
}

// On any communicator the reducer hands back, in each .grad, the sum over the ranks of the
// gradients (one rank: the gradients themselves), step after step, parameters without a gradient
// (a branch not taken) receiving zeros.
TEST(GradientReducer, WritesTheSummedGradientsBack) {
  dist::Communicator& comm = test_comm();
  auto net = small_net(false);
  auto reference = small_net(false);
  dist::ReducerOptions o;
  o.first_bucket_mb = 1e-4;
  o.bucket_mb = 3e-4;
  dist::GradientReducer reducer(comm, net->named_parameters(), o);
  for (int step = 0; step < 3; ++step) {
    Generator gen(50 + step);
    const Tensor x = randn({4, 3, 6, 6}, {}, &gen);
    (*net)(x).sum().backward();
    (*reference)(x).sum().backward();
    // every bucket started during backward: its last gradient arrived before backward ended
    EXPECT_EQ(reducer.buckets_started(), reducer.num_buckets());
    reducer.finish();
    EXPECT_EQ(reducer.buckets_started(), 0u);
    const nn::NamedTensors a = net->named_parameters(), b = reference->named_parameters();
    for (size_t i = 0; i < a.size(); ++i) {
      const std::vector<float> got = a[i].second.grad().to_vector<float>();
      const std::vector<float> one = b[i].second.grad().to_vector<float>();
      for (size_t k = 0; k < got.size(); ++k)
        ASSERT_NEAR(got[k], one[k] * comm.size(), 1e-5 * (1 + std::abs(one[k]) * comm.size())) << a[i].first;
    }
    net->zero_grad();
    reference->zero_grad();
  }
  // no backward at all: every gradient becomes zeros
  reducer.finish();
  for (const auto& [name, p] : net->named_parameters())
    EXPECT_EQ(p.grad().abs().sum().item<double>(), 0.0) << name;
  EXPECT_GE(reducer.last_exposed_seconds(), 0.0);
}

}  // namespace
}  // namespace sepal

namespace sepal {
namespace {
// SyncBatchNorm over one process is BatchNorm2d: the forward bit for bit (the statistics rounded
// and applied in the kernel's order), the gradients and running statistics within float rounding.
TEST(SyncBatchNorm, OnOneProcessEqualsTheBatchNormKernel) {
  for (bool channels_last : {false, true}) {
    Generator gen(3);
    Tensor x = randn({6, 5, 7, 9}, {}, &gen) * 3.0 + 1.5;
    if (channels_last) x = x.contiguous(MemoryFormat::ChannelsLast);
    nn::BatchNorm2d plain(5), synced(5);
    {
      NoGradGuard no_grad;
      for (nn::BatchNorm2d* bn : {&plain, &synced}) {
        bn->weight.copy_(from_vector(std::vector<float>{0.5f, 1.5f, -1.0f, 2.0f, 1.0f}, {5}));
        bn->bias.copy_(from_vector(std::vector<float>{0.1f, -0.2f, 0.3f, 0.0f, 1.0f}, {5}));
      }
    }
    auto single = dist::make_single_process();
    synced.sync = std::make_shared<dist::SyncBatchNorm>(*single);
    Tensor xa = x.detach().requires_grad_(), xb = x.detach().requires_grad_();
    const Tensor ya = plain(xa), yb = synced(xb);
    const Tensor dy = randn(ya.shape(), {}, &gen);
    (ya * dy).sum().backward();
    (yb * dy).sum().backward();
    {
      const auto va = ya.contiguous().to_vector<float>(), vb = yb.contiguous().to_vector<float>();
      int64_t differ = 0;
      double worst = 0;
      for (size_t i = 0; i < va.size(); ++i)
        if (va[i] != vb[i]) {
          ++differ;
          worst = std::max(worst, std::abs(static_cast<double>(va[i]) - vb[i]) / std::abs(static_cast<double>(va[i])));
        }
      EXPECT_EQ(differ, 0) << "of " << va.size() << " outputs differ (channels_last " << channels_last
                           << "), worst relative " << worst;
    }
    auto close = [](const Tensor& a, const Tensor& b, double tol) {
      const auto va = a.to(DType::Float64).contiguous().to_vector<double>();
      const auto vb = b.to(DType::Float64).contiguous().to_vector<double>();
      double d = 0, m = 0;
      for (size_t i = 0; i < va.size(); ++i) {
        d = std::max(d, std::abs(va[i] - vb[i]));
        m = std::max(m, std::abs(vb[i]));
      }
      return d <= tol * m;
    };
    EXPECT_TRUE(close(xa.grad(), xb.grad(), 1e-5));
    EXPECT_TRUE(close(plain.weight.grad(), synced.weight.grad(), 1e-5));
    EXPECT_TRUE(close(plain.bias.grad(), synced.bias.grad(), 1e-6));
    EXPECT_TRUE(close(plain.running_mean, synced.running_mean, 1e-6));
    EXPECT_TRUE(close(plain.running_var, synced.running_var, 1e-6));
  }
}
}  // namespace
}  // namespace sepal
