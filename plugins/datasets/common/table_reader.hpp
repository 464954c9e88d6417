#pragma once
// Reading delimited text tables for the dataset plugins (header-only; not a plugin): records split by a
// separator (whitespace, tab, space, or RFC 4180 CSV with quoted fields), numbers parsed strictly, and
// the `file:line: problem` prefix every malformed-input error starts with.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/text.hpp"

namespace xrec::datasets {

// "path:line: ", the prefix of every error about one line of a file.
inline std::string at_line(const std::string& path, size_t line) {
  return path + ":" + std::to_string(line) + ": ";
}

// A field as shown in an error message: quoted, cut short so a broken line cannot flood the terminal,
// non-printable bytes escaped (xrec::quoted).
inline std::string shown(std::string_view s) { return quote_token(s, 60); }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A finite decimal number ("4", "4.5", "-1e3"; surrounding spaces allowed). False for anything else,
// including "", "nan", "inf" and trailing text ("4 stars").
inline bool parse_real(std::string_view s, double* out) {
  s = trim(s);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}

// A timestamp: an integer, or a number with a fraction (RecBole writes `timestamp:float`), rounded to
// the nearest whole unit.
inline bool parse_time(std::string_view s, int64_t* out) {
  std::string_view t = trim(s);
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  if (t.empty()) return false;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  if (ec == std::errc() && p == t.data() + t.size()) return true;
  double d;
  if (!parse_real(t, &d) || std::fabs(d) >= 9.2e18) return false;
  *out = std::llround(d);
  return true;
}

enum class Separator {
  Whitespace,  // runs of spaces and tabs
  Tab,         // every tab separates (empty fields are kept, so a missing value shows as a column)
  Space,       // runs of spaces (tabs belong to the field)
  Comma,       // RFC 4180 CSV: "quoted, fields" with "" for a quote, and line breaks inside quotes
};

// Iterates the records of a table, skipping blank lines. Fields are views into the text (or, for quoted
// CSV fields with "" escapes, into the reader's scratch space) valid until the next call of next().
class RecordReader {
 public:
  RecordReader(const std::string& text, std::string path, Separator sep)
      : text_(text), path_(std::move(path)), sep_(sep) {}

  // Moves to the next non-blank record; false at the end of the text. Throws InputError for malformed
  // CSV quoting.
  bool next() {
    fields_.clear();
    scratch_.clear();
    while (pos_ < text_.size()) {
      size_t end = text_.find('\n', pos_);
      if (end == std::string::npos) end = text_.size();
      std::string_view line(text_.data() + pos_, end - pos_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (trim(line).empty()) {  // blank lines are harmless in every format
        pos_ = end + 1;
        ++line_no_;
        continue;
      }
      record_line_ = line_no_;
      if (sep_ == Separator::Comma) {
        read_csv_record();
      } else {
        split(line);
        pos_ = end + 1;
        ++line_no_;
      }
      return true;
    }
    return false;
  }

  // The 1-based line where the current record starts.
  size_t line() const { return record_line_; }
  const std::vector<std::string_view>& fields() const { return fields_; }
  const std::string& path() const { return path_; }
  // "path:line: " for the current record.
  std::string where() const { return at_line(path_, record_line_); }

 private:
  void split(std::string_view line) {
    if (sep_ == Separator::Tab) {
      size_t start = 0;
      for (size_t i = 0; i <= line.size(); ++i)
        if (i == line.size() || line[i] == '\t') {
          fields_.push_back(line.substr(start, i - start));
          start = i + 1;
        }
      return;
    }
    const bool tabs_split = sep_ == Separator::Whitespace;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || (tabs_split && line[i] == '\t'))) ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && !(tabs_split && line[j] == '\t')) ++j;
      if (j > i) fields_.push_back(line.substr(i, j - i));
      i = j;
    }
  }

  // One CSV record from pos_, which may span lines when a quoted field holds line breaks.
  void read_csv_record() {
    const size_t n = text_.size();
    for (;;) {
      if (pos_ < n && text_[pos_] == '"') {
        const size_t open_line = line_no_;
        size_t i = pos_ + 1;
        std::string unescaped;
        bool escaped = false;
        size_t start = i;
        for (;;) {
          size_t q = text_.find('"', i);
          if (q == std::string::npos)
            throw InputError(at_line(path_, open_line) + "field " + std::to_string(fields_.size() + 1) +
                             " opens a quote that is never closed (expected a closing \" before the end of the file)");
          for (size_t k = i; k < q; ++k) line_no_ += text_[k] == '\n';
          if (q + 1 < n && text_[q + 1] == '"') {  // "" inside quotes is one quote character
            unescaped.append(text_, start, q + 1 - start);
            escaped = true;
            i = start = q + 2;
            continue;
          }
          if (escaped) {
            unescaped.append(text_, start, q - start);
            scratch_.push_back(std::move(unescaped));
            fields_.emplace_back(scratch_.back());
          } else {
            fields_.emplace_back(text_.data() + start, q - start);
          }
          pos_ = q + 1;
          break;
        }
        if (pos_ < n && text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < n && text_[pos_] == '\r') ++pos_;
        if (pos_ >= n || text_[pos_] == '\n') break;
        throw InputError(at_line(path_, line_no_) + "unexpected " + shown(std::string_view(&text_[pos_], 1)) +
                         " after the closing quote of field " + std::to_string(fields_.size()) +
                         " (expected ',' or the end of the line; a quote inside a quoted field is written \"\")");
      }
      size_t j = pos_;
      while (j < n && text_[j] != ',' && text_[j] != '\n') ++j;
      std::string_view field(text_.data() + pos_, j - pos_);
      if (j < n && text_[j] == ',') {
        fields_.push_back(field);
        pos_ = j + 1;
        continue;
      }
      if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
      fields_.push_back(field);
      pos_ = j;
      break;
    }
    // pos_ is at the record's '\n' (or the end of the text).
    if (pos_ < n) ++pos_;
    ++line_no_;
  }

  const std::string& text_;
  std::string path_;
  Separator sep_;
  size_t pos_ = 0;
  size_t line_no_ = 1;
  size_t record_line_ = 0;
  std::vector<std::string_view> fields_;
  std::deque<std::string> scratch_;  // unescaped quoted fields; a deque so earlier fields stay in place
};

// "path:line: found 3 columns, expected 2 (user item)".
inline std::string column_count_error(const RecordReader& r, size_t expected, const std::string& layout) {
  return r.where() + "found " + std::to_string(r.fields().size()) + " column" + (r.fields().size() == 1 ? "" : "s") +
         ", expected " + std::to_string(expected) + " (" + layout + ")";
}

}  // namespace xrec::datasets
