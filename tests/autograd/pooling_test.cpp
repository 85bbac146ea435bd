// pooling_test.cpp: max_pool2d and adaptive_avg_pool2d on the CPU against hand-derived values:
// padding that never wins, the recorded indices, overlapping windows in the backward pass, NaN,
// ceil_mode output sizes (PyTorch's rule), overlapping adaptive windows, and the argument errors.
// (Gradients against finite differences: tests/autograd; CUDA against the CPU: tests/cuda.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <sepal.h>

#include "autograd/nn_functions.h"
#include "tensor/kernels/norm_pool.h"
#include "common/expect_error.h"

namespace sepal {
namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
std::vector<int64_t> ints(const Tensor& t) { return t.to_vector<int64_t>(); }

using testing::expect_error_containing;

// [1, 1, H, W] holding start, start + step, ... in row-major order.
Tensor ramp(int64_t H, int64_t W, double start, double step, DType dtype = DType::Float32) {
  return arange(start, start + step * static_cast<double>(H * W) - step / 2, step, dtype).reshape({1, 1, H, W});
}

class PoolBothDtypes : public ::testing::TestWithParam<DType> {};

// x = -[[1, 2, 3], [4, 5, 6], [7, 8, 9]], kernel 2, stride 2, padding 1 -> 2x2 output:
//   (0,0): rows -1..0, cols -1..0 -> only x(0,0) = -1 (index 0)
//   (0,1): rows -1..0, cols 1..2  -> max(-2, -3) = -2 (index 1)
//   (1,0): rows 1..2,  cols -1..0 -> max(-4, -7) = -4 (index 3)
//   (1,1): rows 1..2,  cols 1..2  -> max(-5, -6, -8, -9) = -5 (index 4)
// Zero padding would have given 0 in every cell.
TEST_P(PoolBothDtypes, MaxPoolPaddingNeverWinsAndIndicesArePlanePositions) {
  auto [y, idx] = max_pool2d_with_indices(ramp(3, 3, -1, -1, GetParam()), {{2, 2}, {2, 2}, {1, 1}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(idx.dtype(), DType::Int64);
  EXPECT_EQ(values(y), (std::vector<double>{-1, -2, -4, -5}));
  EXPECT_EQ(ints(idx), (std::vector<int64_t>{0, 1, 3, 4}));
}

// The ResNet stem window (3x3, stride 2, padding 1) on the 4x4 ramp 1..16 -> 2x2: each window's
// maximum is its bottom-right valid element: 6 (index 5), 8 (7), 14 (13), 16 (15).
TEST_P(PoolBothDtypes, MaxPoolStemWindow) {
  auto [y, idx] = max_pool2d_with_indices(ramp(4, 4, 1, 1, GetParam()), {{3, 3}, {2, 2}, {1, 1}});
  EXPECT_EQ(values(y), (std::vector<double>{6, 8, 14, 16}));
  EXPECT_EQ(ints(idx), (std::vector<int64_t>{5, 7, 13, 15}));
}

// 3x3 kernel, stride 1, padding 1 over the 3x3 ramp 1..9: the nine windows pick 5, 6, 6 / 8, 9, 9
// / 8, 9, 9, so for L = sum(y) the gradient is 1 at 5, 2 at 6, 2 at 8 and 4 at 9 (overlapping
// windows accumulate).
TEST_P(PoolBothDtypes, MaxPoolBackwardAccumulatesOverlappingWindows) {
  Tensor x = ramp(3, 3, 1, 1, GetParam()).requires_grad_(true);
  Tensor y = max_pool2d(x, {{3, 3}, {1, 1}, {1, 1}});
  EXPECT_EQ(values(y), (std::vector<double>{5, 6, 6, 8, 9, 9, 8, 9, 9}));
  y.sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0, 0, 0, 1, 2, 0, 2, 4}));
}

// x[i, j] = 5 i + j over 5x5 pooled to 2x2: windows [0, 3) and [2, 5) along each dim (floor(0) to
// ceil(5/2) = 3, floor(5/2) = 2 to 5), overlapping in row/column 2. The mean of 5 i + j over rows
// 0..2 and columns 0..2 is 5 * 1 + 1 = 6; the others are 8, 16, 18.
// Backward of sum(y): each window spreads 1/9; position (2, 2) is in all four windows (4/9), the
// rest of row/column 2 in two (2/9), the others in one (1/9).
TEST_P(PoolBothDtypes, AdaptiveAveragePoolOverlappingWindows) {
  Tensor x = ramp(5, 5, 0, 1, GetParam()).requires_grad_(true);
  Tensor y = adaptive_avg_pool2d(x, {2, 2});
  std::vector<double> v = values(y), expected{6, 8, 16, 18};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(v[i], expected[i], 1e-5);
  y.sum().backward();
  std::vector<double> g = values(x.grad());
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      const double windows = (i == 2 ? 2 : 1) * (j == 2 ? 2 : 1);
      EXPECT_NEAR(g[i * 5 + j], windows / 9.0, 1e-6) << i << ", " << j;
    }
}

// Global pooling (the ResNet head): the plane mean; gradient 1 / (H W) everywhere.
TEST_P(PoolBothDtypes, AdaptiveAveragePoolToOneByOne) {
  Tensor x = ramp(3, 4, 1, 1, GetParam()).expand({2, 3, 3, 4}).contiguous().requires_grad_(true);
  Tensor y = adaptive_avg_pool2d(x, {1, 1});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 1, 1}));
  for (double v : values(y)) EXPECT_NEAR(v, 6.5, 1e-6);  // mean of 1..12
  y.sum().backward();
  for (double g : values(x.grad())) EXPECT_NEAR(g, 1.0 / 12.0, 1e-7);
}

// Output size equal to the input's (the 32 px ResNet's 1x1 head): every window is one element, so
// the output is the input and the gradient passes through unchanged.
TEST_P(PoolBothDtypes, AdaptiveAveragePoolToTheInputSizeIsTheIdentity) {
  Tensor x = ramp(2, 3, -2, 0.5, GetParam()).expand({2, 2, 2, 3}).contiguous().requires_grad_(true);
  Tensor y = adaptive_avg_pool2d(x, {2, 3});
  EXPECT_EQ(values(y), values(x));
  Tensor g = ramp(2, 3, 1, 1, GetParam()).expand({2, 2, 2, 3}).contiguous();
  (y * g).sum().backward();
  EXPECT_EQ(values(x.grad()), values(g));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PoolBothDtypes, ::testing::Values(DType::Float32, DType::Float64),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); });

// NaN propagates (the last NaN of a window is its index, as in PyTorch); ties keep the first.
TEST(MaxPool, NanPropagatesAndTiesKeepTheFirstPosition) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = from_vector<double>({1, nan, 3, 4, nan, 6, 0, 0, 0}, {1, 1, 3, 3});
  auto [y, idx] = max_pool2d_with_indices(x, {{2, 2}, {1, 1}});
  for (double v : values(y)) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(ints(idx), (std::vector<int64_t>{4, 4, 4, 4}));
  auto [t, tidx] = max_pool2d_with_indices(full({1, 1, 3, 3}, 2.0), {{2, 2}, {1, 1}});
  EXPECT_EQ(ints(tidx), (std::vector<int64_t>{0, 1, 3, 4}));
}

// Pools `v` (an [N, C, H, W] plane set) with `o` in both dtypes and checks every value and index
// against the scalar per-cell window (kernels::max_pool_cell); reports at most 3 mismatches.
void expect_matches_the_per_cell_window(const std::vector<double>& v, int64_t N, int64_t C, int64_t H, int64_t W,
                                        const MaxPool2dOptions& o) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor x = from_vector<double>(v, {N, C, H, W}, dtype);
    auto [y, idx] = max_pool2d_with_indices(x, o);
    const int64_t P = y.size(2), Q = y.size(3);
    Pool2dArgs a;
    for (int d = 0; d < 2; ++d) {
      a.kernel[d] = o.kernel[d];
      a.stride[d] = o.stride[d] == 0 ? o.kernel[d] : o.stride[d];
      a.padding[d] = o.padding[d];
      a.dilation[d] = o.dilation[d];
    }
    const kernels::MaxPoolGeometry g = kernels::max_pool_geometry(H, W, P, Q, a);
    const std::vector<double> ys = values(y);
    const std::vector<int64_t> is = ints(idx);
    int mismatches = 0;
    for (int64_t plane = 0; plane < N * C; ++plane)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          const kernels::MaxCell<double> m = kernels::max_pool_cell(v.data() + plane * H * W, g, p, q);
          const size_t k = static_cast<size_t>((plane * P + p) * Q + q);
          const bool same_value = std::isnan(m.value) ? std::isnan(ys[k]) : ys[k] == m.value;
          if ((!same_value || is[k] != m.index) && ++mismatches <= 3)
            ADD_FAILURE() << dtype_name(dtype) << " " << H << "x" << W << " kernel " << o.kernel[0] << "x" << o.kernel[1]
                          << " stride " << a.stride[0] << "x" << a.stride[1] << " padding " << o.padding[0] << "x"
                          << o.padding[1] << " dilation " << o.dilation[0] << "x" << o.dilation[1] << " ceil "
                          << o.ceil_mode << ": plane " << plane << " cell (" << p << ", " << q << "): got " << ys[k]
                          << " at " << is[k] << ", expected " << m.value << " at " << m.index;
        }
    EXPECT_EQ(mismatches, 0);
  }
}

// Values from a set of 5 (many ties) with NaN and -inf sprinkled in, deterministic.
std::vector<double> tie_heavy_values(size_t n, size_t seed) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t r = (i * 7919 + seed * 104729) % 997;
    v[i] = r == 3 || r == 500 ? std::numeric_limits<double>::quiet_NaN()
           : r == 7 ? -std::numeric_limits<double>::infinity()
                    : static_cast<double>(r % 5);
  }
  return v;
}

// Rows wide enough for several blocks of the CPU's register-blocked path (tensor/cpu/pool.cpp)
// agree with the per-cell window on every value and index, ties (values from a set of 5), NaN and
// -inf included, for strides, dilations, padding and ceil_mode.
TEST(MaxPool, WideRowsMatchThePerCellWindow) {
  const int64_t N = 2, C = 3, H = 7, W = 150;
  std::vector<double> v(static_cast<size_t>(N * C * H * W));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 7919) % 5);
  v[11] = std::numeric_limits<double>::quiet_NaN();
  v[12] = std::numeric_limits<double>::quiet_NaN();
  v[400] = -std::numeric_limits<double>::infinity();
  v[1200] = std::numeric_limits<double>::quiet_NaN();
  for (const MaxPool2dOptions& o : {MaxPool2dOptions{{3, 3}, {2, 2}, {1, 1}}, MaxPool2dOptions{{2, 2}, {1, 1}},
                                    MaxPool2dOptions{{2, 3}, {1, 2}, {0, 1}, {2, 2}},
                                    MaxPool2dOptions{{3, 3}, {3, 3}, {1, 1}, {1, 1}, true}})
    expect_matches_the_per_cell_window(v, N, C, H, W, o);
}

// Every small geometry: plane sizes 1..19 (odd and even, narrower and wider than a block), kernels
// 1..4, strides 1..3 (rows and columns differing), padding up to half the kernel, dilation 1..2,
// ceil_mode on and off, non-square windows; tie-heavy values with NaN and -inf. Geometries PyTorch rejects (a window covering no
// input) are skipped.
TEST(MaxPool, EverySmallGeometryMatchesThePerCellWindow) {
  int geometries = 0;
  size_t seed = 0;
  for (int64_t H : {1, 2, 5, 16})
    for (int64_t W : {1, 3, 8, 9, 16, 17, 19})
      for (int64_t k = 1; k <= 4; ++k)
        for (int64_t s = 1; s <= 3; ++s)
          for (int64_t pad = 0; pad <= k / 2; ++pad)
            for (int64_t dil = 1; dil <= 2; ++dil)
              for (bool ceil : {false, true}) {
                const int64_t kh = std::max<int64_t>(1, k - 1);  // non-square: one row fewer
                const int64_t ph = std::min(pad, kh / 2);
                const int64_t sh = s % 3 + 1;  // the row stride differs from the column stride
                const MaxPool2dOptions o{{kh, k}, {sh, s}, {ph, pad}, {dil, dil}, ceil};
                bool valid = true;
                for (int d = 0; d < 2; ++d) {
                  const int64_t in = d == 0 ? H : W, kk = o.kernel[d], pp = o.padding[d], dd = o.dilation[d];
                  const int64_t ss = o.stride[d];
                  const int64_t out = kernels::pool_output_size(in, kk, ss, pp, dd, ceil);
                  if (out <= 0) valid = false;
                  for (int64_t c = 0; valid && c < out; ++c) {
                    const kernels::Taps t = kernels::max_pool_taps(c, in, kk, ss, pp, dd);
                    valid = t.first < t.end;
                  }
                }
                if (!valid) continue;
                const int64_t N = 1, C = 2;
                expect_matches_the_per_cell_window(tie_heavy_values(static_cast<size_t>(N * C * H * W), ++seed), N, C,
                                                   H, W, o);
                ++geometries;
              }
  EXPECT_GT(geometries, 1000);
}

// A plane of -inf (every window's maximum is -inf at its first real position) and a plane of NaN
// (the last position of each window), at the ResNet stem's window over a 16x16 plane.
TEST(MaxPool, AllMinusInfinityAndAllNanPlanes) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> v(2 * 16 * 16, -inf);
  std::fill(v.begin() + 256, v.end(), nan);
  expect_matches_the_per_cell_window(v, 1, 2, 16, 16, {{3, 3}, {2, 2}, {1, 1}});
  auto [y, idx] = max_pool2d_with_indices(from_vector<double>(v, {1, 2, 16, 16}), {{3, 3}, {2, 2}, {1, 1}});
  const std::vector<int64_t> is = ints(idx);
  EXPECT_EQ(is[0], 0);        // -inf plane, window rows 0..1, cols 0..1: first real position
  EXPECT_EQ(is[1], 1);        // cols 1..3
  EXPECT_EQ(is[64], 17);      // NaN plane, cell (0, 0): last of rows 0..1, cols 0..1 -> (1, 1)
  EXPECT_EQ(is[64 + 9], 51);  // cell (1, 1): rows 1..3, cols 1..3 -> (3, 3)
}

// Dilation 2 picks every other element: kernel 2, dilation 2 over the 4x4 ramp 1..16 -> 2x2, the
// window at (0, 0) being {1, 3, 9, 11} -> 11 (index 10).
TEST(MaxPool, Dilation) {
  auto [y, idx] = max_pool2d_with_indices(ramp(4, 4, 1, 1), {{2, 2}, {1, 1}, {0, 0}, {2, 2}});
  EXPECT_EQ(values(y), (std::vector<double>{11, 12, 15, 16}));
  EXPECT_EQ(ints(idx), (std::vector<int64_t>{10, 11, 14, 15}));
}

// [C, H, W] input pools as a batch of one.
TEST(MaxPool, ThreeDimensionalInput) {
  Tensor y = max_pool2d(ramp(4, 4, 1, 1).reshape({1, 4, 4}), {{2, 2}});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(values(y), (std::vector<double>{6, 8, 14, 16}));
}

// Output sizes against torch.nn.functional.max_pool2d (torch 1.13), which uses
// floor_or_ceil((in + 2 pad - dilation (kernel - 1) - 1) / stride) + 1 and, with ceil_mode, drops
// a last window that would start in the right padding.
TEST(MaxPool, CeilModeOutputSizesMatchPyTorch) {
  struct Case {
    int64_t in, kernel, stride, pad, dilation;
    bool ceil;
    int64_t expected;
  };
  const Case cases[] = {
      {5, 2, 2, 1, 1, true, 3},   // ceil would give 4, but window 3 starts at 5 = in + pad - 1 + 1: dropped
      {5, 2, 2, 1, 1, false, 3},  {6, 3, 2, 1, 1, true, 4},  {7, 2, 2, 0, 1, true, 4},
      {7, 3, 2, 0, 1, true, 3},   {8, 3, 3, 1, 1, true, 3},  {9, 3, 2, 1, 2, true, 4},
      {10, 4, 3, 2, 1, true, 4},  {4, 3, 2, 1, 1, true, 3},  {1, 2, 2, 1, 1, true, 1},
      {2, 2, 3, 0, 1, true, 1},   {112, 3, 2, 1, 1, false, 56},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("in " + std::to_string(c.in) + " kernel " + std::to_string(c.kernel) + " stride " +
                 std::to_string(c.stride) + " pad " + std::to_string(c.pad) + " dilation " + std::to_string(c.dilation));
    EXPECT_EQ(kernels::pool_output_size(c.in, c.kernel, c.stride, c.pad, c.dilation, c.ceil), c.expected);
    MaxPool2dOptions o{{c.kernel, c.kernel}, {c.stride, c.stride}, {c.pad, c.pad}, {c.dilation, c.dilation}, c.ceil};
    EXPECT_EQ(max_pool2d(ramp(c.in, c.in, 1, 1), o).size(2), c.expected);
  }
}

// ceil_mode's partial last window: kernel 2, stride 2 over the 3x3 ramp 1..9 -> 2x2 with windows
// {1,2,4,5} -> 5, {3,6} -> 6, {7,8} -> 8, {9} -> 9.
TEST(MaxPool, CeilModePartialWindows) {
  Tensor y = max_pool2d(ramp(3, 3, 1, 1), {{2, 2}, {2, 2}, {0, 0}, {1, 1}, true});
  EXPECT_EQ(values(y), (std::vector<double>{5, 6, 8, 9}));
}

TEST(MaxPool, ErrorsNameTheOpAndTheShapes) {
  expect_error_containing([] { max_pool2d(ones({1, 3, 2, 2}), {{3, 3}}); },
                          "max_pool2d: output size would be 0 for input [1, 3, 2, 2] with kernel 3");
  expect_error_containing([] { max_pool2d(ones({1, 3, 8, 8}), {{3, 3}, {1, 1}, {2, 2}}); },
                          "max_pool2d: padding should be at most half of the kernel size (kernel 3, stride 1, padding 2");
  expect_error_containing([] { max_pool2d(ones({1, 3, 8, 8}), {{0, 2}}); }, "max_pool2d: expected kernel > 0");
  expect_error_containing([] { max_pool2d(ones({3, 2, 2}), {{3, 3}}); },
                          "max_pool2d: output size would be 0 for input [3, 2, 2] with kernel 3");
  expect_error_containing([] { max_pool2d(ones({3, 8}), {{2, 2}}); },
                          "max_pool2d: expected input [N, C, H, W] or [C, H, W], got [3, 8]");
  expect_error_containing([] { max_pool2d(ones({1, 1, 4, 4}, DType::Int64), {{2, 2}}); },
                          "max_pool2d: expected a floating input");
  // dilation can leave a window between the rows of a tiny input: rejected, not read out of bounds
  expect_error_containing([] { max_pool2d(ones({1, 1, 1, 1}), {{2, 2}, {2, 2}, {1, 1}, {2, 2}}); },
                          "max_pool2d: window 0 along H covers no input element");
}

TEST(AdaptiveAvgPool, UpsamplingRepeatsAndErrors) {
  // 2 -> 3 along W: windows [0, 1), [0, 2), [1, 2) -> 1, 1.5, 2 for the row [1, 2]
  Tensor y = adaptive_avg_pool2d(from_vector<double>({1, 2}, {1, 1, 1, 2}), {1, 3});
  EXPECT_EQ(values(y), (std::vector<double>{1, 1.5, 2}));
  expect_error_containing([] { adaptive_avg_pool2d(ones({1, 3, 4, 4}), {0, 1}); },
                          "adaptive_avg_pool2d: output size must be positive, got [0, 1] for input [1, 3, 4, 4]");
  expect_error_containing([] { adaptive_avg_pool2d(ones({1, 3, 0, 4}), {1, 1}); },
                          "adaptive_avg_pool2d: input [1, 3, 0, 4] has an empty plane");
}

}  // namespace
}  // namespace sepal
