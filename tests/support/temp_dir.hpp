#pragma once
// A fresh folder under the system temp dir for one test, removed when the test ends.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace xrec::test {

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("xrec-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The path of `rel` inside the folder (nothing is created).
  std::string path(const std::string& rel = "") const { return (path_ / rel).string(); }
  std::string file(const std::string& rel) const { return path(rel); }
  std::string root() const { return path_.string(); }
  // Writes `bytes` to `rel` (creating parent folders) and returns its path.
  std::string write(const std::string& rel, const std::string& bytes) const {
    const auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace xrec::test
