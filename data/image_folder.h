// image_folder.h: torchvision's ImageFolder for root/<class>/<image> trees, cat_to_name.json
// display names, and the train/ + valid/ (or test/) layout the trainer reads.
//
// Class order and labels are torchvision's: the class folders sorted as plain strings (so '1',
// '10', '100', '101', '102', '11', ... and label 2 is folder '100'), files found recursively
// under each class folder, grouped by directory in sorted path order and sorted by name within
// a directory, with torchvision's extensions (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp,
// case-insensitive). One deliberate difference: hidden entries (names starting with '.', such
// as .ipynb_checkpoints or .DS_Store) are ignored, where torchvision would make a hidden folder
// a class. TIFF and WebP files are recognised (so they are not silently dropped) but stb_image
// cannot decode them: they are bad files under either policy.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"

namespace sepal::data {

// torchvision's IMG_EXTENSIONS, lower case with the dot.
const std::vector<std::string>& image_extensions();
// True when the file name ends with one of image_extensions(), ignoring case.
bool has_image_extension(const std::string& filename);

struct SkippedFile {
  std::string path;
  std::string reason;  // the DataError message without the "PATH: " prefix
};

// The short category of a skip reason (SkippedFile::reason), for totals: "empty", "not an image",
// "truncated", "too large", "not a regular file", "broken link", "unreadable", "unsupported
// format", "corrupt", else "other".
std::string skip_category(const std::string& reason);

// How many files of one split were skipped, and why: the files found while scanning (those with an
// image extension), the ones left out (at scan time or when decoding failed, each file once) and
// their count per skip_category().
struct SkipTally {
  size_t files = 0;
  size_t skipped = 0;
  std::map<std::string, size_t> by_reason;
  // "skipped 3 of 40 files in valid/: 2 truncated, 1 empty" (largest counts first, then by name;
  // "skipped 0 of 40 files in valid/" when none was).
  std::string summary(const std::string& split) const;
};
SkipTally tally_skipped(size_t files, const std::vector<SkippedFile>& skipped);

class ImageFolder : public Dataset {
 public:
  // Scans root. Each file is checked cheaply (opened and its header parsed, not decoded): under
  // Error the first bad file throws DataError naming it; under Skip it is left out, listed in
  // skipped_files() and warned about on stderr. Always errors (naming the folder): root missing
  // or not a folder, no class folders, a class folder with no image files (as torchvision), a
  // class folder whose name is not valid UTF-8 (class names are stored as UTF-8 text in
  // checkpoints and JSON; the message shows the invalid bytes as \xHH, e.g. "root/caf\xE9").
  // Anything that is not a regular file (a FIFO, socket, device, broken link or link loop) with
  // an image extension is a bad file; nothing is opened in a way that could block.
  // A class whose files were all skipped keeps its label and simply has no samples.
  explicit ImageFolder(const std::string& root, BadDataPolicy policy = BadDataPolicy::Error);

  size_t size() const override { return samples_.size(); }
  Sample get(size_t index) const override;  // decodes with load_image
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string describe(size_t index) const override;
  BadDataPolicy bad_data_policy() const override { return policy_; }

  const std::string& root() const { return root_; }
  const std::map<std::string, int64_t>& class_to_idx() const { return class_to_idx_; }
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }  // (path, label)
  // Files left out while scanning (each also warned about on stderr).
  size_t skipped() const { return skipped_.size(); }
  const std::vector<SkippedFile>& skipped_files() const { return skipped_; }
  // Files that passed the scan but failed to decode in get() under Skip, each file once however
  // many epochs met it, in the order first met (thread-safe: loader workers call get()).
  std::vector<SkippedFile> decode_skipped() const;
  // Both together: the split's total for "skipped N of M files in valid/: ...".
  SkipTally skip_tally() const;
  // The folder's name with a slash ("valid/"), for that line.
  std::string split_name() const;

 private:
  std::string root_;
  BadDataPolicy policy_;
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> class_to_idx_;
  std::vector<std::pair<std::string, int64_t>> samples_;
  std::vector<SkippedFile> skipped_;
  mutable std::mutex decode_mutex_;
  mutable std::vector<SkippedFile> decode_skipped_;
};

// Reads a cat_to_name.json object {"1": "pink primrose", ...}: folder name -> display name.
// io::JsonError naming the file when it is not valid JSON, not an object, or a value is not a string.
std::map<std::string, std::string> load_cat_to_name(const std::string& path);
// Display names in label order: map[c] where present, else the folder name c itself.
std::vector<std::string> class_names(const std::vector<std::string>& classes,
                                     const std::map<std::string, std::string>& cat_to_name);

// Opens root/train and root/valid (or root/test when there is no valid/) as ImageFolders.
// DataError naming root when train/ or both valid/ and test/ are missing, and naming the
// classes that differ when the two halves do not have the same class folders.
Splits open_image_folder_splits(const std::string& root, BadDataPolicy policy = BadDataPolicy::Error);

}  // namespace sepal::data
