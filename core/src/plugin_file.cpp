#include "xrec/plugin_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

#include "xrec/sha256.hpp"

namespace xrec {

namespace {

// ELF64 constants (from the System V ABI; <elf.h> is not needed for a dozen numbers).
constexpr size_t kEhdrSize = 64, kPhdrSize = 56, kShdrSize = 64;
constexpr uint16_t kEtDyn = 3;
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kShtNobits = 8;
constexpr uint16_t kPnXnum = 0xffff, kShnXindex = 0xffff;
constexpr uint64_t kMaxSectionBytes = 64 * 1024;

#if defined(__x86_64__)
constexpr int kHostMachine = 62;  // EM_X86_64
#elif defined(__aarch64__)
constexpr int kHostMachine = 183;  // EM_AARCH64
#else
constexpr int kHostMachine = -1;  // not checked
#endif

// Little-endian reads at a checked offset.
class Image {
 public:
  explicit Image(const std::string& b) : b_(b) {}
  uint64_t size() const { return b_.size(); }
  // [offset, offset+len) lies inside the image, without overflow.
  bool within(uint64_t offset, uint64_t len) const { return offset <= size() && len <= size() - offset; }
  uint64_t u(uint64_t offset, int bytes) const {  // caller has checked within(offset, bytes)
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b_[offset + i]);
    return v;
  }
  const std::string& bytes() const { return b_; }

 private:
  const std::string& b_;
};

std::string num(uint64_t v) { return std::to_string(v); }

struct Section {
  uint32_t name, type;
  uint64_t offset, size;
};

// "" and the section's bytes, or the problem.
std::string find_section(const Image& img, std::string& out) {
  if (img.size() < kEhdrSize)
    return img.size() == 0 ? "not an ELF file (the file is empty)"
                           : "not an ELF file (" + num(img.size()) + " bytes, shorter than an ELF header)";
  const std::string& b = img.bytes();
  if (std::memcmp(b.data(), "\x7f" "ELF", 4) != 0) return "not an ELF file (no ELF magic)";
  if (b[4] != 2) return "not a 64-bit ELF file (class " + num(static_cast<unsigned char>(b[4])) + ")";
  if (b[5] != 1) return "not a little-endian ELF file (data encoding " + num(static_cast<unsigned char>(b[5])) + ")";
  if (img.u(16, 2) != kEtDyn) return "not a shared library (ELF type " + num(img.u(16, 2)) + ")";
  const uint64_t machine = img.u(18, 2);
  if (kHostMachine >= 0 && machine != static_cast<uint64_t>(kHostMachine))
    return "built for another machine (ELF machine " + num(machine) + ", this host is " + num(kHostMachine) + ")";

  // Program headers: every loadable segment must lie inside the file. A truncated library fails here
  // (dlopen would map pages past the end of the file and die of SIGBUS touching them).
  const uint64_t phoff = img.u(32, 8), phentsize = img.u(54, 2), phnum = img.u(56, 2);
  if (phnum == kPnXnum) return "malformed ELF file (extended program header count is not supported)";
  if (phnum == 0) return "malformed ELF file (no program headers)";
  if (phentsize != kPhdrSize) return "malformed ELF file (program header size " + num(phentsize) + ", expected 56)";
  if (!img.within(phoff, phnum * kPhdrSize))
    return "truncated or malformed ELF file (program headers at " + num(phoff) + " end past the file's " +
           num(img.size()) + " bytes)";
  for (uint64_t i = 0; i < phnum; ++i) {
    const uint64_t ph = phoff + i * kPhdrSize;
    if (img.u(ph, 4) != kPtLoad) continue;
    const uint64_t off = img.u(ph + 8, 8), filesz = img.u(ph + 32, 8);
    if (!img.within(off, filesz))
      return "truncated ELF file (loadable segment " + num(i) + " needs bytes " + num(off) + "+" + num(filesz) +
             ", the file has " + num(img.size()) + ")";
  }

  // Section headers and their name table.
  const uint64_t shoff = img.u(40, 8), shentsize = img.u(58, 2), shnum = img.u(60, 2), shstrndx = img.u(62, 2);
  if (shnum == 0 || shoff == 0) return "not an xrec plugin (no section table, so no " + std::string(kPluginSectionName) + " section)";
  if (shentsize != kShdrSize) return "malformed ELF file (section header size " + num(shentsize) + ", expected 64)";
  if (!img.within(shoff, shnum * kShdrSize))
    return "truncated or malformed ELF file (section headers at " + num(shoff) + " end past the file's " +
           num(img.size()) + " bytes)";
  if (shstrndx == kShnXindex || shstrndx >= shnum)
    return "malformed ELF file (section name table index " + num(shstrndx) + " of " + num(shnum) + " sections)";
  auto section = [&](uint64_t i) {
    const uint64_t sh = shoff + i * kShdrSize;
    return Section{static_cast<uint32_t>(img.u(sh, 4)), static_cast<uint32_t>(img.u(sh + 4, 4)), img.u(sh + 24, 8),
                   img.u(sh + 32, 8)};
  };
  const Section names = section(shstrndx);
  if (names.type == kShtNobits || !img.within(names.offset, names.size))
    return "truncated or malformed ELF file (the section name table lies past the end of the file)";

  bool found = false;
  for (uint64_t i = 0; i < shnum; ++i) {
    const Section s = section(i);
    if (s.name >= names.size) return "malformed ELF file (section " + num(i) + "'s name lies outside the name table)";
    const char* name = b.data() + names.offset + s.name;
    const uint64_t room = names.size - s.name;
    const void* nul = std::memchr(name, '\0', room);
    if (!nul) return "malformed ELF file (section " + num(i) + "'s name is not terminated)";
    if (std::strcmp(name, kPluginSectionName) != 0) continue;
    if (found) return std::string("malformed xrec plugin (two ") + kPluginSectionName + " sections)";
    found = true;
    if (s.type == kShtNobits) return std::string("malformed xrec plugin (") + kPluginSectionName + " has no bytes)";
    if (s.size > kMaxSectionBytes)
      return std::string("malformed xrec plugin (") + kPluginSectionName + " is " + num(s.size) +
             " bytes, at most " + num(kMaxSectionBytes) + " expected)";
    if (!img.within(s.offset, s.size))
      return std::string("truncated ELF file (") + kPluginSectionName + " lies past the end of the file)";
    out.assign(b, s.offset, s.size);
  }
  if (!found) return std::string("not an xrec plugin (no ") + kPluginSectionName + " section)";
  return "";
}

}  // namespace

std::string parse_plugin_section(const std::string& section, PluginFileDescriptor& d) {
  const std::string magic = std::string(kPluginSectionMagic) + '\0';
  if (section.compare(0, magic.size(), magic) != 0)
    return std::string("malformed ") + kPluginSectionName + " section (no '" + kPluginSectionMagic + "' magic)";
  std::map<std::string, std::string> kv;
  size_t pos = magic.size();
  while (pos < section.size()) {
    const size_t end = section.find('\0', pos);
    if (end == std::string::npos)
      return std::string("malformed ") + kPluginSectionName + " section (last entry is not NUL-terminated)";
    const std::string entry = section.substr(pos, end - pos);
    pos = end + 1;
    if (entry.empty()) {  // padding: only NULs may follow
      if (section.find_first_not_of('\0', pos) != std::string::npos)
        return std::string("malformed ") + kPluginSectionName + " section (data after the end marker)";
      break;
    }
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      return std::string("malformed ") + kPluginSectionName + " section (entry without 'key=')";
    const std::string key = entry.substr(0, eq);
    for (unsigned char ch : entry)
      if (ch < 0x20 || ch == 0x7f)
        return std::string("malformed ") + kPluginSectionName + " section (control character in '" + key + "')";
    if (!kv.emplace(key, entry.substr(eq + 1)).second)
      return std::string("malformed ") + kPluginSectionName + " section (key '" + key + "' twice)";
  }
  auto it = kv.find("format");
  if (it == kv.end()) return std::string("malformed ") + kPluginSectionName + " section (missing key 'format')";
  if (it->second != std::to_string(kPluginSectionFormat))
    return std::string(kPluginSectionName) + " section format " + it->second + ", this host reads format " +
           std::to_string(kPluginSectionFormat) + " (rebuild the plugin against this xrec)";
  const std::pair<const char*, std::string PluginFileDescriptor::*> fields[] = {
      {"api_version", &PluginFileDescriptor::api_version},   {"name", &PluginFileDescriptor::name},
      {"version", &PluginFileDescriptor::version},           {"description", &PluginFileDescriptor::description},
      {"xrec_version", &PluginFileDescriptor::xrec_version}, {"torch_version", &PluginFileDescriptor::torch_version},
      {"compiler", &PluginFileDescriptor::compiler},         {"cxx_abi", &PluginFileDescriptor::cxx_abi},
      {"device", &PluginFileDescriptor::device}};
  for (auto& [key, field] : fields) {
    auto f = kv.find(key);
    if (f == kv.end())
      return std::string("malformed ") + kPluginSectionName + " section (missing key '" + key + "')";
    d.*field = f->second;
  }
  return "";
}

PluginFileResult parse_plugin_image(const std::string& bytes) {
  PluginFileResult r;
  std::string section;
  r.error = find_section(Image(bytes), section);
  if (!r.error.empty()) return r;
  PluginFileDescriptor d;
  r.error = parse_plugin_section(section, d);
  if (!r.error.empty()) return r;
  r.descriptor = std::move(d);
  r.sha256 = sha256_hex(bytes);
  return r;
}

PluginFileResult read_plugin_file(const std::string& path) {
  PluginFileResult r;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.error = "cannot open: " + std::string(std::strerror(errno));
    return r;
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) {
    r.error = "cannot read: size unknown";
    return r;
  }
  if (static_cast<uint64_t>(size) > kMaxPluginFileBytes) {
    r.error = "refused: the file is " + num(static_cast<uint64_t>(size)) + " bytes, more than the " +
              num(kMaxPluginFileBytes) + " a plugin library may have";
    return r;
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (size > 0 && !in.read(bytes.data(), size)) {
    r.error = "cannot read: only " + num(static_cast<uint64_t>(in.gcount())) + " of " +
              num(static_cast<uint64_t>(size)) + " bytes";
    return r;
  }
  return parse_plugin_image(bytes);
}

}  // namespace xrec
