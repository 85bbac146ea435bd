// dtype_device_test.cpp: dtype conversions, devices (parsing, the CPU no-op move, CUDA requests in
// builds or machines without CUDA), item(), and PyTorch-like printing.
#include <gtest/gtest.h>
#include <sepal.h>

#include <cmath>
#include <sstream>

namespace sepal {
namespace {

using F = std::vector<float>;
using I = std::vector<int64_t>;
using B = std::vector<uint8_t>;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- dtype ----

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::Float32), 4u);
  EXPECT_EQ(dtype_size(DType::Float64), 8u);
  EXPECT_EQ(dtype_size(DType::Int64), 8u);
  EXPECT_EQ(dtype_size(DType::UInt8), 1u);
  EXPECT_EQ(dtype_size(DType::Bool), 1u);
  EXPECT_STREQ(dtype_name(DType::Int64), "int64");
  EXPECT_STREQ(dtype_name(DType::Bool), "bool");
  EXPECT_TRUE(is_floating(DType::Float64));
  EXPECT_FALSE(is_floating(DType::Int64));
  EXPECT_EQ(ones({3}, DType::Float64).element_size(), 8u);
}

TEST(DType, FloatToInt64Truncates) {
  Tensor x = tensor({-1.7f, -0.2f, 0.9f, 2.5f, 3.99f, -3.0f});
  Tensor i = x.to(DType::Int64);
  EXPECT_EQ(i.dtype(), DType::Int64);
  EXPECT_EQ(i.to_vector<int64_t>(), (I{-1, 0, 0, 2, 3, -3}));
  // the strided source is read in logical order
  Tensor m = from_vector(F{1.5f, 2.5f, 3.5f, 4.5f}, {2, 2}).t();
  EXPECT_EQ(m.to(DType::Int64).to_vector<int64_t>(), (I{1, 3, 2, 4}));
}

TEST(DType, BoolConversions) {
  // any non-zero value is true
  Tensor b = tensor({0, 0.5f, -2, 0}).to(DType::Bool);
  EXPECT_EQ(b.dtype(), DType::Bool);
  EXPECT_EQ(b.to_vector<uint8_t>(), (B{0, 1, 1, 0}));
  EXPECT_EQ(b.to(DType::Float32).to_vector<float>(), (F{0, 1, 1, 0}));
  EXPECT_EQ(from_vector(I{0, 7, -1}, {3}).to(DType::Bool).to_vector<uint8_t>(), (B{0, 1, 1}));
  EXPECT_EQ(gt(tensor({1, 3}), 2.0).to(DType::Int64).to_vector<int64_t>(), (I{0, 1}));
}

TEST(DType, IntegerAndUInt8Conversions) {
  const int64_t big = (int64_t(1) << 40) + 3;
  EXPECT_EQ(from_vector(I{big, -5}, {2}).to(DType::Float64).to_vector<double>(),
            (std::vector<double>{static_cast<double>(big), -5.0}));
  Tensor u = from_vector(std::vector<uint8_t>{0, 200, 255}, {3});
  EXPECT_EQ(u.dtype(), DType::UInt8);
  EXPECT_EQ(u.to(DType::Float32).to_vector<float>(), (F{0, 200, 255}));
  EXPECT_EQ(tensor({1.25f}).to(DType::Float64).item(), 1.25);
}

TEST(DType, SameDTypeConversionIsTheSameTensor) {
  Tensor x = tensor({1, 2});
  EXPECT_TRUE(x.to(DType::Float32).same(x));
}

TEST(DType, DataPtrChecksTheType) {
  Tensor x = tensor({1, 2});
  EXPECT_NO_THROW(x.data_ptr<float>());
  EXPECT_THROW(x.data_ptr<double>(), DTypeError);
}

// ---- item ----

TEST(Item, SingleElementOnly) {
  EXPECT_EQ(scalar_tensor(2.5).item(), 2.5);
  EXPECT_EQ(from_vector(I{7}, {1, 1}).item<int64_t>(), 7);
  EXPECT_EQ(tensor({4.5f}).item<float>(), 4.5f);
  try {
    tensor({1, 2}).item();
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_TRUE(contains(e.what(), "item")) << e.what();
    EXPECT_TRUE(contains(e.what(), "[2]")) << e.what();
  }
  EXPECT_THROW(zeros({0}).item(), ShapeError);
}

// ---- devices ----

TEST(Device, ParseGoodStrings) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:0"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::parse("cuda:12").index, 12);
  EXPECT_EQ(Device::parse("auto"), Device::best());
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  EXPECT_NE(Device::cpu(), Device::cuda(0));
  EXPECT_NE(Device::cuda(0), Device::cuda(1));
}

TEST(Device, ParseBadStrings) {
  for (const char* bad : {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", " cpu", "cpu ",
                          "cuda0", "cuda:1a", "cuda:99999999999999999999"}) {
    try {
      Device::parse(bad);
      ADD_FAILURE() << "parsed '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "'" + std::string(bad) + "'")) << e.what();
    }
  }
}

TEST(Device, ToCpuIsANoOpSharingTheTensor) {
  Tensor x = tensor({1, 2, 3});
  EXPECT_TRUE(x.to(Device::cpu()).same(x));
  EXPECT_TRUE(x.cpu().same(x));
  EXPECT_EQ(x.device(), Device::cpu());
  EXPECT_EQ(x.device().str(), "cpu");
}

TEST(Device, CudaInABuildWithoutCuda) {
  if (built_with_cuda()) GTEST_SKIP() << "this build has CUDA support";
  EXPECT_EQ(cuda_device_count(), 0);
  EXPECT_FALSE(cuda_available());
  EXPECT_EQ(Device::best(), Device::cpu());
  EXPECT_EQ(Device::parse("auto"), Device::cpu());
  try {
    zeros({2}, Device::cuda());
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_TRUE(contains(e.what(), "built without CUDA support")) << e.what();
    EXPECT_TRUE(contains(e.what(), "cuda:0")) << e.what();
  }
  EXPECT_THROW(tensor({1, 2}).to(Device::cuda()), DeviceError);
  EXPECT_THROW(rand({2}, Device::cuda(1)), DeviceError);
}

TEST(Device, CudaBuildWithoutADevice) {
  if (!built_with_cuda()) GTEST_SKIP() << "built without CUDA";
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_EQ(Device::best(), Device::cpu());
  try {
    zeros({2}, Device::cuda());
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_TRUE(contains(e.what(), "not available")) << e.what();
  }
}

TEST(Device, CudaIndexPastTheLastDevice) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_EQ(Device::best(), Device::cuda(0));
  try {
    zeros({2}, Device::cuda(cuda_device_count()));
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    EXPECT_TRUE(contains(e.what(), "not available")) << e.what();
  }
}

// ---- printing ----

TEST(Printing, FloatVectors) {
  // every value an integer: "1." style; otherwise 4 decimals for all, padded to one width
  EXPECT_EQ(tensor({1, 2, 3}).str(), "tensor([1., 2., 3.])");
  EXPECT_EQ(tensor({1, 2.5f, -3}).str(), "tensor([ 1.0000,  2.5000, -3.0000])");
  EXPECT_EQ(tensor({1, -2}).str(), "tensor([ 1., -2.])");
  EXPECT_EQ(tensor({0.5f, 10.25f}).str(), "tensor([ 0.5000, 10.2500])");
  EXPECT_EQ(from_vector(std::vector<double>{0.5, 1.5}, {2}, DType::Float64).str(),
            "tensor([0.5000, 1.5000], dtype=float64)");
  // as in PyTorch, only finite non-zero values set the format and the width
  EXPECT_EQ(tensor({NAN, 1, -INFINITY}).str(), "tensor([nan, 1., -inf])");
  EXPECT_EQ(tensor({0, 25}).str(), "tensor([ 0., 25.])");
}

TEST(Printing, IntegersBoolsAndScalars) {
  EXPECT_EQ(from_vector(I{1, -2, 30}, {3}).str(), "tensor([ 1, -2, 30], dtype=int64)");
  EXPECT_EQ(arange(0, 3, 1, DType::Int64).str(), "tensor([0, 1, 2], dtype=int64)");
  EXPECT_EQ(gt(tensor({1, 3}), 2.0).str(), "tensor([False,  True], dtype=bool)");
  EXPECT_EQ(scalar_tensor(3.5).str(), "tensor(3.5000)");
  EXPECT_EQ(scalar_tensor(3).str(), "tensor(3.)");
  EXPECT_EQ(scalar_tensor(-4, DType::Int64).str(), "tensor(-4, dtype=int64)");
}

TEST(Printing, MatricesAndHigherDims) {
  EXPECT_EQ(arange(6).reshape({2, 3}).str(),
            "tensor([[0., 1., 2.],\n"
            "        [3., 4., 5.]])");
  EXPECT_EQ(from_vector(I{1, -10, 100, 2}, {2, 2}).str(),
            "tensor([[  1, -10],\n"
            "        [100,   2]], dtype=int64)");
  // 3-D: a blank line between the 2-D blocks, as PyTorch prints them
  EXPECT_EQ(arange(8).reshape({2, 2, 2}).str(),
            "tensor([[[0., 1.],\n"
            "         [2., 3.]],\n"
            "\n"
            "        [[4., 5.],\n"
            "         [6., 7.]]])");
  // a strided tensor prints its logical values
  EXPECT_EQ(arange(4).reshape({2, 2}).t().str(),
            "tensor([[0., 2.],\n"
            "        [1., 3.]])");
}

TEST(Printing, EmptyLongAndGradTensors) {
  EXPECT_EQ(zeros({0}).str(), "tensor([])");
  EXPECT_EQ(zeros({2, 0}).str(), "tensor([], size=(2, 0))");
  // up to 1000 elements everything is printed, as in PyTorch
  EXPECT_EQ(arange(10, DType::Int64).str(), "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=int64)");
  EXPECT_EQ(arange(2000, DType::Int64).str(),
            "tensor([   0,    1,    2,  ..., 1997, 1998, 1999], dtype=int64)");
  EXPECT_EQ(ones({2}, TensorOptions().requires_grad()).str(), "tensor([1., 1.], requires_grad=True)");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  std::ostringstream os;
  os << tensor({1, 2});
  EXPECT_EQ(os.str(), "tensor([1., 2.])");
}

}  // namespace
}  // namespace sepal
