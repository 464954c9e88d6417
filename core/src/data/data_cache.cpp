#include "xrec/data/data_cache.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <iterator>
#include <ostream>
#include <type_traits>
#include <utility>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "xrec/sha256.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {
namespace {

// File layout (integers little-endian, strings and arrays prefixed by a u64 count):
//   cache entry:  "XRECDATA" u32 kEntryVersion, key, u64 n, n x (source path, sha256), domain
//   domain:       "XRECDOMN" u32 kDomainVersion, u64 payload bytes, payload, u64 checksum(payload)
// Bump a version whenever the layout changes (kEntryVersion with every kDomainVersion bump): older entries
// then read as plain misses.
constexpr char kEntryMagic[8] = {'X', 'R', 'E', 'C', 'D', 'A', 'T', 'A'};
constexpr char kDomainMagic[8] = {'X', 'R', 'E', 'C', 'D', 'O', 'M', 'N'};
constexpr uint32_t kEntryVersion = 1;
constexpr uint32_t kDomainVersion = 1;
constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

template <class T>
T byteswap_if_big(T v) {
  if constexpr (kLittleEndian || sizeof(T) == 1) {
    return v;
  } else {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
    std::memcpy(&v, b, sizeof(T));
    return v;
  }
}

// A fast 64-bit checksum over 8-byte words (detects corruption and truncation, not an adversary).
uint64_t checksum(const std::string& bytes) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ bytes.size();
  size_t i = 0;
  auto mix = [&h](uint64_t w) {
    w *= 0x87c37b91114253d5ULL;
    w = (w << 31) | (w >> 33);
    h ^= w * 0x4cf5ad432745937fULL;
    h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
  };
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    mix(byteswap_if_big(w));
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < bytes.size(); ++k)
    tail |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i + k])) << (8 * k);
  mix(tail);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

class Writer {
 public:
  template <class T>
  void pod(T v) {
    static_assert(std::is_arithmetic_v<T>);
    v = byteswap_if_big(v);
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void u64(uint64_t v) { pod(v); }
  void str(const std::string& s) {
    u64(s.size());
    out_.append(s);
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    u64(v.size());
    if (v.empty()) return;
    if constexpr (kLittleEndian) {
      out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    } else {
      for (T x : v) pod(x);
    }
  }
  template <class T>
  void vecs(const std::vector<std::vector<T>>& v) {
    u64(v.size());
    for (auto& x : v) vec(x);
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (auto& s : v) str(s);
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

// Bounds-checked reader: every count is checked against the bytes left before anything is allocated, so
// a corrupt length is an Error, never a huge allocation or a read past the end.
class Reader {
 public:
  explicit Reader(const std::string& bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  template <class T>
  T pod() {
    need(sizeof(T), "a number");
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return byteswap_if_big(v);
  }
  uint64_t u64() { return pod<uint64_t>(); }
  int64_t i64() { return pod<int64_t>(); }
  size_t count(size_t min_bytes_each, const char* what) {
    const uint64_t n = u64();
    if (min_bytes_each > 0 && n > left() / min_bytes_each)
      throw Error(std::string("corrupt ") + what + " count " + std::to_string(n) + " (only " +
                  std::to_string(left()) + " bytes left)");
    return static_cast<size_t>(n);
  }
  std::string str() {
    const size_t n = count(1, "string length");
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    const size_t n = count(sizeof(T), "array length");
    std::vector<T> v(n);
    if (n == 0) return v;
    if constexpr (kLittleEndian) {
      std::memcpy(v.data(), p_, n * sizeof(T));
      p_ += n * sizeof(T);
    } else {
      for (auto& x : v) x = pod<T>();
    }
    return v;
  }
  template <class T>
  std::vector<std::vector<T>> vecs() {
    std::vector<std::vector<T>> v(count(8, "list length"));
    for (auto& x : v) x = vec<T>();
    return v;
  }
  std::vector<std::string> strs() {
    std::vector<std::string> v(count(8, "string list length"));
    for (auto& s : v) s = str();
    return v;
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  void need(size_t n, const char* what) {
    if (left() < n) throw Error(std::string("truncated data while reading ") + what);
  }
  const char* p_;
  const char* end_;
};

void write_side(Writer& w, const SideInfo& s) {
  w.u64(s.categorical.size());
  for (auto& f : s.categorical) {
    w.str(f.name);
    w.pod(f.vocab);
    w.vecs(f.values);
    w.strs(f.labels);
  }
  w.u64(s.numeric.size());
  for (auto& f : s.numeric) {
    w.str(f.name);
    w.vec(f.values);
  }
  w.u64(s.text.size());
  for (auto& f : s.text) {
    w.str(f.name);
    w.strs(f.values);
  }
}

SideInfo read_side(Reader& r) {
  SideInfo s;
  s.categorical.resize(r.count(8, "categorical field"));
  for (auto& f : s.categorical) {
    f.name = r.str();
    f.vocab = r.i64();
    f.values = r.vecs<int64_t>();
    f.labels = r.strs();
  }
  s.numeric.resize(r.count(8, "numeric field"));
  for (auto& f : s.numeric) {
    f.name = r.str();
    f.values = r.vec<double>();
  }
  s.text.resize(r.count(8, "text field"));
  for (auto& f : s.text) {
    f.name = r.str();
    f.values = r.strs();
  }
  return s;
}

void write_dense(Writer& w, const std::vector<DenseFeature>& fs) {
  w.u64(fs.size());
  for (auto& f : fs) {
    w.str(f.name);
    w.pod(f.dim);
    w.vec(f.values);
  }
}

std::vector<DenseFeature> read_dense(Reader& r) {
  std::vector<DenseFeature> fs(r.count(8, "dense feature"));
  for (auto& f : fs) {
    f.name = r.str();
    f.dim = r.i64();
    f.values = r.vec<float>();
  }
  return fs;
}

void write_cases(Writer& w, const std::vector<EvalCase>& cases) {
  w.u64(cases.size());
  for (auto& c : cases) {
    w.pod(c.user);
    w.vec(c.history);
    w.pod(c.target);
    w.vec(c.negatives);
  }
}

std::vector<EvalCase> read_cases(Reader& r) {
  std::vector<EvalCase> cases(r.count(32, "evaluation case"));
  for (auto& c : cases) {
    c.user = r.i64();
    c.history = r.vec<int64_t>();
    c.target = r.i64();
    c.negatives = r.vec<int64_t>();
  }
  return cases;
}

// Reads exactly n bytes in chunks, so a corrupt length never allocates more than the stream holds.
std::string read_exactly(std::istream& in, uint64_t n, const char* what) {
  std::string out;
  constexpr uint64_t kChunk = 1 << 20;
  while (out.size() < n) {
    const auto take = static_cast<size_t>(std::min<uint64_t>(kChunk, n - out.size()));
    const size_t at = out.size();
    out.resize(at + take);
    in.read(out.data() + at, static_cast<std::streamsize>(take));
    if (static_cast<size_t>(in.gcount()) != take)
      throw Error(std::string("truncated file: ") + what + " has " + std::to_string(at + static_cast<size_t>(in.gcount())) +
                  " of " + std::to_string(n) + " bytes");
  }
  return out;
}

template <class T>
T read_pod(std::istream& in, const char* what) {
  std::string b = read_exactly(in, sizeof(T), what);
  T v;
  std::memcpy(&v, b.data(), sizeof(T));
  return byteswap_if_big(v);
}

std::string read_str(std::istream& in, const char* what, uint64_t limit) {
  const auto n = read_pod<uint64_t>(in, what);
  if (n > limit) throw Error(std::string("corrupt ") + what + " length " + std::to_string(n));
  return read_exactly(in, n, what);
}

void expect_magic(std::istream& in, const char (&magic)[8], const char* what) {
  std::string m = read_exactly(in, 8, what);
  if (std::memcmp(m.data(), magic, 8) != 0) throw Error(std::string("not ") + what + " (wrong magic bytes)");
}

}  // namespace

// ---- serialisation ----------------------------------------------------------------------------------

void write_domain(std::ostream& out, const DomainData& d) {
  Writer w;
  w.str(d.name);
  w.pod(d.num_items);
  w.vecs(d.sequences);
  w.vecs(d.timestamps);
  w.vecs(d.ratings);
  w.strs(d.user_ids);
  w.strs(d.item_ids);
  write_side(w, d.item_side);
  write_side(w, d.user_side);
  write_dense(w, d.item_features);
  write_dense(w, d.user_features);
  w.vecs(d.fixed_negatives);
  w.pod(static_cast<uint8_t>(d.given_split.has_value()));
  if (d.given_split) {
    w.vecs(d.given_split->train);
    write_cases(w, d.given_split->valid);
    write_cases(w, d.given_split->test);
  }
  w.strs(d.source_files);

  Writer head;
  head.bytes().append(kDomainMagic, 8);
  head.pod(kDomainVersion);
  head.u64(w.bytes().size());
  out.write(head.bytes().data(), static_cast<std::streamsize>(head.bytes().size()));
  out.write(w.bytes().data(), static_cast<std::streamsize>(w.bytes().size()));
  Writer tail;
  tail.u64(checksum(w.bytes()));
  out.write(tail.bytes().data(), static_cast<std::streamsize>(tail.bytes().size()));
}

DomainData read_domain(std::istream& in) {
  expect_magic(in, kDomainMagic, "a serialised xrec domain");
  const auto version = read_pod<uint32_t>(in, "format version");
  if (version != kDomainVersion)
    throw Error("domain format version " + std::to_string(version) + ", expected " + std::to_string(kDomainVersion));
  const auto size = read_pod<uint64_t>(in, "payload size");
  const std::string payload = read_exactly(in, size, "the payload");
  const auto sum = read_pod<uint64_t>(in, "checksum");
  if (sum != checksum(payload)) throw Error("checksum mismatch: the data is corrupt");

  Reader r(payload);
  DomainData d;
  d.name = r.str();
  d.num_items = r.i64();
  d.sequences = r.vecs<int64_t>();
  d.timestamps = r.vecs<int64_t>();
  d.ratings = r.vecs<float>();
  d.user_ids = r.strs();
  d.item_ids = r.strs();
  d.item_side = read_side(r);
  d.user_side = read_side(r);
  d.item_features = read_dense(r);
  d.user_features = read_dense(r);
  d.fixed_negatives = r.vecs<int64_t>();
  if (r.pod<uint8_t>()) {
    GivenSplit g;
    g.train = r.vecs<int64_t>();
    g.valid = read_cases(r);
    g.test = read_cases(r);
    d.given_split = std::move(g);
  }
  d.source_files = r.strs();
  if (r.left() != 0) throw Error(std::to_string(r.left()) + " unexpected bytes after the domain");
  return d;
}

// ---- the cache --------------------------------------------------------------------------------------

DataCache::DataCache(std::string dir, std::shared_ptr<spdlog::logger> log)
    : dir_(std::move(dir)), log_(std::move(log)) {}

std::string DataCache::default_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (auto v = env("XREC_CACHE"); !v.empty()) return v;
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return v + "/xrec";
  if (auto v = env("HOME"); !v.empty()) return v + "/.cache/xrec";
  return (fs::temp_directory_path() / ("xrec-cache-" + std::to_string(::getuid()))).string();
}

std::string DataCache::path_for(const std::string& key) const {
  return (fs::path(dir_) / (sha256_hex(key) + ".xrd")).string();
}

std::optional<DomainData> DataCache::get(const std::string& key, std::string* why) const {
  auto log = log_ ? log_ : spdlog::default_logger();
  const std::string path = path_for(key);
  auto miss = [&](std::string reason) -> std::optional<DomainData> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  std::error_code ec;
  if (!fs::exists(path, ec)) return miss("absent");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    log->warn("data cache: cannot open '{}'; loading from the source files", path);
    return miss("unreadable");
  }
  try {
    expect_magic(in, kEntryMagic, "an xrec cache entry");
    const auto version = read_pod<uint32_t>(in, "format version");
    if (version != kEntryVersion)
      return miss("format version " + std::to_string(version) + ", expected " + std::to_string(kEntryVersion));
    constexpr uint64_t kMaxText = 1 << 24;  // keys and paths are short; a larger length means corruption
    if (read_str(in, "key", kMaxText) != key) return miss("another key's entry (hash collision)");
    const auto sources = read_pod<uint64_t>(in, "source count");
    if (sources > kMaxText) throw Error("corrupt source count " + std::to_string(sources));
    for (uint64_t i = 0; i < sources; ++i) {
      const std::string file = read_str(in, "source path", kMaxText);
      const std::string recorded = read_str(in, "source sha256", 64);
      if (!fs::is_regular_file(file, ec)) return miss("source file '" + file + "' is gone");
      if (sha256_file(file) != recorded) return miss("source file '" + file + "' changed");
    }
    DomainData d = read_domain(in);
    if (in.peek() != std::char_traits<char>::eof()) throw Error("unexpected bytes after the entry");
    d.validate();
    return d;
  } catch (const std::exception& e) {  // corrupt or truncated: rebuilt from the sources, never fatal
    log->warn("data cache: ignoring corrupt entry '{}': {}", path, e.what());
    return miss(std::string("corrupt: ") + e.what());
  }
}

void DataCache::put(const std::string& key, const DomainData& data) const {
  Writer head;
  head.bytes().append(kEntryMagic, 8);
  head.pod(kEntryVersion);
  head.str(key);
  head.u64(data.source_files.size());
  for (auto& file : data.source_files) {
    head.str(file);
    // The hash must be of what the dataset read, not of whatever the file holds now: the file is read
    // once more here and compared with the fingerprint read_file() recorded (issue 12, item 4). A file
    // rewritten in between is not cached; the next run reads it afresh.
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error("cannot read the source file '" + file + "' to hash it: " + std::strerror(errno));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error("error while reading the source file '" + file + "' to hash it");
    if (auto read = last_read_fingerprint(file); read && *read != content_fingerprint(bytes))
      throw Error("source file '" + file + "' changed after the dataset read it; the entry would describe "
                  "the old content under the new file's hash");
    head.str(sha256_hex(bytes));
  }

  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error("cannot create the data cache folder '" + dir_ + "': " + ec.message());
  const std::string path = path_for(key);
  // A unique temporary name per process and call; rename() replaces the entry atomically, so a reader
  // sees either the old entry or the complete new one.
  static std::atomic<unsigned> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write the data cache entry '" + tmp + "': " + std::strerror(errno));
    out.write(head.bytes().data(), static_cast<std::streamsize>(head.bytes().size()));
    write_domain(out, data);
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      throw Error("cannot write the data cache entry '" + tmp + "' (disk full?)");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error("cannot move the data cache entry into place ('" + path + "'): " + ec.message());
  }
}

}  // namespace xrec::engine
