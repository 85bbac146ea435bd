// main.cpp: a tiny program built against the installed sepal package; exits non-zero on a wrong
// result. y = sum((w * x)^2) with w = [1, 2, 3], x = [4, 5, 6] (wrapped in place with from_blob):
// dy/dw = 2 w x^2 = [32, 100, 216]; one SGD step at lr 0.25 then gives w = [-7, -23, -51].
#include <sepal.h>

#include <cstdio>
#include <span>

int main() {
  using namespace sepal;
  Tensor w = tensor({1, 2, 3}).requires_grad_();
  float xs[] = {4, 5, 6};
  Tensor x = from_blob(std::span<float>(xs), {3});
  Tensor y = (w * x).square().sum();
  y.backward();
  std::vector<float> g = w.grad().to_vector<float>();
  optim::SGD opt(std::vector<Tensor>{w}, optim::SGDOptions(0.25));
  opt.step();
  bool ok = y.item() == 16 + 100 + 324 && g == std::vector<float>{32, 100, 216} &&
            w.to_vector<float>() == std::vector<float>{-7, -23, -51};
  std::printf("consumer: y = %g, dy/dw = [%g, %g, %g], cuda built: %s -> %s\n", y.item(), g[0], g[1], g[2],
              built_with_cuda() ? "yes" : "no", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
