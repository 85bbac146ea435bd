// from_blob_test.cpp: tensors over outside CPU memory: no copy (writes through the tensor reach
// the buffer and the other way round), the typed-span form, the deleter's timing, gradients that
// never alias the caller's buffer, and clear errors for size, dtype, alignment and device.
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <span>
#include <vector>

#include <sepal.h>

namespace sepal::testing {
namespace {

// Whether `f` throws a sepal::Error whose message holds every fragment (it prints the message).
::testing::AssertionResult fails_with(const std::function<void()>& f, std::initializer_list<const char*> fragments) {
  std::string what;
  try {
    f();
    return ::testing::AssertionFailure() << "no error thrown";
  } catch (const Error& e) {
    what = e.what();
  }
  for (const char* s : fragments)
    if (what.find(s) == std::string::npos) return ::testing::AssertionFailure() << "'" << s << "' not in: " << what;
  return ::testing::AssertionSuccess();
}

TEST(FromBlob, WrapsTheBufferWithoutCopying) {
  float buf[6] = {0, 1, 2, 3, 4, 5};
  Tensor t = from_blob(buf, {2, 3});
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.data_ptr<float>(), buf);
  // Writes through the tensor (and a view of it) are seen in the buffer...
  t.mul_(2.0);
  t.select(0, 1).fill_(-1.0);
  EXPECT_EQ(std::vector<float>(buf, buf + 6), (std::vector<float>{0, 2, 4, -1, -1, -1}));
  // ...and writes to the buffer in the tensor.
  buf[0] = 42;
  EXPECT_EQ(t.to_vector<float>()[0], 42.0f);
}

TEST(FromBlob, TypedSpanTakesItsDtypeAndChecksItsSize) {
  std::vector<double> v = {1, 2, 3, 4};
  Tensor t = from_blob(std::span<double>(v), {2, 2});
  EXPECT_EQ(t.dtype(), DType::Float64);
  EXPECT_EQ(t.data_ptr<double>(), v.data());
  std::vector<int64_t> ids = {7, 8, 9};
  EXPECT_EQ(from_blob(std::span<int64_t>(ids), {3}).to_vector<int64_t>(), ids);
  EXPECT_TRUE(fails_with([&] { from_blob(std::span<double>(v), {5}); }, {"from_blob", "4 values", "[5]"}));
  EXPECT_TRUE(fails_with([&] { from_blob(std::span<double>(v), {2, 2}, TensorOptions(DType::Float32)); },
                         {"from_blob", "holds float64", "float32"}));
  EXPECT_THROW(from_blob(std::span<double>(v), {2, 2}, TensorOptions(DType::Float32)), DTypeError);
  EXPECT_THROW(from_blob(std::span<double>(v), {3}), ShapeError);
}

TEST(FromBlob, BadArgumentsAreClearErrors) {
  alignas(8) unsigned char bytes[64] = {};
  EXPECT_TRUE(fails_with([&] { from_blob(bytes, {-1, 2}); }, {"from_blob", "negative"}));
  EXPECT_TRUE(fails_with([&] { from_blob(nullptr, {2}); }, {"from_blob", "null"}));
  EXPECT_NO_THROW(from_blob(nullptr, {0}));  // nothing to point at
  EXPECT_TRUE(
      fails_with([&] { from_blob(bytes + 4, {2}, TensorOptions(DType::Float64)); }, {"from_blob", "aligned", "float64"}));
  EXPECT_TRUE(fails_with([&] { from_blob(bytes, {2}, TensorOptions(Device::cuda(0))); }, {"from_blob", "CPU"}));
  EXPECT_THROW(from_blob(bytes, {2}, TensorOptions(Device::cuda(0))), DeviceError);
}

TEST(FromBlob, TheDeleterRunsOnceWhenTheLastTensorOverTheBufferGoes) {
  int calls = 0;
  void* seen = nullptr;
  auto* buf = new float[4]{1, 2, 3, 4};
  {
    Tensor view;
    {
      Tensor t = from_blob(buf, {4}, {}, [&](void* p) {
        ++calls;
        seen = p;
        delete[] static_cast<float*>(p);
      });
      view = t.reshape({2, 2});
    }
    EXPECT_EQ(calls, 0);  // the view still uses it
    EXPECT_EQ(view.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, buf);
  // Without a deleter the buffer is the caller's: nothing is freed.
  float stack[2] = {1, 2};
  { Tensor t = from_blob(stack, {2}); }
  EXPECT_EQ(stack[1], 2.0f);
}

TEST(FromBlob, GradientsAndResultsNeverAliasTheBuffer) {
  float xs[3] = {1, 2, 3}, gs[3] = {1, 1, 1};
  Tensor x = from_blob(xs, {3}, TensorOptions().requires_grad(true));
  Tensor y = (x * x).sum();
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 4, 6}));
  // A gradient handed over as a temporary outside buffer is copied into the leaf, not adopted.
  Tensor leaf = zeros({3}, TensorOptions().requires_grad(true));
  leaf.backward(from_blob(gs, {3}));
  gs[0] = 99;
  EXPECT_EQ(leaf.grad().to_vector<float>(), (std::vector<float>{1, 1, 1}));
}

}  // namespace
}  // namespace sepal::testing
