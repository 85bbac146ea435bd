// core_demo.cpp: a small real training run of the core (tensors + autograd, no layers yet): an
// MLP 2-64-64-3 learns a seeded 3-class 2-D spiral with mini-batch SGD with momentum and reports
// loss, train accuracy and held-out accuracy.
//
//   core_demo [--epochs N] [--seed S] [--device cpu|cuda|auto] [--batch-size B] [--lr LR]
//             [--log-every K] [--min-valid-acc X]
//
// Exit status: 0 on success, 1 on a library error or when --min-valid-acc is not reached,
// 2 on a bad command line.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "sepal.h"
#include "tensor/error.h"

namespace {

using sepal::Tensor;

struct Options {
  int epochs = 100;
  uint64_t seed = 0;
  std::string device = "auto";
  int batch_size = 32;
  double lr = 0.05;
  double momentum = 0.9;
  int log_every = 10;
  double min_valid_acc = -1.0;  // < 0: no threshold
};

// A bad command line: main prints the message as one line and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T parse_number(const std::string& flag, const std::string& text, T lo, T hi) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size() && v >= static_cast<double>(lo) && v <= static_cast<double>(hi) &&
        (std::is_floating_point_v<T> || v == std::floor(v)))
      return static_cast<T>(v);
  } catch (const std::exception&) {
  }
  throw UsageError(flag + ": expected " + (std::is_floating_point_v<T> ? "a number" : "an integer") +
                   " in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + text + "'");
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: core_demo [--epochs N] [--seed S] [--device cpu|cuda|auto] [--batch-size B]\n"
          "                 [--lr LR] [--log-every K] [--min-valid-acc X]\n"
          "Trains an MLP 2-64-64-3 on a seeded 3-class spiral with sepal tensors and autograd.\n");
      std::exit(0);
    }
    static const char* const kFlags[] = {"--epochs", "--seed", "--device", "--batch-size", "--lr",
                                         "--log-every", "--min-valid-acc"};
    if (std::find(std::begin(kFlags), std::end(kFlags), flag) == std::end(kFlags))
      throw UsageError("unknown flag '" + flag + "' (see --help)");
    if (i + 1 >= argc) throw UsageError(flag + ": missing value");
    std::string value = argv[++i];
    if (flag == "--epochs") o.epochs = parse_number<int>(flag, value, 1, 1000000);
    else if (flag == "--seed") o.seed = parse_number<uint64_t>(flag, value, 0, uint64_t(1) << 53);
    else if (flag == "--device") o.device = value;
    else if (flag == "--batch-size") o.batch_size = parse_number<int>(flag, value, 1, 1 << 20);
    else if (flag == "--lr") o.lr = parse_number<double>(flag, value, 0.0, 100.0);
    else if (flag == "--log-every") o.log_every = parse_number<int>(flag, value, 1, 1000000);
    else o.min_valid_acc = parse_number<double>(flag, value, 0.0, 1.0);
  }
  return o;
}

// ---- data: a 3-class spiral (the CS231n toy set), split into train and held-out ----

struct Split {
  std::vector<float> x;        // [n, 2] row-major
  std::vector<int64_t> label;  // [n]
  int64_t size() const { return static_cast<int64_t>(label.size()); }
};

constexpr int kClasses = 3;

// Class c, point i of n: radius r = i/(n-1), angle 4c + 4r plus Gaussian noise (sd 0.2).
// Points are shuffled with the seeded generator and the last `valid_fraction` held out.
void make_spiral(sepal::Generator& gen, int per_class, double valid_fraction, Split* train, Split* valid) {
  auto gaussian = [&gen] {  // Box-Muller on the generator's host stream
    double u1 = std::max(gen.next_double(), 1e-12), u2 = gen.next_double();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  };
  Split all;
  for (int c = 0; c < kClasses; ++c) {
    for (int i = 0; i < per_class; ++i) {
      double r = static_cast<double>(i) / (per_class - 1);
      double t = 4.0 * c + 4.0 * r + 0.2 * gaussian();
      all.x.push_back(static_cast<float>(r * std::sin(t)));
      all.x.push_back(static_cast<float>(r * std::cos(t)));
      all.label.push_back(c);
    }
  }
  std::vector<int64_t> order(all.size());
  for (int64_t i = 0; i < all.size(); ++i) order[i] = i;
  for (int64_t i = all.size() - 1; i > 0; --i) std::swap(order[i], order[gen.next_below(i + 1)]);
  const int64_t n_valid = static_cast<int64_t>(std::lround(valid_fraction * all.size()));
  for (int64_t j = 0; j < all.size(); ++j) {
    Split* dst = j < all.size() - n_valid ? train : valid;
    int64_t i = order[j];
    dst->x.push_back(all.x[2 * i]);
    dst->x.push_back(all.x[2 * i + 1]);
    dst->label.push_back(all.label[i]);
  }
}

// Inputs [n, 2] and one-hot targets [n, 3] of the rows `rows` of `split`, on `device`.
void to_tensors(const Split& split, const std::vector<int64_t>& rows, sepal::Device device, Tensor* x,
                Tensor* onehot) {
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<float> xs(2 * n), ys(kClasses * n, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    xs[2 * j] = split.x[2 * rows[j]];
    xs[2 * j + 1] = split.x[2 * rows[j] + 1];
    ys[kClasses * j + split.label[rows[j]]] = 1.0f;
  }
  *x = sepal::from_vector(xs, {n, 2}, device);
  *onehot = sepal::from_vector(ys, {n, kClasses}, device);
}

// ---- the model: tensors and autograd only ----

struct Mlp {
  std::vector<Tensor> params;  // w1 b1 w2 b2 w3 b3; weights [in, out], biases [out]
  std::vector<Tensor> velocity;

  Mlp(const std::vector<int64_t>& widths, sepal::Generator& gen, sepal::Device device) {
    for (size_t l = 0; l + 1 < widths.size(); ++l) {
      const int64_t in = widths[l], out = widths[l + 1];
      // Xavier/Glorot uniform, suited to tanh: U(-a, a) with a = sqrt(6 / (in + out)).
      const double a = std::sqrt(6.0 / static_cast<double>(in + out));
      Tensor w = sepal::uniform({in, out}, -a, a, sepal::TensorOptions().device(device), &gen);
      Tensor b = sepal::zeros({out}, sepal::TensorOptions().device(device));
      params.push_back(w.requires_grad_());
      params.push_back(b.requires_grad_());
    }
    for (const Tensor& p : params) velocity.push_back(sepal::zeros_like(p));
  }

  Tensor logits(const Tensor& x) const {
    Tensor h = x;
    for (size_t l = 0; l < params.size(); l += 2) {
      h = sepal::matmul(h, params[l]) + params[l + 1];  // [B, out] + [out] broadcasts
      if (l + 2 < params.size()) h = sepal::tanh(h);
    }
    return h;
  }

  // SGD with momentum (PyTorch's form): v = mu v + g; p -= lr v. No graph is recorded.
  void sgd_step(double lr, double momentum) {
    sepal::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = params[i].grad();
      if (!g.defined()) continue;
      velocity[i].mul_(momentum).add_(g);
      params[i].add_(velocity[i], -lr);
      params[i].zero_grad(/*set_to_none=*/true);
    }
  }
};

// Mean negative log-likelihood: the one-hot mask picks log p[target] in each row.
Tensor onehot_nll_loss(const Tensor& log_probs, const Tensor& onehot) {
  return -sepal::sum(log_probs * onehot) * (1.0 / static_cast<double>(log_probs.size(0)));
}

double accuracy(const Mlp& model, const Split& split, sepal::Device device) {
  sepal::NoGradGuard no_grad;
  std::vector<int64_t> rows(split.size());
  for (int64_t i = 0; i < split.size(); ++i) rows[i] = i;
  Tensor x, onehot;
  to_tensors(split, rows, device, &x, &onehot);
  std::vector<int64_t> pred = sepal::argmax(model.logits(x), 1).to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < split.size(); ++i) correct += pred[i] == split.label[i];
  return static_cast<double>(correct) / static_cast<double>(split.size());
}

int run(const Options& opt) {
  const sepal::Device device = sepal::Device::parse(opt.device);  // sepal::Error on a bad name
  const auto start = std::chrono::steady_clock::now();

  sepal::Generator data_gen(opt.seed), init_gen(opt.seed + 1), shuffle_gen(opt.seed + 2);
  Split train, valid;
  make_spiral(data_gen, /*per_class=*/300, /*valid_fraction=*/0.2, &train, &valid);
  Mlp model({2, 64, 64, kClasses}, init_gen, device);
  std::printf("core_demo: spiral %d classes, %lld train / %lld held-out points, MLP 2-64-64-3 (tanh), "
              "device %s, %d epochs, batch %d, lr %g, momentum %g, seed %llu\n",
              kClasses, static_cast<long long>(train.size()), static_cast<long long>(valid.size()),
              device.str().c_str(), opt.epochs, opt.batch_size, opt.lr, opt.momentum,
              static_cast<unsigned long long>(opt.seed));

  std::vector<int64_t> order(train.size());
  for (int64_t i = 0; i < train.size(); ++i) order[i] = i;
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    for (int64_t i = train.size() - 1; i > 0; --i) std::swap(order[i], order[shuffle_gen.next_below(i + 1)]);
    Tensor x_all, y_all;
    to_tensors(train, order, device, &x_all, &y_all);
    double loss_sum = 0.0;
    int64_t seen = 0;
    for (int64_t begin = 0; begin < train.size(); begin += opt.batch_size) {
      const int64_t len = std::min<int64_t>(opt.batch_size, train.size() - begin);
      Tensor x = x_all.narrow(0, begin, len), y = y_all.narrow(0, begin, len);
      Tensor loss = onehot_nll_loss(sepal::log_softmax(model.logits(x), 1), y);
      loss.backward();
      model.sgd_step(opt.lr, opt.momentum);
      loss_sum += loss.item<double>() * static_cast<double>(len);
      seen += len;
    }
    if (epoch % opt.log_every == 0 || epoch == 1 || epoch == opt.epochs) {
      std::printf("epoch %4d  loss %.4f  train_acc %.4f  valid_acc %.4f\n", epoch, loss_sum / seen,
                  accuracy(model, train, device), accuracy(model, valid, device));
      std::fflush(stdout);
    }
  }

  const double train_acc = accuracy(model, train, device), valid_acc = accuracy(model, valid, device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("time: %.2f s\n", seconds);
  std::printf("final: train_acc=%.4f valid_acc=%.4f\n", train_acc, valid_acc);
  if (opt.min_valid_acc >= 0.0 && valid_acc < opt.min_valid_acc) {
    std::fprintf(stderr, "core_demo: held-out accuracy %.4f is below --min-valid-acc %.4f\n", valid_acc,
                 opt.min_valid_acc);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  try {
    opt = parse_args(argc, argv);
    // a bad --device name is a command-line error too (exit 2); an unavailable device is not
    sepal::Device::parse(opt.device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "core_demo: %s\n", e.what());
    return 2;
  }
  try {
    return run(opt);
  } catch (const sepal::Error& e) {
    std::fprintf(stderr, "core_demo: error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "core_demo: unexpected error: %s\n", e.what());
  }
  return 1;
}
