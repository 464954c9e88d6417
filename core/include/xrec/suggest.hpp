#pragma once
// "Did you mean" hints for unknown keys and component names.
#include <cstddef>
#include <string>
#include <vector>

namespace xrec {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two adjacent
// characters each cost one ("hdiden" -> "hidden" is 1).
size_t edit_distance(const std::string& a, const std::string& b);

// Up to three candidates nearest to `name` by edit distance (closest first, ties in input order), only
// those within max(2, name.size() / 3) edits. Edits count insertions, deletions, substitutions and swaps
// of adjacent characters; a candidate that differs in every character is never near. For names of four
// or more characters, a candidate whose beginning is that near counts too, one edit behind ("amazn" ->
// "amazon_s3rec").
std::vector<std::string> nearest_names(const std::string& name, const std::vector<std::string>& candidates);

// "; did you mean 'hidden'?" or "" when nothing is near.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace xrec
