// gradcheck_ops_test.cpp: every op in the shared op table passes a float64 finite-difference
// gradient check against the engine's analytic gradients.
#include <gtest/gtest.h>

#include "common/op_cases.h"

namespace sepal::testing {
namespace {

class GradcheckOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(GradcheckOps, AnalyticMatchesFiniteDifferences) {
  const OpCase& c = GetParam();
  std::vector<Tensor> inputs = make_inputs(c, DType::Float64, Device::cpu());
  for (Tensor& x : inputs) x.requires_grad_(true);
  GradcheckResult r = gradcheck(c.fn, inputs);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradcheckOps, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; });

}  // namespace
}  // namespace sepal::testing
