#pragma once
// A binary cache of loaded-and-preprocessed domains. An entry is found by a key (the dataset component,
// its params and the preprocessing options) and is valid only while every source file it was built from
// still has the recorded sha256: a changed file or option means a miss. Torch-free.
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "xrec/api/data.hpp"

namespace spdlog {
class logger;
}

namespace xrec::engine {

class DataCache {
 public:
  // dir: $XREC_CACHE, else $XDG_CACHE_HOME/xrec, else ~/.cache/xrec (default_dir()) + "/data".
  // Warnings (a corrupt entry) go to `log`, else to spdlog's default logger.
  explicit DataCache(std::string dir, std::shared_ptr<spdlog::logger> log = nullptr);
  static std::string default_dir();

  // The cached domain for `key`, or nullopt if absent, unreadable, of another format version, or stale.
  // `why`, if given, receives the reason of a miss ("absent", "source file ... changed", ...).
  std::optional<DomainData> get(const std::string& key, std::string* why = nullptr) const;
  // Stores `data` (with the sha256 of each of data.source_files) atomically (write + rename). Throws
  // xrec::Error naming the path when a source file cannot be hashed or the entry cannot be written.
  void put(const std::string& key, const DomainData& data) const;
  const std::string& dir() const { return dir_; }
  // The entry's file: dir/<sha256 of key>.xrd
  std::string path_for(const std::string& key) const;

 private:
  std::string dir_;
  std::shared_ptr<spdlog::logger> log_;
};

// Serialisation of every DomainData field; read_domain throws xrec::Error on a truncated or foreign file.
void write_domain(std::ostream& out, const DomainData& data);
DomainData read_domain(std::istream& in);

}  // namespace xrec::engine
