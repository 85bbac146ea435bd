// special_files_test.cpp: nothing a folder holds may block or crash the data path: FIFOs,
// sockets, devices, a directory named like an image, a link to a FIFO, a link loop and a broken
// link are bad files for load_image, probe_image and the ImageFolder scan (an error naming the
// file under the Error policy, skipped and listed under Skip). Opening a FIFO for reading waits
// for a writer, so each case runs under a watchdog that releases the FIFO and fails the test
// instead of hanging it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>

#include "data/image.h"
#include "data/image_folder.h"
#include "data/test_util.h"

namespace sepal::data {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_png;

// The DataError message of fn, or "(no error)". Should fn still be running after 10 s it is
// blocked on `fifo`: the write end is opened (which releases a blocked reader) and the test fails.
std::string error_without_blocking(const std::string& fifo, const std::function<void()>& fn) {
  auto run = std::async(std::launch::async, [&]() -> std::string {
    try {
      fn();
    } catch (const DataError& e) {
      return e.what();
    }
    return "(no error)";
  });
  if (run.wait_for(std::chrono::seconds(10)) == std::future_status::ready) return run.get();
  ADD_FAILURE() << "blocked on " << fifo << " for 10 s";
  while (run.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  return "(blocked) " + run.get();
}

void make_fifo(const std::string& path) { ASSERT_EQ(mkfifo(path.c_str(), 0644), 0) << std::strerror(errno); }

// A listening Unix socket at path; the descriptor is closed by the caller.
int make_socket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  return fd;
}

class SpecialFiles : public ::testing::Test {
 protected:
  TempDir dir;
  std::string fifo;
  int sock = -1;
  void SetUp() override {
    write_png(dir / "a/1.png", 4, 4, 1);
    write_png(dir / "b/1.png", 4, 4, 2);
    fifo = dir / "b/x.png";
    make_fifo(fifo);
  }
  void TearDown() override {
    if (sock >= 0) ::close(sock);
  }
  // load_image and probe_image both refuse `path` with `reason`, without blocking.
  void expect_refused(const std::string& path, const std::string& reason) {
    EXPECT_EQ(error_without_blocking(fifo, [&] { load_image(path); }), path + ": " + reason);
    EXPECT_EQ(error_without_blocking(fifo, [&] { probe_image(path); }), path + ": " + reason);
  }
};

TEST_F(SpecialFiles, EachKindIsRefusedByNameWithoutBlocking) {
  expect_refused(fifo, "not a regular file: a named pipe (FIFO)");
  fs::create_symlink("x.png", dir / "b/link-to-fifo.jpg");
  expect_refused(dir / "b/link-to-fifo.jpg", "not a regular file: a named pipe (FIFO)");
  sock = make_socket(dir / "b/s.png");
  expect_refused(dir / "b/s.png", "not a regular file: a socket");
  fs::create_symlink("/dev/null", dir / "b/null.png");
  expect_refused(dir / "b/null.png", "not a regular file: a character device");
  fs::create_directory(dir / "b/d.png");
  expect_refused(dir / "b/d.png", "not a regular file: a directory");
  fs::create_symlink("loop2.png", dir / "b/loop1.png");
  fs::create_symlink("loop1.png", dir / "b/loop2.png");
  expect_refused(dir / "b/loop1.png", "cannot open: Too many levels of symbolic links");
  fs::create_symlink("gone.png", dir / "b/broken.png");
  expect_refused(dir / "b/broken.png", "cannot open: No such file or directory");
}

TEST_F(SpecialFiles, ImageFolderErrorNamesTheFifo) {
  EXPECT_EQ(error_without_blocking(fifo, [&] { ImageFolder f(dir.path()); }),
            fifo + ": not a regular file: a named pipe (FIFO)");
}

TEST_F(SpecialFiles, ImageFolderSkipsAndListsEveryKind) {
  sock = make_socket(dir / "b/s.png");
  fs::create_symlink("x.png", dir / "b/link-to-fifo.jpg");
  fs::create_symlink("/dev/null", dir / "b/null.png");
  fs::create_symlink("loop2.png", dir / "b/loop1.png");
  fs::create_symlink("loop1.png", dir / "b/loop2.png");
  fs::create_symlink("gone.png", dir / "b/broken.png");
  // A directory named like an image is a folder to search, as os.walk in torchvision makes it.
  write_png(dir / "b/d.png/2.png", 4, 4, 3);
  std::vector<SkippedFile> skipped;
  std::vector<std::pair<std::string, int64_t>> samples;
  std::string err = error_without_blocking(fifo, [&] {
    ImageFolder f(dir.path(), BadDataPolicy::Skip);
    skipped = f.skipped_files();
    samples = f.samples();
  });
  EXPECT_EQ(err, "(no error)");
  std::vector<std::pair<std::string, int64_t>> want_samples = {
      {dir / "a/1.png", 0}, {dir / "b/1.png", 1}, {dir / "b/d.png/2.png", 1}};
  EXPECT_EQ(samples, want_samples);
  std::vector<std::pair<std::string, std::string>> got, want = {
      {dir / "b/broken.png", "cannot open: No such file or directory"},
      {dir / "b/link-to-fifo.jpg", "not a regular file: a named pipe (FIFO)"},
      {dir / "b/loop1.png", "cannot open: Too many levels of symbolic links"},
      {dir / "b/loop2.png", "cannot open: Too many levels of symbolic links"},
      {dir / "b/null.png", "not a regular file: a character device"},
      {dir / "b/s.png", "not a regular file: a socket"},
      {dir / "b/x.png", "not a regular file: a named pipe (FIFO)"}};
  for (const auto& s : skipped) got.emplace_back(s.path, s.reason);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace sepal::data
