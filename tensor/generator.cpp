// generator.cpp: host-side draws and the default generator (see generator.h).
#include "tensor/generator.h"

#include "tensor/kernels/philox.h"

namespace sepal {

double Generator::next_double() {
  uint64_t counter = advance(1);
  auto r = kernels::philox(seed_, counter);
  uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * 1.1102230246251565e-16;
}

uint64_t Generator::next_below(uint64_t n) {
  uint64_t counter = advance(1);
  auto r = kernels::philox(seed_, counter);
  uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
  return n == 0 ? 0 : bits % n;
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace sepal
