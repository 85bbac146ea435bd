// errors_test.cpp: CUDA error reporting. Ops mixing devices throw DeviceError naming the op and
// both devices; a missing device is a clear DeviceError; explicit copies across devices work;
// nll_loss marks an out-of-range CUDA target with NaN instead of synchronising to check it.
#include <gtest/gtest.h>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

// Runs fn, expects a DeviceError, and checks that its message names every word in `words`.
template <typename Fn>
void expect_device_error(Fn fn, std::initializer_list<const char*> words) {
  try {
    fn();
    ADD_FAILURE() << "no DeviceError thrown";
  } catch (const DeviceError& e) {
    const std::string msg = e.what();
    for (const char* w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' missing from: " << msg;
  }
}

TEST(CudaErrors, MixingDevicesNamesTheOpAndBothDevices) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor c = randn({2, 3});
  Tensor g = randn({2, 3}, TensorOptions().device(gpu()));
  expect_device_error([&] { (void)(c + g); }, {"add", "cpu", "cuda:0"});
  expect_device_error([&] { (void)(g * c); }, {"mul", "cpu", "cuda:0"});
  expect_device_error([&] { (void)maximum(c, g); }, {"maximum", "cpu", "cuda:0"});
  expect_device_error([&] { (void)matmul(c, raw::transpose(g, 0, 1)); }, {"matmul", "cpu", "cuda:0"});
  expect_device_error([&] { (void)lt(g, c); }, {"lt", "cpu", "cuda:0"});
  expect_device_error([&] { (void)where(gt(c, 0.0), g, g); }, {"where", "cpu", "cuda:0"});
}

TEST(CudaErrors, MissingDeviceIsAClearError) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int count = cuda_device_count();
  const std::string name = "cuda:" + std::to_string(count);
  expect_device_error([&] { (void)zeros({2}, TensorOptions().device(Device::cuda(count))); },
                      {name.c_str(), "not available"});
}

// nll_loss does not read a CUDA target back to check it (that would synchronise every batch):
// an out-of-range target makes its row's loss NaN; the valid rows match the CPU bit for bit.
TEST(CudaErrors, NllLossOutOfRangeTargetIsNaNNotASync) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor logp = log_softmax(randn({3, 4}), 1);
  Tensor target = from_vector<int64_t>({1, 4, 2}, {3});
  std::vector<float> rows = nll_loss(logp.to(gpu()), target.to(gpu()), Reduction::None).cpu().to_vector<float>();
  std::vector<float> cpu = nll_loss(logp, from_vector<int64_t>({1, 0, 2}, {3}), Reduction::None).to_vector<float>();
  EXPECT_EQ(rows[0], cpu[0]);
  EXPECT_TRUE(std::isnan(rows[1]));
  EXPECT_EQ(rows[2], cpu[2]);
  EXPECT_TRUE(std::isnan(nll_loss(logp.to(gpu()), from_vector<int64_t>({-1, 0, 0}, {3}).to(gpu())).item()));
  EXPECT_THROW(nll_loss(logp, target), IndexError);  // the CPU still checks on the host
}

TEST(CudaErrors, ExplicitCopiesAcrossDevicesAreAllowed) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor c = randn({2, 3});
  Tensor g = randn({2, 3}, TensorOptions().device(gpu()));
  Tensor sum = c.to(gpu()) + g;
  EXPECT_EQ(sum.device(), gpu());
  EXPECT_TRUE(all_close(c + g.to(Device::cpu()), sum, 0, 0));
  EXPECT_EQ(Device::best(), gpu());
  EXPECT_NO_THROW(backend_for(gpu()).synchronize());
}

}  // namespace
}  // namespace sepal::testing
