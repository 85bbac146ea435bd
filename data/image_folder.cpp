// image_folder.cpp: ImageFolder scanning (torchvision's class order and file order), bad-file
// handling, cat_to_name.json and the train/valid splits; see image_folder.h.
#include "data/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <system_error>

#include "io/json.h"
#include "io/utf8.h"

namespace fs = std::filesystem;

namespace sepal::data {

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> exts = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                ".pgm", ".tif",  ".tiff", ".webp"};
  return exts;
}

bool has_image_extension(const std::string& filename) {
  std::string lower = filename;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& e : image_extensions())
    if (lower.size() >= e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) return true;
  return false;
}

namespace {

bool hidden(const fs::path& p) {
  std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Sub-folders of `dir` (following links), hidden ones left out, sorted as plain strings.
std::vector<std::string> subfolders(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code dec;
    if (!hidden(it->path()) && it->is_directory(dec)) out.push_back(it->path().filename().string());
  }
  if (ec) throw DataError(dir.string() + ": cannot list the folder: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// torchvision's make_dataset for one class: every directory under class_dir (os.walk with
// followlinks) in sorted path order, its files with an image extension sorted by name.
std::vector<std::string> class_files(const fs::path& class_dir) {
  std::vector<std::pair<std::string, std::vector<std::string>>> dirs;  // (dir path, file names)
  std::vector<fs::path> pending = {class_dir};
  std::set<std::string> seen;  // canonical paths, so a link cycle cannot loop forever
  while (!pending.empty()) {
    fs::path dir = pending.back();
    pending.pop_back();
    std::error_code ec;
    std::string canonical = fs::canonical(dir, ec).string();
    if (!ec && !seen.insert(canonical).second) continue;
    std::vector<std::string> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (hidden(it->path())) continue;
      std::error_code dec;
      if (it->is_directory(dec)) {
        pending.push_back(it->path());
      } else if (has_image_extension(it->path().filename().string())) {
        files.push_back(it->path().filename().string());
      }
    }
    if (ec) throw DataError(dir.string() + ": cannot list the folder: " + ec.message());
    std::sort(files.begin(), files.end());
    dirs.emplace_back(dir.string(), std::move(files));
  }
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [dir, files] : dirs)
    for (const auto& f : files) out.push_back((fs::path(dir) / f).string());
  return out;
}

// The reason of a DataError about `path`: its message without the "PATH: " prefix.
std::string reason_of(const std::string& path, const std::string& what) {
  return what.rfind(path + ": ", 0) == 0 ? what.substr(path.size() + 2) : what;
}

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

// "2 truncated", "1 not an image" / "5 not images".
std::string count_phrase(const std::string& category, size_t n) {
  std::string phrase = category;
  if (n != 1) {
    if (category == "not an image") phrase = "not images";
    else if (category == "not a regular file") phrase = "not regular files";
    else if (category == "broken link") phrase = "broken links";
    else if (category == "unsupported format") phrase = "unsupported formats";
  }
  return std::to_string(n) + " " + phrase;
}

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  size_t shown = std::min<size_t>(names.size(), 10);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > shown) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, BadDataPolicy policy) : root_(root), policy_(policy) {
  std::error_code ec;
  if (!fs::exists(root, ec)) throw DataError(root + ": no such folder");
  if (!fs::is_directory(root, ec)) throw DataError(root + ": not a folder (expected root/<class>/<image>)");
  classes_ = subfolders(root);
  if (classes_.empty())
    throw DataError(root + ": no class folders found (expected root/<class>/<image>, e.g. " + root + "/1/image_06734.jpg)");
  // Decided here, before any file is probed or any epoch runs: a class name goes into
  // checkpoints and JSON as UTF-8 text, so a folder name that is not UTF-8 is refused.
  for (const auto& name : classes_)
    if (!io::is_valid_utf8(name))
      throw DataError(io::escape_invalid_utf8((fs::path(root) / name).string()) +
                      ": class folder name is not valid UTF-8 (class names are stored as UTF-8 in checkpoints "
                      "and JSON); rename it to a UTF-8 name (convmv -f latin1 -t utf8 converts Latin-1 names)");
  for (size_t i = 0; i < classes_.size(); ++i) class_to_idx_[classes_[i]] = static_cast<int64_t>(i);

  for (size_t label = 0; label < classes_.size(); ++label) {
    fs::path class_dir = fs::path(root) / classes_[label];
    std::vector<std::string> files = class_files(class_dir);
    if (files.empty()) {
      std::string exts;
      for (const auto& e : image_extensions()) exts += (exts.empty() ? "" : " ") + e;
      throw DataError(class_dir.string() + ": class folder '" + classes_[label] +
                      "' has no image files (supported extensions: " + exts +
                      "); remove the folder or add its images");
    }
    for (auto& path : files) {
      try {
        probe_image(path);
      } catch (const DataError& e) {
        if (policy_ == BadDataPolicy::Error) throw;
        std::string reason = reason_of(path, e.what());
        std::cerr << "warning: skipping " << path << ": " << reason << "\n";
        skipped_.push_back({path, reason});
        continue;
      }
      samples_.emplace_back(std::move(path), static_cast<int64_t>(label));
    }
  }
}

Sample ImageFolder::get(size_t index) const {
  if (index >= samples_.size())
    throw IndexError("ImageFolder " + root_ + ": index " + std::to_string(index) + " out of range for " +
                     std::to_string(samples_.size()) + " samples");
  const auto& [path, label] = samples_[index];
  try {
    return Sample{load_image(path), label};
  } catch (const DataError& e) {
    if (policy_ == BadDataPolicy::Skip) {
      std::lock_guard<std::mutex> lock(decode_mutex_);
      bool seen = false;
      for (const auto& s : decode_skipped_) seen = seen || s.path == path;
      if (!seen) decode_skipped_.push_back({path, reason_of(path, e.what())});
    }
    throw;
  }
}

std::vector<SkippedFile> ImageFolder::decode_skipped() const {
  std::lock_guard<std::mutex> lock(decode_mutex_);
  return decode_skipped_;
}

SkipTally ImageFolder::skip_tally() const {
  std::vector<SkippedFile> all = skipped_;
  for (auto& s : decode_skipped()) all.push_back(std::move(s));
  return tally_skipped(samples_.size() + skipped_.size(), all);
}

std::string ImageFolder::split_name() const {
  fs::path p(root_);
  std::string name = p.filename().string();
  if (name.empty()) name = p.parent_path().filename().string();  // "root/valid/"
  return (name.empty() ? root_ : name) + "/";
}

std::string skip_category(const std::string& reason) {
  // Checked in this order: "truncated JPEG" before "cannot decode", "exceeds the limit" before
  // anything about the header.
  if (reason.rfind("empty file", 0) == 0) return "empty";
  if (contains(reason, "truncated") || contains(reason, "shrank")) return "truncated";
  if (contains(reason, "too large") || contains(reason, "exceeds the limit")) return "too large";
  if (reason.rfind("not a regular file", 0) == 0) return "not a regular file";
  if (reason.rfind("not a recognised image", 0) == 0 || contains(reason, "unknown image type")) return "not an image";
  if (contains(reason, "not supported")) return "unsupported format";
  if (reason.rfind("cannot open", 0) == 0 || reason.rfind("cannot stat", 0) == 0 ||
      reason.rfind("read error", 0) == 0) {
    // stat() follows links: a link to nothing, or a loop of links
    if (contains(reason, "No such file") || contains(reason, "Too many levels of symbolic links")) return "broken link";
    return "unreadable";
  }
  if (reason.rfind("cannot decode", 0) == 0 || contains(reason, "no pixels") || contains(reason, "corrupt"))
    return "corrupt";
  return "other";
}

SkipTally tally_skipped(size_t files, const std::vector<SkippedFile>& skipped) {
  SkipTally t;
  t.files = files;
  t.skipped = skipped.size();
  for (const auto& s : skipped) ++t.by_reason[skip_category(s.reason)];
  return t;
}

std::string SkipTally::summary(const std::string& split) const {
  std::string out = "skipped " + std::to_string(skipped) + " of " + std::to_string(files) + " files in " + split;
  std::vector<std::pair<std::string, size_t>> parts(by_reason.begin(), by_reason.end());
  std::stable_sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : ": ") + count_phrase(parts[i].first, parts[i].second);
  return out;
}

std::string ImageFolder::describe(size_t index) const {
  return index < samples_.size() ? samples_[index].first : Dataset::describe(index);
}

std::map<std::string, std::string> load_cat_to_name(const std::string& path) {
  io::Json doc = io::load_json(path);
  if (!doc.is_object())
    throw io::JsonError(path + ": expected a JSON object {\"<folder>\": \"<display name>\", ...}, got " +
                    io::Json::type_name(doc.type()));
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : doc.as_object()) {
    if (!value.is_string())
      throw io::JsonError(path + ": the value of \"" + key + "\" is " + io::Json::type_name(value.type()) +
                      ", expected a string (the display name)");
    out[key] = value.as_string();
  }
  return out;
}

std::vector<std::string> class_names(const std::vector<std::string>& classes,
                                     const std::map<std::string, std::string>& cat_to_name) {
  std::vector<std::string> out;
  out.reserve(classes.size());
  for (const auto& c : classes) {
    auto it = cat_to_name.find(c);
    out.push_back(it != cat_to_name.end() ? it->second : c);
  }
  return out;
}

Splits open_image_folder_splits(const std::string& root, BadDataPolicy policy) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw DataError(root + ": no such folder (expected " + root + "/train and " + root + "/valid)");
  fs::path train = fs::path(root) / "train";
  if (!fs::is_directory(train, ec))
    throw DataError(root + ": no train/ folder (expected " + train.string() + "/<class>/<image> and " +
                    (fs::path(root) / "valid").string() + "/<class>/<image>)");
  Splits s;
  for (const char* name : {"valid", "test"}) {
    if (fs::is_directory(fs::path(root) / name, ec)) {
      s.valid_name = name;
      break;
    }
  }
  if (s.valid_name.empty())
    throw DataError(root + ": no valid/ (or test/) folder next to train/ (expected " +
                    (fs::path(root) / "valid").string() + "/<class>/<image>)");
  auto train_set = std::make_shared<ImageFolder>(train.string(), policy);
  auto valid_set = std::make_shared<ImageFolder>((fs::path(root) / s.valid_name).string(), policy);
  if (train_set->classes() != valid_set->classes()) {
    std::vector<std::string> only_train, only_valid;
    const auto& a = train_set->classes();
    const auto& b = valid_set->classes();
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_train));
    std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_valid));
    std::string msg = root + ": train/ and " + s.valid_name + "/ have different class folders (labels would not match)";
    if (!only_train.empty()) msg += "; only in train/: " + list_names(only_train);
    if (!only_valid.empty()) msg += "; only in " + s.valid_name + "/: " + list_names(only_valid);
    throw DataError(msg);
  }
  s.train = std::move(train_set);
  s.valid = std::move(valid_set);
  return s;
}

}  // namespace sepal::data
