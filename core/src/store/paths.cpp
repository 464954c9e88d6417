#include "xrec/store.hpp"

namespace xrec {

std::filesystem::path store_files_dir(const std::string& db_path) {
  const std::filesystem::path db = std::filesystem::absolute(db_path);
  return db.parent_path() / (db.has_extension() ? db.stem().string() : db.filename().string() + ".runs");
}

}  // namespace xrec
