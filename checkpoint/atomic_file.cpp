// atomic_file.cpp: temp file + fsync + rename + fsync of the folder (see atomic_file.h).
#include "checkpoint/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "tensor/error.h"

namespace sepal::checkpoint {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void sync_dir(const std::string& dir, const std::string& context) {
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd < 0)
    throw IOError(context + ": cannot open the folder " + dir + " to sync it: " + std::strerror(errno));
  if (::fsync(d.fd) != 0 && errno != EINVAL && errno != ENOTSUP)
    throw IOError(context + ": syncing the folder " + dir + " failed: " + std::strerror(errno));
}

void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce,
                           const std::string& context) {
  auto fail = [&](const std::string& what, int err) {
    throw IOError(context + ": " + what + ": " + std::strerror(err));
  };
  static std::atomic<uint64_t> counter{0};
  std::string tmp;
  Fd f;
  for (int attempt = 0; f.fd < 0; ++attempt) {
    tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f.fd < 0 && (errno != EEXIST || attempt >= 100)) fail("cannot create the temporary file " + tmp, errno);
  }
  // Removes the temporary file unless it was renamed into place.
  struct TmpGuard {
    const std::string& name;
    bool armed = true;
    ~TmpGuard() {
      if (armed) ::unlink(name.c_str());
    }
  } guard{tmp};

  produce([&](const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t put = ::write(f.fd, p, std::min<size_t>(n, size_t{1} << 30));
      if (put < 0) {
        if (errno == EINTR) continue;
        fail("write to " + tmp + " failed", errno);
      }
      p += put;
      n -= static_cast<size_t>(put);
    }
  });
  if (::fsync(f.fd) != 0) fail("fsync of " + tmp + " failed", errno);
  int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) fail("close of " + tmp + " failed", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp + " to it", errno);
  guard.armed = false;
  sync_dir(parent_dir(path), context + ": written, but");
}

}  // namespace sepal::checkpoint
