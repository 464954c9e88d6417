#pragma once
// SHA-256, for config hashes, plugin fingerprints and dataset cache keys.
#include <string>

namespace xrec {

std::string sha256_hex(const std::string& bytes);
// Hash of a file's contents; throws xrec::Error if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace xrec
