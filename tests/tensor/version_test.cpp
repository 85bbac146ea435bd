// version_test.cpp: a storage's version (tensor/storage.h) changes with every in-place write of
// the raw layer and is never shared by two storages; outside memory (from_blob) is new on each read.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/raw.h"

namespace sepal::testing {
namespace {

TEST(StorageVersion, EveryInPlaceWriteGivesANewVersion) {
  Tensor t = zeros({4});
  Tensor view = t.narrow(0, 1, 2);
  std::vector<uint64_t> seen{t.version()};
  auto expect_new = [&](const char* what) {
    EXPECT_EQ(view.version(), t.version()) << "views share their storage's version";
    for (uint64_t v : seen) EXPECT_NE(t.version(), v) << what;
    seen.push_back(t.version());
  };
  t.fill_(1.0);
  expect_new("fill_");
  t.copy_(ones({4}));
  expect_new("copy_");
  t.add_(ones({4}));
  expect_new("add_");
  t.mul_(2.0);
  expect_new("mul_");
  view.fill_(3.0);
  expect_new("fill_ of a view");
  t.mark_modified();
  expect_new("mark_modified");
  const uint64_t v = t.version();
  (void)(t + t);
  EXPECT_EQ(t.version(), v) << "reading is not writing";
  EXPECT_NE(zeros({4}).version(), zeros({4}).version()) << "two storages never share a version";
}

TEST(StorageVersion, OutsideMemoryIsNewOnEveryRead) {
  std::vector<float> data{1, 2, 3};
  const Tensor t = from_blob(std::span<float>(data), {3});
  EXPECT_NE(t.version(), t.version());
}

}  // namespace
}  // namespace sepal::testing
