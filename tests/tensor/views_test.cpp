// views_test.cpp: shape helpers and views (reshape/view, permute, transpose, narrow, select, expand,
// squeeze, unsqueeze, flatten, contiguous): shapes, strides, offsets, values and storage sharing.
#include <gtest/gtest.h>
#include <sepal.h>

namespace sepal {
namespace {

// x[i][j] = 4 i + j for a [3, 4] tensor.
Tensor grid34() { return arange(12).reshape({3, 4}); }

bool shares_storage(const Tensor& a, const Tensor& b) { return a.storage() == b.storage(); }

TEST(ShapeHelpers, NumelStridesBroadcastWrap) {
  EXPECT_EQ(numel_of({2, 3, 4}), 24);
  EXPECT_EQ(numel_of({}), 1);
  EXPECT_EQ(numel_of({3, 0}), 0);
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Strides{12, 4, 1}));
  EXPECT_EQ(shape_str({8, 3, 224, 224}), "[8, 3, 224, 224]");
  EXPECT_EQ(shape_str({}), "[]");
  EXPECT_EQ(broadcast_shapes({2, 1, 3}, {4, 1}, "t"), (Shape{2, 4, 3}));
  EXPECT_EQ(broadcast_shapes({}, {5}, "t"), (Shape{5}));
  EXPECT_EQ(broadcast_shapes({0, 1}, {1, 3}, "t"), (Shape{0, 3}));
  EXPECT_THROW(broadcast_shapes({2, 3}, {4}, "t"), ShapeError);
  EXPECT_EQ(wrap_dim(-1, 3, "t"), 2);
  EXPECT_EQ(wrap_dim(-3, 3, "t"), 0);
  EXPECT_EQ(wrap_dim(0, 0, "t"), 0);
  EXPECT_EQ(wrap_dim(-1, 0, "t"), 0);
  EXPECT_THROW(wrap_dim(3, 3, "t"), IndexError);
  EXPECT_THROW(wrap_dim(-4, 3, "t"), IndexError);
}

TEST(Views, ReshapeOfContiguousIsAView) {
  Tensor x = grid34();
  Tensor y = x.reshape({4, 3});
  EXPECT_TRUE(shares_storage(x, y));
  EXPECT_EQ(y.raw_data(), x.raw_data());
  EXPECT_EQ(y.strides(), (Strides{3, 1}));
  // writing through the view is visible in the original: y[0] is x's elements 0, 1, 2
  y.select(0, 0).fill_(100);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{100, 100, 100, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
}

TEST(Views, ReshapeOfNonContiguousCopies) {
  Tensor x = grid34();
  Tensor t = x.t();  // [4, 3], t[j][i] = 4 i + j
  EXPECT_FALSE(t.is_contiguous());
  Tensor r = t.reshape({12});
  EXPECT_FALSE(shares_storage(x, r));
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  // a reshape that only splits a dim of a strided tensor is still a view
  Tensor s = t.reshape({2, 2, 3});
  EXPECT_TRUE(shares_storage(x, s));
  EXPECT_EQ(s.strides(), (Strides{2, 1, 4}));
  // a narrowed tensor (row stride 4, 2 columns) cannot be flattened without a copy
  Tensor n = x.narrow(1, 1, 2);
  Tensor f = n.reshape({6});
  EXPECT_FALSE(shares_storage(x, f));
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
}

TEST(Views, ViewOfNonViewableThrows) {
  Tensor t = grid34().t();
  try {
    t.view({12});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("view"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[4, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[12]"), std::string::npos) << msg;
  }
  // the same split that reshape makes as a view works with view()
  Tensor v = t.view({2, 2, 3});
  // v[a][b][c] = t[2a + b][c] = 4 c + 2a + b
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
}

TEST(Views, MinusOneInferenceAndErrors) {
  Tensor x = grid34();
  EXPECT_EQ(x.reshape({-1, 6}).shape(), (Shape{2, 6}));
  EXPECT_EQ(x.reshape({2, -1, 2}).shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(x.view({-1}).shape(), (Shape{12}));
  EXPECT_THROW(x.reshape({-1, -1}), ShapeError);  // two unknowns
  EXPECT_THROW(x.reshape({5, -1}), ShapeError);   // 12 is not a multiple of 5
  EXPECT_THROW(x.reshape({0, -1}), ShapeError);   // any size would fit
  EXPECT_THROW(x.reshape({-2, 6}), ShapeError);
  EXPECT_THROW(x.reshape({5}), ShapeError);
  EXPECT_THROW(x.view({2, 7}), ShapeError);
  // an empty tensor reshapes to any shape with zero elements
  EXPECT_EQ(zeros({0, 4}).reshape({2, 0, 3}).shape(), (Shape{2, 0, 3}));
}

TEST(Views, PermuteAndTranspose) {
  Tensor x = arange(24).reshape({2, 3, 4});  // x[i][j][k] = 12 i + 4 j + k
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Strides{1, 12, 4}));
  EXPECT_TRUE(shares_storage(x, p));
  std::vector<float> expected;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) expected.push_back(12 * i + 4 * j + k);
  EXPECT_EQ(p.to_vector<float>(), expected);
  EXPECT_EQ(x.permute({-1, 0, -2}).to_vector<float>(), expected);

  Tensor t = x.transpose(0, 2);  // t[k][j][i]
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.strides(), (Strides{1, 4, 12}));
  EXPECT_EQ(x.transpose(-1, 0).strides(), t.strides());
  EXPECT_EQ(t.to_vector<float>()[1], 12);  // t[0][0][1] = x[1][0][0]
  EXPECT_THROW(x.permute({0, 1}), ShapeError);
  EXPECT_THROW(x.permute({0, 1, 1}), ShapeError);
  EXPECT_THROW(x.transpose(0, 3), IndexError);
}

TEST(Views, NarrowAndSelect) {
  Tensor x = grid34();
  Tensor n = x.narrow(1, 1, 2);
  EXPECT_EQ(n.shape(), (Shape{3, 2}));
  EXPECT_EQ(n.strides(), (Strides{4, 1}));
  EXPECT_EQ(n.offset(), 1);
  EXPECT_EQ(n.to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(x.narrow(1, -2, 2).to_vector<float>(), (std::vector<float>{2, 3, 6, 7, 10, 11}));
  Tensor rows = x.narrow(0, 2, 1);
  EXPECT_EQ(rows.offset(), 8);
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{8, 9, 10, 11}));
  EXPECT_EQ(x.narrow(0, 3, 0).numel(), 0);
  EXPECT_THROW(x.narrow(1, 3, 2), IndexError);
  EXPECT_THROW(x.narrow(0, 0, -1), IndexError);

  Tensor col = x.select(1, -1);
  EXPECT_EQ(col.shape(), (Shape{3}));
  EXPECT_EQ(col.strides(), (Strides{4}));
  EXPECT_EQ(col.to_vector<float>(), (std::vector<float>{3, 7, 11}));
  EXPECT_EQ(x.select(0, 1).to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(x.select(0, 1).select(0, 2).item(), 6.0);
  EXPECT_THROW(x.select(0, 3), IndexError);
  EXPECT_THROW(x.select(1, -5), IndexError);
}

TEST(Views, Expand) {
  Tensor c = tensor({1, 2, 3}).reshape({3, 1});
  Tensor e = c.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Strides{0, 1, 0}));
  EXPECT_TRUE(shares_storage(c, e));
  std::vector<float> v = e.to_vector<float>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(v[i * 12 + j * 4 + k], j + 1);
  EXPECT_EQ(c.expand({-1, 5}).shape(), (Shape{3, 5}));
  EXPECT_THROW(c.expand({4, 4}), ShapeError);
  EXPECT_THROW(c.expand({3}), ShapeError);
  EXPECT_THROW(c.expand({-1, 3, 1}), ShapeError);  // -1 for a new leading dim
}

TEST(Views, SqueezeUnsqueezeFlatten) {
  Tensor x = arange(6).reshape({1, 3, 1, 2});
  EXPECT_EQ(x.squeeze().shape(), (Shape{3, 2}));
  EXPECT_EQ(x.squeeze(2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(x.squeeze(-2).strides(), (Strides{6, 2, 1}));
  EXPECT_EQ(x.squeeze(1).shape(), x.shape());  // size 3: no-op
  EXPECT_TRUE(shares_storage(x, x.squeeze()));

  Tensor g = grid34();
  Tensor u = g.unsqueeze(1);
  EXPECT_EQ(u.shape(), (Shape{3, 1, 4}));
  EXPECT_EQ(u.strides(), (Strides{4, 4, 1}));
  EXPECT_EQ(g.unsqueeze(-1).shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(g.unsqueeze(0).shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(scalar_tensor(2).unsqueeze(0).shape(), (Shape{1}));
  EXPECT_THROW(g.unsqueeze(3), IndexError);
  EXPECT_EQ(u.to_vector<float>(), g.to_vector<float>());

  Tensor y = arange(24).reshape({2, 3, 4});
  EXPECT_EQ(y.flatten().shape(), (Shape{24}));
  EXPECT_EQ(y.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(y.flatten(0, 1).shape(), (Shape{6, 4}));
  EXPECT_EQ(y.flatten(-2, -1).shape(), (Shape{2, 12}));
  EXPECT_EQ(scalar_tensor(1).flatten().shape(), (Shape{1}));
  EXPECT_THROW(y.flatten(2, 1), ShapeError);
  // flattening a permuted tensor copies, in logical order
  EXPECT_EQ(grid34().t().flatten().to_vector<float>(),
            (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
}

TEST(Views, ContiguousAndClone) {
  Tensor x = grid34();
  EXPECT_TRUE(x.contiguous().same(x));
  Tensor t = x.t();
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(shares_storage(c, x));
  EXPECT_EQ(c.strides(), (Strides{3, 1}));
  EXPECT_EQ(c.to_vector<float>(), t.to_vector<float>());
  Tensor k = x.clone();
  EXPECT_FALSE(shares_storage(k, x));
  k.fill_(-1);
  EXPECT_EQ(x.to_vector<float>()[0], 0);
  // size-1 dims do not break contiguity whatever their stride
  EXPECT_TRUE(x.narrow(0, 1, 1).is_contiguous());
  EXPECT_FALSE(x.narrow(1, 0, 2).is_contiguous());
}

}  // namespace
}  // namespace sepal
