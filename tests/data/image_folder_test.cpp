// image_folder_test.cpp: ImageFolder's class order and labels against torchvision, file
// discovery, cat_to_name.json, the train/valid splits, and each bad-data case under the Error
// and Skip policies.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image_folder.h"
#include "io/json.h"
#include "data/test_util.h"

namespace sepal::data {
namespace {

using testing::TempDir;
using testing::write_png;

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The expected values below come from torchvision 0.14 on the same layout:
//   /usr/bin/python3 -c "import torchvision; ds = torchvision.datasets.ImageFolder('root'); \
//     print(ds.classes[:15], [ds.class_to_idx[k] for k in ['1','2','10','100','102','99']], ds.samples[:8])"
// with folders root/1..root/102 holding img.jpg, and root/1 also holding Z.jpg, a.jpeg, b.PNG,
// sub/c.jpg, sub-x/d.bmp and notes.txt.
TEST(ImageFolder, ClassOrderAndLabelsMatchTorchvision) {
  TempDir dir;
  for (int i = 1; i <= 102; ++i) write_png(dir / std::to_string(i) + "/img.jpg", 4, 5, i);
  for (const char* f : {"1/Z.jpg", "1/a.jpeg", "1/b.PNG", "1/sub/c.jpg", "1/sub-x/d.bmp"}) write_png(dir / f);
  testing::write_text(dir / "1/notes.txt", "not an image extension: ignored");
  // Hidden entries are ignored (a deliberate difference from torchvision, see image_folder.h).
  write_png(dir / "1/.hidden.jpg");
  write_png(dir / ".ipynb_checkpoints/x.jpg");

  ImageFolder folder(dir.path());
  ASSERT_EQ(folder.classes().size(), 102u);
  std::vector<std::string> first15(folder.classes().begin(), folder.classes().begin() + 15);
  EXPECT_EQ(first15, (std::vector<std::string>{"1", "10", "100", "101", "102", "11", "12", "13", "14", "15",
                                               "16", "17", "18", "19", "2"}));
  const auto& idx = folder.class_to_idx();
  EXPECT_EQ(idx.at("1"), 0);
  EXPECT_EQ(idx.at("2"), 14);
  EXPECT_EQ(idx.at("10"), 1);
  EXPECT_EQ(idx.at("100"), 2);
  EXPECT_EQ(idx.at("102"), 4);
  EXPECT_EQ(idx.at("99"), 101);
  ASSERT_EQ(folder.size(), 102u + 5u);
  std::vector<std::pair<std::string, int64_t>> first8;
  for (size_t i = 0; i < 8; ++i)
    first8.emplace_back(folder.samples()[i].first.substr(dir.path().size() + 1), folder.samples()[i].second);
  EXPECT_EQ(first8, (std::vector<std::pair<std::string, int64_t>>{
                        {"1/Z.jpg", 0}, {"1/a.jpeg", 0}, {"1/b.PNG", 0}, {"1/img.jpg", 0},
                        {"1/sub/c.jpg", 0}, {"1/sub-x/d.bmp", 0}, {"10/img.jpg", 1}, {"100/img.jpg", 2}}));
  // get() decodes the file of that sample: folder 100's image has tag 100 in its red channel.
  Sample s = folder.get(7);
  EXPECT_EQ(s.label, 2);
  EXPECT_EQ(s.image.at(0, 0, 0), 100);
  EXPECT_EQ(folder.describe(7), dir / "100/img.jpg");
  EXPECT_THROW(folder.get(folder.size()), IndexError);
  EXPECT_EQ(folder.skipped(), 0u);
}

TEST(ImageFolder, ExtensionsAreTorchvisionsIgnoringCase) {
  for (const char* name : {"a.jpg", "a.JPEG", "a.Png", "a.ppm", "a.bmp", "a.pgm", "a.tif", "a.TIFF", "a.webp"})
    EXPECT_TRUE(has_image_extension(name)) << name;
  for (const char* name : {"a.gif", "a.txt", "jpg", "a.jpg.bak", "a.json"})
    EXPECT_FALSE(has_image_extension(name)) << name;
}

TEST(ImageFolder, FolderErrorsNameTheFolder) {
  TempDir dir;
  EXPECT_EQ(error_of([&] { ImageFolder f(dir / "nope"); }), dir / "nope" + ": no such folder");
  EXPECT_EQ(error_of([&] { ImageFolder f(dir.path()); }).rfind(dir.path() + ": no class folders found", 0), 0u);
  write_png(dir / "a/1.png");
  std::filesystem::create_directories(dir / "b");
  testing::write_text(dir / "b/readme.txt", "no images here");
  for (auto policy : {BadDataPolicy::Error, BadDataPolicy::Skip}) {
    std::string err = error_of([&] { ImageFolder f(dir.path(), policy); });
    EXPECT_EQ(err.rfind(dir / "b" + ": class folder 'b' has no image files", 0), 0u) << err;
  }
}

// Class names go into checkpoints and JSON as UTF-8, so a class folder named in Latin-1 is refused
// at scan time, under either policy, naming the folder with the bad byte escaped.
TEST(ImageFolder, NonUtf8ClassFolderIsRefusedAtScanTime) {
  TempDir dir;
  write_png(dir / "a/1.png");
  write_png(dir / "caf\xC3\xA9/1.png");  // valid UTF-8: fine
  ImageFolder ok(dir.path());
  EXPECT_EQ(ok.classes(), (std::vector<std::string>{"a", "caf\xC3\xA9"}));
  write_png(dir / "caf\xE9/1.png");
  const std::string want = dir / "caf\\xE9" +
                           ": class folder name is not valid UTF-8 (class names are stored as UTF-8 in checkpoints "
                           "and JSON); rename it to a UTF-8 name (convmv -f latin1 -t utf8 converts Latin-1 names)";
  for (auto policy : {BadDataPolicy::Error, BadDataPolicy::Skip})
    EXPECT_EQ(error_of([&] { ImageFolder f(dir.path(), policy); }), want);
  // The train/valid layout: the error names train/, before valid/ is scanned.
  write_png(dir / "root/train/caf\xE9/1.png");
  write_png(dir / "root/valid/caf\xE9/1.png");
  EXPECT_EQ(error_of([&] { open_image_folder_splits(dir / "root", BadDataPolicy::Skip); }).rfind(
                dir / "root/train/caf\\xE9: class folder name is not valid UTF-8", 0),
            0u);
}

class BadFolder : public ::testing::Test {
 protected:
  TempDir dir;
  void SetUp() override {
    write_png(dir / "a/1.png", 4, 4, 1);
    write_png(dir / "a/2.png", 4, 4, 2);
    write_png(dir / "b/1.png", 4, 4, 3);
    write_png(dir / "c/1.png", 4, 4, 4);
  }
  // Expects the Error policy to fail on `bad` and the Skip policy to drop only it.
  void check(const std::string& bad, const std::string& reason) {
    std::string err = error_of([&] { ImageFolder f(dir.path()); });
    EXPECT_EQ(err, bad + ": " + reason);
    ImageFolder skip(dir.path(), BadDataPolicy::Skip);
    ASSERT_EQ(skip.skipped(), 1u);
    EXPECT_EQ(skip.skipped_files()[0].path, bad);
    EXPECT_EQ(skip.skipped_files()[0].reason, reason);
    ASSERT_EQ(skip.size(), 4u);
    EXPECT_EQ(skip.classes(), (std::vector<std::string>{"a", "b", "c"}));
    // No label shifts: every remaining sample keeps its folder's label.
    for (const auto& [path, label] : skip.samples()) {
      std::string cls = std::filesystem::path(path).parent_path().filename().string();
      EXPECT_EQ(skip.classes()[label], cls) << path;
    }
  }
};

TEST_F(BadFolder, EmptyFile) {
  testing::write_bytes(dir / "b/2.jpg", {});
  check(dir / "b/2.jpg", "empty file (0 bytes)");
}

TEST_F(BadFolder, NonImageWithImageExtension) {
  testing::write_text(dir / "b/2.jpg", "<html>not an image</html>");
  check(dir / "b/2.jpg", "not a recognised image (JPEG, PNG, BMP, PPM/PGM)");
}

TEST_F(BadFolder, CorruptHeader) {
  auto png = testing::read_bytes(dir / "a/1.png");
  png.resize(20);  // signature and part of IHDR
  testing::write_bytes(dir / "a/3.png", png);
  std::string err = error_of([&] { ImageFolder f(dir.path()); });
  EXPECT_EQ(err.rfind(dir / "a/3.png" + ": ", 0), 0u) << err;
  ImageFolder skip(dir.path(), BadDataPolicy::Skip);
  EXPECT_EQ(skip.skipped(), 1u);
  EXPECT_EQ(skip.size(), 4u);
}

TEST_F(BadFolder, UnreadableFile) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root, which can read a chmod 000 file";
  write_png(dir / "c/2.png");
  ASSERT_EQ(chmod((dir / "c/2.png").c_str(), 0), 0);
  check(dir / "c/2.png", "cannot open: Permission denied");
}

TEST_F(BadFolder, AllFilesOfAClassSkippedKeepsTheLabels) {
  testing::write_bytes(dir / "b/1.png", {});  // b's only image
  ImageFolder skip(dir.path(), BadDataPolicy::Skip);
  EXPECT_EQ(skip.classes(), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(skip.size(), 3u);
  EXPECT_EQ(skip.samples()[2].second, 2);  // c keeps label 2
  EXPECT_EQ(skip.get(2).image.at(0, 0, 0), 4);
}

TEST_F(BadFolder, TruncatedJpegPassesTheScanAndFailsAtGet) {
  // The header is intact, so the cheap scan accepts it; decoding names the file.
  save_jpeg(testing::pattern_image(16, 16), dir / "b/2.jpg");
  auto jpeg = testing::read_bytes(dir / "b/2.jpg");
  jpeg.resize(jpeg.size() - 40);
  testing::write_bytes(dir / "b/2.jpg", jpeg);
  ImageFolder folder(dir.path());
  ASSERT_EQ(folder.size(), 5u);
  EXPECT_EQ(folder.describe(3), dir / "b/2.jpg");
  EXPECT_EQ(error_of([&] { folder.get(3); }),
            dir / "b/2.jpg" + ": truncated JPEG (no end-of-image marker after the last scan)");
}

TEST(SkipTally, CategoriesOfTheSkipReasons) {
  EXPECT_EQ(skip_category("empty file (0 bytes)"), "empty");
  EXPECT_EQ(skip_category("not a recognised image (JPEG, PNG, BMP, PPM/PGM)"), "not an image");
  EXPECT_EQ(skip_category("truncated JPEG (no end-of-image marker after the last scan)"), "truncated");
  EXPECT_EQ(skip_category("truncated BMP (the pixel data is shorter than the header says)"), "truncated");
  EXPECT_EQ(skip_category("20000x20000 pixels exceeds the limit of 178956970 (a possible decompression bomb)"),
            "too large");
  EXPECT_EQ(skip_category("file too large for an image"), "too large");
  EXPECT_EQ(skip_category("not a regular file: a named pipe (FIFO)"), "not a regular file");
  EXPECT_EQ(skip_category("cannot open: No such file or directory"), "broken link");
  EXPECT_EQ(skip_category("cannot open: Too many levels of symbolic links"), "broken link");
  EXPECT_EQ(skip_category("cannot open: Permission denied"), "unreadable");
  EXPECT_EQ(skip_category("read error: Input/output error"), "unreadable");
  EXPECT_EQ(skip_category("TIFF images are not supported (stb_image decodes JPEG, PNG, BMP, PPM/PGM); convert it"),
            "unsupported format");
  EXPECT_EQ(skip_category("cannot decode (bad huffman code)"), "corrupt");
  EXPECT_EQ(skip_category("image has no pixels"), "corrupt");
  EXPECT_EQ(skip_category("something new"), "other");
}

TEST(SkipTally, SummaryLine) {
  std::vector<SkippedFile> skipped;
  for (int i = 0; i < 7; ++i) skipped.push_back({"t" + std::to_string(i), "truncated JPEG (no end-of-image marker)"});
  for (int i = 0; i < 5; ++i) skipped.push_back({"n" + std::to_string(i), "not a recognised image (JPEG, PNG)"});
  skipped.push_back({"e", "empty file (0 bytes)"});
  skipped.push_back({"f", "not a regular file: a socket"});
  SkipTally t = tally_skipped(412, skipped);
  EXPECT_EQ(t.files, 412u);
  EXPECT_EQ(t.skipped, 14u);
  EXPECT_EQ(t.by_reason.at("truncated"), 7u);
  EXPECT_EQ(t.summary("valid/"),
            "skipped 14 of 412 files in valid/: 7 truncated, 5 not images, 1 empty, 1 not a regular file");
  EXPECT_EQ(tally_skipped(40, {}).summary("train/"), "skipped 0 of 40 files in train/");
  skipped.push_back({"g", "not a regular file: a socket"});
  EXPECT_EQ(tally_skipped(412, skipped).summary("x/"),
            "skipped 15 of 412 files in x/: 7 truncated, 5 not images, 2 not regular files, 1 empty");
}

// Scan-time and decode-time skips add up to one total per split, each file counted once.
TEST_F(BadFolder, SkipTallyCountsScanAndDecodeSkips) {
  testing::write_bytes(dir / "a/empty.jpg", {});
  testing::write_text(dir / "a/text.jpg", "<html>not an image</html>");
  ASSERT_EQ(symlink((dir / "a/nowhere.png").c_str(), (dir / "b/link.png").c_str()), 0);
  // IHDR width and height 12000 x 16000: over the pixel limit (stb itself refuses 20000 x 20000)
  auto png = testing::read_bytes(dir / "a/1.png");
  for (auto [k, v] : {std::pair{16, 12000}, std::pair{20, 16000}})
    png[k] = 0, png[k + 1] = 0, png[k + 2] = static_cast<uint8_t>(v >> 8), png[k + 3] = static_cast<uint8_t>(v);
  testing::write_bytes(dir / "b/huge.png", png);
  save_jpeg(testing::pattern_image(16, 16), dir / "c/cut.jpg");
  auto jpeg = testing::read_bytes(dir / "c/cut.jpg");
  jpeg.resize(jpeg.size() - 40);
  testing::write_bytes(dir / "c/cut.jpg", jpeg);

  ImageFolder folder(dir.path(), BadDataPolicy::Skip);
  EXPECT_EQ(folder.skipped(), 4u);
  ASSERT_EQ(folder.size(), 5u);  // 4 good files and the truncated JPEG, which passes the scan
  EXPECT_EQ(folder.skip_tally().summary("x/"),
            "skipped 4 of 9 files in x/: 1 broken link, 1 empty, 1 not an image, 1 too large");
  for (int epoch = 0; epoch < 2; ++epoch)
    for (size_t i = 0; i < folder.size(); ++i) {
      if (folder.describe(i) == dir / "c/cut.jpg") EXPECT_THROW(folder.get(i), DataError);
      else folder.get(i);
    }
  ASSERT_EQ(folder.decode_skipped().size(), 1u);  // met twice, counted once
  EXPECT_EQ(folder.decode_skipped()[0].path, dir / "c/cut.jpg");
  SkipTally t = folder.skip_tally();
  EXPECT_EQ(t.files, 9u);
  EXPECT_EQ(t.skipped, 5u);
  EXPECT_EQ(t.summary("x/"), "skipped 5 of 9 files in x/: 1 broken link, 1 empty, 1 not an image, 1 too large, 1 truncated");
  const std::string name = std::filesystem::path(dir.path()).filename().string() + "/";
  EXPECT_EQ(folder.split_name(), name);
  EXPECT_EQ(ImageFolder(dir.path() + "/", BadDataPolicy::Skip).split_name(), name);
}

TEST(Splits, TrainValidOrTest) {
  TempDir dir;
  std::string err = error_of([&] { open_image_folder_splits(dir.path()); });
  EXPECT_EQ(err.rfind(dir.path() + ": no train/ folder", 0), 0u) << err;
  write_png(dir / "train/x/1.png");
  write_png(dir / "train/y/1.png");
  err = error_of([&] { open_image_folder_splits(dir.path()); });
  EXPECT_EQ(err, dir.path() + ": no valid/ (or test/) folder next to train/ (expected " + dir / "valid" +
                     "/<class>/<image>)");
  write_png(dir / "test/x/1.png");
  write_png(dir / "test/y/1.png");
  Splits s = open_image_folder_splits(dir.path());
  EXPECT_EQ(s.valid_name, "test");
  EXPECT_EQ(s.train->size(), 2u);
  EXPECT_EQ(s.valid->classes(), s.train->classes());
  write_png(dir / "valid/x/1.png");
  write_png(dir / "valid/z/1.png");
  err = error_of([&] { open_image_folder_splits(dir.path()); });
  EXPECT_EQ(err, dir.path() + ": train/ and valid/ have different class folders (labels would not match); "
                              "only in train/: 'y'; only in valid/: 'z'");
  write_png(dir / "valid/y/1.png");
  std::filesystem::remove_all(dir / "valid/z");
  s = open_image_folder_splits(dir.path());
  EXPECT_EQ(s.valid_name, "valid");
  EXPECT_EQ(s.valid->size(), 2u);
}

TEST(CatToName, LoadsAndMapsDisplayNames) {
  TempDir dir;
  testing::write_text(dir / "cat_to_name.json", R"({"21": "fire lily", "3": "canterbury bells", "1": "pink primrose"})");
  auto map = load_cat_to_name(dir / "cat_to_name.json");
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(class_names({"1", "10", "21", "3"}, map),
            (std::vector<std::string>{"pink primrose", "10", "fire lily", "canterbury bells"}));

  testing::write_text(dir / "bad.json", "{\"1\": \"a\",\n \"2\": 'b'}");
  EXPECT_EQ(error_of([&] { load_cat_to_name(dir / "bad.json"); }),
            dir / "bad.json" + ":2:7: expected a value, found '''");
  testing::write_text(dir / "num.json", R"({"1": "a", "2": 7})");
  EXPECT_EQ(error_of([&] { load_cat_to_name(dir / "num.json"); }),
            dir / "num.json" + ": the value of \"2\" is number, expected a string (the display name)");
  testing::write_text(dir / "list.json", R"(["a"])");
  EXPECT_EQ(error_of([&] { load_cat_to_name(dir / "list.json"); }).rfind(dir / "list.json" + ": expected a JSON object", 0), 0u);
  EXPECT_THROW(load_cat_to_name(dir / "missing.json"), IOError);
}

}  // namespace
}  // namespace sepal::data
