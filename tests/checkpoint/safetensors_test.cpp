// safetensors_test.cpp: safetensors import/export. Round trips of every dtype (0-d, empty and
// non-contiguous tensors), byte-exact output against safetensors' own test vectors, exact F16/BF16
// conversion, a golden file written like safetensors.torch.save_file
// (scripts/golden/make_safetensors_golden.py), atomic saves, and every malformed variant of a
// small valid file: each must be an IOError naming the problem, never a crash or a huge allocation.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sepal.h>

#include "common/temp_dir.h"
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "checkpoint/safetensors.h"
#include "common/test_data.h"

namespace sepal::checkpoint {
namespace {

using Bytes = std::vector<uint8_t>;
const std::string kSource = "model.safetensors";

// A file from a header text (not padded) and a data buffer.
Bytes make_file(const std::string& header, const Bytes& data = {}) {
  Bytes out(8 + header.size() + data.size());
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<long>(header.size()));
  return out;
}

Bytes with_length_field(Bytes file, uint64_t n) {
  for (int i = 0; i < 8; ++i) file[i] = static_cast<uint8_t>(n >> (8 * i));
  return file;
}

// The IOError message parse_safetensors gives for `file` (a test failure when there is none).
std::string error_of(const Bytes& file) {
  try {
    parse_safetensors(file.data(), file.size(), kSource);
  } catch (const IOError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected an IOError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected an IOError, the file loaded";
  return "";
}

// Checks that `file` fails with a message that names the source and contains every part.
void expect_error(const Bytes& file, std::initializer_list<std::string> parts) {
  std::string msg = error_of(file);
  EXPECT_EQ(msg.rfind(kSource + ": ", 0), 0u) << msg;
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing \"" << p << "\" in: " << msg;
}

Bytes f32_bytes(std::initializer_list<float> values) {
  Bytes out(values.size() * 4);
  size_t i = 0;
  for (float v : values) std::memcpy(out.data() + 4 * i++, &v, 4);
  return out;
}

Bytes u16_bytes(std::initializer_list<uint16_t> values) {
  Bytes out;
  for (uint16_t v : values) {
    out.push_back(static_cast<uint8_t>(v & 0xFF));
    out.push_back(static_cast<uint8_t>(v >> 8));
  }
  return out;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {  // a CPU tensor's elements as raw bytes
  Tensor c = raw::contiguous(t);
  std::vector<uint8_t> out(static_cast<size_t>(c.numel()) * c.element_size());
  if (!out.empty()) std::memcpy(out.data(), c.raw_data(), out.size());
  return out;
}

Tensor bool_tensor(const std::vector<uint8_t>& bits, const Shape& shape) {
  Tensor t = empty(shape, TensorOptions(DType::Bool));
  std::memcpy(t.raw_data(), bits.data(), bits.size());
  return t;
}

// A small valid file: two F32 tensors, an I64 scalar and metadata.
Bytes small_valid_file() {
  nn::StateDict sd;
  sd.insert("fc.weight", from_vector<float>({1, -2, 3, -4, 5, -6}, {2, 3}));
  sd.insert("fc.bias", from_vector<float>({0.5f, 0.25f}, {2}));
  sd.insert("bn.num_batches_tracked", from_vector<int64_t>({7}, {}));
  return serialize_safetensors(sd, {{"format", "pt"}});
}

using sepal::testing::TempDir;

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// ---------------------------------------------------------------------------------------------
// Round trips and writer output

TEST(SafetensorsRoundTrip, EveryDtypeScalarsEmptyAndNonContiguous) {
  Tensor grid = from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor transposed = grid.t();                 // [4, 3], strides [1, 4]
  Tensor sliced = grid.narrow(1, 1, 2);         // [3, 2], storage offset 1
  ASSERT_FALSE(transposed.is_contiguous());
  ASSERT_FALSE(sliced.is_contiguous());
  nn::StateDict sd;
  sd.insert("f32", from_vector<float>({1.5f, -2.25f, 3e-8f, -0.0f, 1e30f, 7.0f}, {2, 3}));
  sd.insert("f64", from_vector<double>({0.1, -1e300, 4.9e-324, 2.0}, {4}));
  sd.insert("i64.scalar", from_vector<int64_t>({-9007199254740993LL}, {}));
  sd.insert("u8", from_vector<uint8_t>({0, 1, 127, 128, 255}, {5}));
  sd.insert("bool", bool_tensor({1, 0, 0, 1}, {2, 2}));
  sd.insert("empty", empty({0}));
  sd.insert("empty.i64", empty({3, 0}, TensorOptions(DType::Int64)));
  sd.insert("transposed", transposed);
  sd.insert("sliced", sliced);
  sd.insert("f32.scalar", from_vector<float>({42.0f}, {}));

  Bytes file = serialize_safetensors(sd);
  SafetensorsFile loaded = parse_safetensors_file(file.data(), file.size(), kSource);
  EXPECT_TRUE(loaded.metadata.empty());
  ASSERT_EQ(loaded.tensors.size(), sd.size());
  size_t i = 0;
  for (const auto& [name, t] : sd) {
    const auto& [got_name, got] = loaded.tensors.entries()[i++];
    EXPECT_EQ(got_name, name);  // the state dict's order
    EXPECT_EQ(got.dtype(), t.dtype()) << name;
    EXPECT_EQ(got.shape(), t.shape()) << name;
    EXPECT_EQ(got.device(), Device::cpu());
    // (Tensor::is_contiguous() says false for an empty [3, 0] made by empty(); only check the rest.)
    if (got.numel() > 0) EXPECT_TRUE(got.is_contiguous()) << name;
    EXPECT_EQ(bytes_of(got), bytes_of(t)) << name;
  }
  EXPECT_EQ(loaded.tensors.find("transposed")->to_vector<float>(),
            (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_EQ(loaded.tensors.find("sliced")->to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 9, 10}));

  // The header: padded with spaces to a multiple of 8, empty tensors as [k, k].
  uint64_t n = 0;
  for (int b = 7; b >= 0; --b) n = (n << 8) | file[b];
  ASSERT_LE(8 + n, file.size());
  EXPECT_EQ(n % 8, 0u);
  std::string header(file.begin() + 8, file.begin() + 8 + static_cast<long>(n));
  // f32 [0,24], f64 [24,56], i64.scalar [56,64], u8 [64,69], bool [69,73], empty [73,73]
  EXPECT_NE(header.find("\"empty\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[73,73]}"),
            std::string::npos) << header;
  EXPECT_NE(header.find("\"i64.scalar\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[56,64]}"),
            std::string::npos) << header;
  size_t close = header.rfind('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos);
  EXPECT_LT(header.size() - close - 1, 8u);
}

// The expected bytes are safetensors' own unit tests (safetensors/src/tensor.rs:
// test_serialization, test_empty).
TEST(SafetensorsRoundTrip, ByteExactAgainstSafetensorsTestVectors) {
  nn::StateDict sd;
  sd.insert("attn.0", from_vector<float>({0, 1, 2, 3, 4, 5}, {1, 2, 3}));
  Bytes expected = {64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
                    116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
                    58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
                    101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
                    0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
  EXPECT_EQ(serialize_safetensors(sd), expected);

  EXPECT_EQ(serialize_safetensors({}), (Bytes{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}));
  Bytes with_meta = {40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
                     95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
                     116, 34, 125, 125, 32, 32, 32, 32, 32};
  EXPECT_EQ(serialize_safetensors({}, {{"framework", "pt"}}), with_meta);
  SafetensorsFile f = parse_safetensors_file(with_meta.data(), with_meta.size(), kSource);
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"framework", "pt"}}));
}

TEST(SafetensorsRoundTrip, MetadataAndNamesWithEscapes) {
  std::map<std::string, std::string> meta = {
      {"format", "pt"},
      {"quote\"back\\slash", "tab\tnewline\ncontrol\x01 caf\xC3\xA9 \xE2\x9C\xBF \xF0\x9F\x98\x80"},
      {"", ""}};
  nn::StateDict sd;
  std::string odd = std::string("we\"ird\\name\n\x1f") + "\xC3\xA9";
  sd.insert(odd, from_vector<float>({1, 2}, {2}));
  Bytes file = serialize_safetensors(sd, meta);
  std::string text(file.begin(), file.end());
  EXPECT_NE(text.find("control\\u0001"), std::string::npos);  // serde_json's escape form
  SafetensorsFile f = parse_safetensors_file(file.data(), file.size(), kSource);
  EXPECT_EQ(f.metadata, meta);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors.entries()[0].first, odd);
}

TEST(SafetensorsRoundTrip, ParsesJsonEscapesAndWhitespace) {
  // \u escapes incl. a surrogate pair (U+1F600), \/ and whitespace between tokens.
  std::string header =
      "{ \"caf\\u00e9\\ud83d\\ude00\\/x\" : { \"shape\" : [ 2 ] ,\r\n\t\"data_offsets\":[0, 8],"
      "\"dtype\":\"F32\"} , \"__metadata__\" : {\"k\\\"\":\"\\b\\f\\n\\r\\t\\\\\"} }   \n";
  Bytes file = make_file(header, f32_bytes({1.0f, 2.0f}));
  SafetensorsFile f = parse_safetensors_file(file.data(), file.size(), kSource);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors.entries()[0].first, "caf\xC3\xA9\xF0\x9F\x98\x80/x");
  EXPECT_EQ(f.tensors.entries()[0].second.to_vector<float>(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(f.metadata.at("k\""), "\b\f\n\r\t\\");
}

TEST(SafetensorsRoundTrip, EmptyTensorsAnywhere) {
  // Empty tensors sit at [k, k]: at the start, between two tensors and at the end.
  std::string header =
      "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
      "\"c\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[2,2]},"
      "\"d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
      "\"e\":{\"dtype\":\"I64\",\"shape\":[4,0],\"data_offsets\":[3,3]}}";
  Bytes file = make_file(header, {9, 8, 7});
  nn::StateDict sd = parse_safetensors(file.data(), file.size(), kSource);
  ASSERT_EQ(sd.size(), 5u);
  EXPECT_EQ(sd.find("c")->shape(), (Shape{0, 5}));
  EXPECT_EQ(sd.find("e")->dtype(), DType::Int64);
  EXPECT_EQ(sd.find("b")->to_vector<uint8_t>(), (std::vector<uint8_t>{9, 8}));
  EXPECT_EQ(sd.find("d")->to_vector<uint8_t>(), (std::vector<uint8_t>{7}));
}

// ---------------------------------------------------------------------------------------------
// F16 / BF16

TEST(SafetensorsHalf, F16HandValues) {
  EXPECT_EQ(f16_bits_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_bits_to_float(0xC000), -2.0f);
  EXPECT_EQ(f16_bits_to_float(0x7BFF), 65504.0f);               // (2 - 2^-10) * 2^15
  EXPECT_EQ(f16_bits_to_float(0x3555), 0.333251953125f);        // 0x155 = 341: (1 + 341/1024) / 4
  EXPECT_EQ(f16_bits_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal: 2^-14 * 2^-10
  EXPECT_EQ(f16_bits_to_float(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_bits_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_bits_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(f16_bits_to_float(0x7C00), INFINITY);
  EXPECT_EQ(f16_bits_to_float(0xFC00), -INFINITY);
  float neg_zero = f16_bits_to_float(0x8000);
  EXPECT_EQ(neg_zero, 0.0f);
  EXPECT_TRUE(std::signbit(neg_zero));
  EXPECT_TRUE(std::isnan(f16_bits_to_float(0x7E00)));
  // A NaN keeps its payload: mantissa 0x001 -> float mantissa bit 13.
  float nan = f16_bits_to_float(0x7C01);
  uint32_t bits;
  std::memcpy(&bits, &nan, 4);
  EXPECT_EQ(bits, 0x7F802000u);
}

TEST(SafetensorsHalf, F16AllBitPatternsMatchTheDefinition) {
  // value = (-1)^s * (exp == 0 ? mant * 2^-24 : (1024 + mant) * 2^(exp - 25)), computed in double.
  for (uint32_t h = 0; h < 65536; ++h) {
    uint32_t s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float got = f16_bits_to_float(static_cast<uint16_t>(h));
    if (e == 31) {
      if (m == 0) EXPECT_EQ(got, s ? -INFINITY : INFINITY) << h;
      else EXPECT_TRUE(std::isnan(got)) << h;
      continue;
    }
    double v = e == 0 ? std::ldexp(static_cast<double>(m), -24)
                      : std::ldexp(static_cast<double>(1024 + m), static_cast<int>(e) - 25);
    if (s) v = -v;
    ASSERT_EQ(static_cast<double>(got), v) << "bits " << h;
    ASSERT_EQ(std::signbit(got), s == 1) << "bits " << h;
  }
}

TEST(SafetensorsHalf, BF16HandValues) {
  EXPECT_EQ(bf16_bits_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_bits_to_float(0xC060), -3.5f);                 // -(1 + 0.75) * 2
  EXPECT_EQ(bf16_bits_to_float(0x0001), std::ldexp(1.0f, -133));  // float32 subnormal 2^-126 * 2^-7
  EXPECT_EQ(bf16_bits_to_float(0x7F80), INFINITY);
  EXPECT_EQ(bf16_bits_to_float(0xFF80), -INFINITY);
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(0x7FC0)));
  EXPECT_TRUE(std::signbit(bf16_bits_to_float(0x8000)));
}

TEST(SafetensorsHalf, F16AndBF16TensorsLoadAsFloat32) {
  std::string header =
      "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}";
  Bytes data = u16_bytes({0x3C00, 0xC000, 0x7C00, 0x0001, 0x3F80, 0x4049, 0x0001});
  Bytes file = make_file(header, data);
  nn::StateDict sd = parse_safetensors(file.data(), file.size(), kSource);
  const Tensor& h = *sd.find("h");
  EXPECT_EQ(h.dtype(), DType::Float32);
  EXPECT_EQ(h.shape(), (Shape{2, 2}));
  EXPECT_EQ(h.to_vector<float>(), (std::vector<float>{1.0f, -2.0f, INFINITY, std::ldexp(1.0f, -24)}));
  // BF16 0x4049 = 0x40490000 = 3.140625
  EXPECT_EQ(sd.find("b")->to_vector<float>(), (std::vector<float>{1.0f, 3.140625f, std::ldexp(1.0f, -133)}));
}

// ---------------------------------------------------------------------------------------------
// A file written like safetensors.torch.save_file (scripts/golden/make_safetensors_golden.py).

TEST(SafetensorsGolden, LoadsFileWrittenLikeTorchSaveFile) {
  SafetensorsFile f = load_safetensors_file(sepal::testing::test_data_path("safetensors_golden.safetensors"));
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{
                            {"format", "pt"}, {"source", "sepal golden: caf\xC3\xA9 \xE2\x9C\xBF"}}));
  // save_file's order: dtype (I64, F32, BF16, F16), then name.
  std::vector<std::string> names;
  for (const auto& [name, t] : f.tensors) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"bn.num_batches_tracked", "ids", "fc.bias", "fc.weight",
                                             "brain", "half"}));

  const Tensor& nbt = *f.tensors.find("bn.num_batches_tracked");
  EXPECT_EQ(nbt.dtype(), DType::Int64);
  EXPECT_EQ(nbt.dim(), 0);
  EXPECT_EQ(nbt.item<int64_t>(), 12345);
  EXPECT_EQ(f.tensors.find("ids")->to_vector<int64_t>(),
            (std::vector<int64_t>{-1, (int64_t{1} << 40) + 3, -(int64_t{1} << 62)}));

  const Tensor& w = *f.tensors.find("fc.weight");
  EXPECT_EQ(w.dtype(), DType::Float32);
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  std::vector<float> wv = w.to_vector<float>();
  EXPECT_EQ(wv, (std::vector<float>{0.5f, -1.25f, 3.0f, -0.0f, 1024.75f, 0.1f}));
  EXPECT_TRUE(std::signbit(wv[3]));
  EXPECT_EQ(f.tensors.find("fc.bias")->to_vector<float>(), (std::vector<float>{1.0f, -2.0f, 0.25f}));

  const Tensor& brain = *f.tensors.find("brain");  // BF16 0x3F80 0xC060 0x0001 0xFF80
  EXPECT_EQ(brain.dtype(), DType::Float32);
  EXPECT_EQ(brain.shape(), (Shape{2, 2}));
  EXPECT_EQ(brain.to_vector<float>(), (std::vector<float>{1.0f, -3.5f, std::ldexp(1.0f, -133), -INFINITY}));

  // F16 0x3C00 0xC000 0x7BFF 0x0001 0x03FF 0x0400 0x7C00 0x8000 0x7E00
  const Tensor& half = *f.tensors.find("half");
  EXPECT_EQ(half.shape(), (Shape{3, 3}));
  std::vector<float> hv = half.to_vector<float>();
  ASSERT_EQ(hv.size(), 9u);
  std::vector<float> expected = {1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), std::ldexp(1023.0f, -24),
                                 std::ldexp(1.0f, -14), INFINITY, -0.0f};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(hv[i], expected[i]) << i;
  EXPECT_TRUE(std::signbit(hv[7]));
  EXPECT_TRUE(std::isnan(hv[8]));
}

// ---------------------------------------------------------------------------------------------
// Files on disk

TEST(SafetensorsFiles, SaveLoadOverwriteAndNoTempFilesLeft) {
  TempDir dir;
  std::string path = dir.path() + "/model.safetensors";
  nn::StateDict sd;
  sd.insert("w", from_vector<float>({1, 2, 3, 4}, {2, 2}).t());
  sd.insert("n", from_vector<int64_t>({3}, {}));
  save_safetensors(sd, path, {{"epoch", "3"}});
  EXPECT_EQ(read_file(path), serialize_safetensors(sd, {{"epoch", "3"}}));
  SafetensorsFile f = load_safetensors_file(path);
  EXPECT_EQ(f.metadata.at("epoch"), "3");
  EXPECT_EQ(f.tensors.find("w")->to_vector<float>(), (std::vector<float>{1, 3, 2, 4}));

  nn::StateDict other;
  other.insert("x", from_vector<uint8_t>({5}, {1}));
  save_safetensors(other, path);  // replaces the file
  nn::StateDict again = load_safetensors(path);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again.find("x")->to_vector<uint8_t>(), (std::vector<uint8_t>{5}));
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"model.safetensors"}));
}

TEST(SafetensorsFiles, FailedSaveLeavesTheTargetAlone) {
  TempDir dir;
  std::string path = dir.path() + "/model.safetensors";
  nn::StateDict good;
  good.insert("a", from_vector<float>({1}, {1}));
  save_safetensors(good, path);
  Bytes before = read_file(path);

  nn::StateDict bad;
  bad.insert("ok", from_vector<float>({1}, {1}));
  bad.insert("__metadata__", from_vector<float>({2}, {1}));
  try {
    save_safetensors(bad, path);
    ADD_FAILURE() << "expected an IOError";
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("__metadata__"), std::string::npos) << msg;
  }
  nn::StateDict invalid_utf8;
  invalid_utf8.insert("bad\xFFname", from_vector<float>({1}, {1}));
  EXPECT_THROW(save_safetensors(invalid_utf8, path), IOError);
  EXPECT_THROW(save_safetensors(good, path, {{"k", "\xC0\x80"}}), IOError);  // overlong NUL
  nn::StateDict undefined;
  undefined.insert("u", Tensor());
  EXPECT_THROW(save_safetensors(undefined, path), IOError);
  EXPECT_THROW(serialize_safetensors(undefined), IOError);

  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"model.safetensors"}));

  // A folder that does not exist: an error naming the path and the OS reason, nothing written.
  std::string missing = dir.path() + "/no/such/folder/model.safetensors";
  try {
    save_safetensors(good, missing);
    ADD_FAILURE() << "expected an IOError";
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(missing), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
}

TEST(SafetensorsFiles, MissingUnreadableAndTruncatedFiles) {
  TempDir dir;
  std::string missing = dir.path() + "/missing.safetensors";
  try {
    load_safetensors(missing);
    ADD_FAILURE() << "expected an IOError";
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind(missing + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
  try {
    load_safetensors(dir.path());
    ADD_FAILURE() << "expected an IOError";
  } catch (const IOError& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  // The file reader goes through the same checks as the memory parser.
  std::string path = dir.path() + "/short.safetensors";
  Bytes file = small_valid_file();
  file.resize(file.size() - 3);
  write_file(path, file);
  try {
    load_safetensors(path);
    ADD_FAILURE() << "expected an IOError";
  } catch (const IOError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("run past the end of the data buffer"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed files

TEST(SafetensorsMalformed, TruncatedAtEveryLength) {
  Bytes file = small_valid_file();
  ASSERT_NO_THROW(parse_safetensors(file.data(), file.size(), kSource));
  for (size_t n = 0; n < file.size(); ++n) {
    Bytes cut(file.begin(), file.begin() + static_cast<long>(n));
    std::string msg = error_of(cut);
    EXPECT_EQ(msg.rfind(kSource + ": ", 0), 0u) << "length " << n << ": " << msg;
  }
  EXPECT_EQ(error_of(Bytes{}), kSource + ": file is 0 bytes, too short for the 8-byte header length; "
                                         "not a safetensors file?");
  EXPECT_THROW(parse_safetensors(nullptr, 0, kSource), IOError);
}

TEST(SafetensorsMalformed, HeaderLength) {
  Bytes file = small_valid_file();
  expect_error(with_length_field(file, file.size()), {"header length", "exceeds the", "file truncated?"});
  expect_error(with_length_field(file, file.size() - 7), {"exceeds the"});
  expect_error(with_length_field(file, uint64_t{1} << 63), {"header length 9223372036854775808", "100000000-byte limit"});
  expect_error(with_length_field(file, ~uint64_t{0}), {"100000000-byte limit"});
  expect_error(with_length_field(file, 100'000'001), {"100000000-byte limit"});
  expect_error(make_file(""), {"header is empty"});
  // Shorter than the real header: the JSON is cut.
  expect_error(with_length_field(file, 20), {"not valid JSON"});
}

TEST(SafetensorsMalformed, HeaderNotJsonOrNotAnObject) {
  expect_error(make_file("hello world     "), {"does not start with '{'", "found 'h'"});
  expect_error(make_file("[1, 2]  "), {"does not start with '{'"});
  expect_error(make_file(" {}     "), {"does not start with '{'"});  // safetensors wants '{' first
  expect_error(make_file(std::string("\0\0\0\0\0\0\0\0", 8)), {"does not start with '{'", "byte 0x00"});
  expect_error(make_file("{"), {"not valid JSON", "expected a tensor name"});
  expect_error(make_file("{\"a\""), {"not valid JSON", "expected ':'"});
  expect_error(make_file("{}  x"), {"not valid JSON", "unexpected 'x' after the header object"});
  expect_error(make_file("{}{}"), {"unexpected '{' after the header object"});
  expect_error(make_file("{\"a\":1}"), {"tensor \"a\": expected an object"});
  expect_error(make_file("{\"a\":\"F32\"}"), {"tensor \"a\": expected an object"});
  expect_error(make_file("{a:{}}"), {"expected a tensor name (a string), found 'a'"});
  expect_error(make_file("{\"__metadata__\":[]}"), {"\"__metadata__\" must be an object of strings"});
  expect_error(make_file("{\"__metadata__\":{\"k\":1}}"), {"the value of \"k\" must be a string"});
  expect_error(make_file("{\"__metadata__\":{\"k\":\"v\",}}"), {"expected a metadata key"});
  expect_error(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},}"),
               {"expected a tensor name"});
  // Not UTF-8, control characters inside strings.
  expect_error(make_file("{\"\xFF\":{}}"), {"not valid UTF-8", "0xFF"});
  expect_error(make_file("{\"\xED\xA0\x80\":{}}"), {"not valid UTF-8"});  // an encoded surrogate
  expect_error(make_file("{\"a\nb\":{}}"), {"unescaped control character 0x0A"});
}

TEST(SafetensorsMalformed, BadEscapes) {
  expect_error(make_file("{\"a\\q\":{}}"), {"bad escape '\\q'"});
  expect_error(make_file("{\"a\\u12\":{}}"), {"bad hex digit"});
  expect_error(make_file("{\"a\\u12"), {"truncated \\u escape"});
  expect_error(make_file("{\"\\ud800\":{}}"), {"high surrogate not followed by a \\u low surrogate"});
  expect_error(make_file("{\"\\ud800\\u0041\":{}}"), {"high surrogate not followed by a low surrogate"});
  expect_error(make_file("{\"\\udc00\":{}}"), {"unpaired low surrogate"});
  expect_error(make_file("{\"abc"), {"unterminated string"});
  expect_error(make_file("{\"abc\\"), {"unterminated escape"});
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

TEST(SafetensorsMalformed, Dtypes) {
  expect_error(make_file("{" + entry("w", "XYZ", "[1]", "[0,4]") + "}", Bytes(4)), {"tensor \"w\": unknown dtype \"XYZ\""});
  expect_error(make_file("{" + entry("w", "I32", "[1]", "[0,4]") + "}", Bytes(4)),
               {"tensor \"w\": dtype I32 is not supported"});
  expect_error(make_file("{" + entry("w", "F8_E4M3", "[1]", "[0,1]") + "}", Bytes(1)),
               {"tensor \"w\": dtype F8_E4M3 is not supported"});
  expect_error(make_file("{" + entry("w", "f32", "[1]", "[0,4]") + "}", Bytes(4)), {"unknown dtype \"f32\""});
  expect_error(make_file("{\"w\":{\"dtype\":7,\"shape\":[],\"data_offsets\":[0,4]}}", Bytes(4)),
               {"expected the dtype (a string)"});
  // BOOL bytes other than 0 and 1 would be undefined behaviour once read as bool.
  expect_error(make_file("{" + entry("m", "BOOL", "[3]", "[0,3]") + "}", {1, 0, 2}),
               {"tensor \"m\": BOOL element 2 is byte 0x02, not 0 or 1"});
}

TEST(SafetensorsMalformed, ShapeSizeMismatch) {
  EXPECT_EQ(error_of(make_file("{" + entry("fc.weight", "F32", "[102, 512]", "[0, 400]") + "}", Bytes(400))),
            "model.safetensors: tensor \"fc.weight\": data_offsets [0, 400] hold 400 bytes but F32 "
            "[102, 512] needs 208896");
  expect_error(make_file("{" + entry("b", "F16", "[3]", "[0,8]") + "}", Bytes(8)), {"hold 8 bytes but F16 [3] needs 6"});
  expect_error(make_file("{" + entry("s", "I64", "[]", "[0,0]") + "}"), {"hold 0 bytes but I64 [] needs 8"});
}

TEST(SafetensorsMalformed, OffsetsOutOfRangeOverlapsHolesAndTrailingBytes) {
  expect_error(make_file("{" + entry("a", "F32", "[4]", "[8,24]") + "}", Bytes(16)),
               {"tensor \"a\": data_offsets [8, 24] run past the end of the data buffer (16 bytes"});
  expect_error(make_file("{" + entry("a", "U8", "[4]", "[18446744073709551615,3]") + "}", Bytes(4)),
               {"are reversed"});
  expect_error(make_file("{" + entry("a", "U8", "[0]", "[5,5]") + "}", Bytes(4)), {"run past the end"});
  expect_error(make_file("{" + entry("a", "F32", "[4]", "[0,16]") + "," + entry("b", "F32", "[4]", "[8,24]") + "}", Bytes(24)),
               {"tensors \"a\" (data_offsets [0, 16]) and \"b\" (data_offsets [8, 24]) overlap"});
  // The same range twice.
  expect_error(make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[0,8]") + "}", Bytes(8)),
               {"overlap"});
  // An empty tensor inside another's range.
  expect_error(make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("e", "F32", "[0]", "[4,4]") + "}", Bytes(8)),
               {"\"a\"", "\"e\"", "overlap"});
  expect_error(make_file("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[16,24]") + "}", Bytes(24)),
               {"bytes [8, 16) of the data buffer belong to no tensor (a hole before tensor \"b\")"});
  expect_error(make_file("{" + entry("b", "F32", "[2]", "[4,12]") + "}", Bytes(12)), {"bytes [0, 4)", "hole"});
  Bytes file = small_valid_file();
  file.insert(file.end(), {1, 2, 3, 4});
  expect_error(file, {"4 trailing bytes after the last tensor's data"});
  expect_error(make_file("{}", Bytes(3)), {"3 trailing bytes"});
}

TEST(SafetensorsMalformed, DuplicatesMissingAndUnknownFields) {
  std::string a = entry("a", "U8", "[1]", "[0,1]");
  expect_error(make_file("{" + a + "," + a + "}", Bytes(1)), {"tensor \"a\" appears twice"});
  expect_error(make_file("{\"__metadata__\":{},\"__metadata__\":{}}"), {"\"__metadata__\" appears twice"});
  expect_error(make_file("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"), {"key \"k\" appears twice"});
  expect_error(make_file("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", Bytes(1)),
               {"tensor \"a\": field \"dtype\" appears twice"});
  expect_error(make_file("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", Bytes(1)),
               {"tensor \"a\": missing field \"shape\""});
  expect_error(make_file("{\"a\":{}}"), {"tensor \"a\": missing field \"dtype\""});
  expect_error(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"offsets\":[0,1]}}", Bytes(1)),
               {"tensor \"a\": unknown field \"offsets\""});
  expect_error(make_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1] \"x\":1}}", Bytes(1)),
               {"expected ',' or '}' in the entry, found '\"'"});
}

TEST(SafetensorsMalformed, NumbersOverflowAndNegatives) {
  // 2^62 elements of F32 need 2^64 bytes; [2^62, 4] elements overflow int64 by themselves.
  expect_error(make_file("{" + entry("w", "F32", "[4611686018427387904]", "[0,0]") + "}"), {"tensor \"w\"", "size overflow"});
  expect_error(make_file("{" + entry("w", "U8", "[4611686018427387904, 4]", "[0,0]") + "}"),
               {"tensor \"w\": shape [4611686018427387904, 4] has too many elements"});
  // A zero dim makes numel 0, but strides would still overflow.
  expect_error(make_file("{" + entry("w", "U8", "[0, 4611686018427387904, 4611686018427387904]", "[0,0]") + "}"),
               {"has too many elements"});
  expect_error(make_file("{" + entry("w", "U8", "[9223372036854775808]", "[0,0]") + "}"),
               {"dimension 9223372036854775808 in \"shape\" is too large"});
  expect_error(make_file("{" + entry("w", "U8", "[18446744073709551616]", "[0,0]") + "}"),
               {"\"shape\" holds a number too large for 64 bits"});
  expect_error(make_file("{" + entry("w", "U8", "[1]", "[0,99999999999999999999999]") + "}", Bytes(1)),
               {"\"data_offsets\" holds a number too large for 64 bits"});
  expect_error(make_file("{" + entry("w", "U8", "[-1]", "[0,0]") + "}"), {"tensor \"w\": \"shape\" holds a negative number"});
  expect_error(make_file("{" + entry("w", "U8", "[1]", "[-8,1]") + "}", Bytes(1)), {"\"data_offsets\" holds a negative number"});
  expect_error(make_file("{" + entry("w", "U8", "[1.0]", "[0,1]") + "}", Bytes(1)), {"not an integer"});
  expect_error(make_file("{" + entry("w", "U8", "[1e2]", "[0,100]") + "}", Bytes(100)), {"not an integer"});
  expect_error(make_file("{" + entry("w", "U8", "[01]", "[0,1]") + "}", Bytes(1)), {"leading zero"});
  expect_error(make_file("{" + entry("w", "U8", "[1,]", "[0,1]") + "}", Bytes(1)), {"must hold non-negative integers, found ']'"});
  expect_error(make_file("{" + entry("w", "U8", "1", "[0,1]") + "}", Bytes(1)), {"\"shape\" must be an array"});
  expect_error(make_file("{" + entry("w", "U8", "[1]", "[0,1,2]") + "}", Bytes(1)), {"\"data_offsets\" has more than 2 numbers"});
  expect_error(make_file("{" + entry("w", "U8", "[1]", "[1]") + "}", Bytes(1)), {"\"data_offsets\" must be [begin, end], got 1"});
  std::string dims65 = "[1";
  for (int i = 0; i < 64; ++i) dims65 += ",1";
  expect_error(make_file("{" + entry("w", "U8", dims65 + "]", "[0,1]") + "}", Bytes(1)), {"\"shape\" has more than 64 numbers"});
}

TEST(SafetensorsMalformed, DepthBombs) {
  const size_t depth = 100000;
  std::string open(depth, '['), close(depth, ']');
  expect_error(make_file("{" + entry("w", "U8", open + close, "[0,0]") + "}"),
               {"tensor \"w\": \"shape\" must hold non-negative integers, found '['"});
  expect_error(make_file("{\"w\":" + open + close + "}"), {"tensor \"w\": expected an object"});
  expect_error(make_file("{\"w\":" + std::string(depth, '{')), {"expected a field name (a string), found '{'"});
  expect_error(make_file(std::string(depth, '{')), {"expected a tensor name (a string), found '{'"});
  expect_error(make_file("{\"__metadata__\":{\"k\":" + std::string(depth, '{')), {"must be a string, found '{'"});
  expect_error(make_file(open + close), {"does not start with '{'"});
}

TEST(SafetensorsMalformed, LongAndControlNamesAreQuotedInMessages) {
  std::string long_name(1000, 'x');
  std::string msg = error_of(make_file("{" + entry(long_name, "XYZ", "[1]", "[0,1]") + "}", Bytes(1)));
  EXPECT_NE(msg.find("... (1000 bytes)"), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 400u);
  msg = error_of(make_file("{\"a\\u0007b\\\"\":{\"dtype\":\"XYZ\"}}"));
  EXPECT_NE(msg.find("tensor \"a\\x07b\\\"\""), std::string::npos) << msg;
}

// Random corruption of a valid file: each variant loads or fails with an IOError, nothing else.
TEST(SafetensorsMalformed, RandomMutationsNeverCrash) {
  Bytes base = small_valid_file();
  std::mt19937 rng(1234);
  int errors = 0, loaded = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    Bytes f = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      size_t pos = rng() % f.size();
      switch (rng() % 4) {
        case 0: f[pos] = static_cast<uint8_t>(rng()); break;
        case 1: f[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2: f.erase(f.begin() + static_cast<long>(pos)); break;
        default: f.insert(f.begin() + static_cast<long>(pos), "[{\",:]}0-9\\"[rng() % 11]); break;
      }
      if (f.empty()) f.push_back(0);
    }
    try {
      parse_safetensors(f.data(), f.size(), kSource);
      ++loaded;
    } catch (const IOError& e) {
      ASSERT_EQ(std::string(e.what()).rfind(kSource + ": ", 0), 0u) << e.what();
      ++errors;
    }
  }
  EXPECT_GT(errors, 1500);
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace sepal::checkpoint
