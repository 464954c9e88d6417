#pragma once
// Where a 64-bit little-endian ELF file's loadable segments end (the largest p_offset + p_filesz of its
// PT_LOAD headers): tests cut a library inside them whatever the build put after them (debug sections of a
// sanitizer build can make them less than half of the file).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace xrec::test {

inline uint64_t loadable_end(const std::string& elf) {
  auto read = [&](size_t at, size_t n) {
    uint64_t v = 0;
    if (at + n <= elf.size()) std::memcpy(&v, elf.data() + at, n);
    return v;
  };
  const uint64_t phoff = read(0x20, 8), phentsize = read(0x36, 2), phnum = read(0x38, 2);
  uint64_t end = 0;
  for (uint64_t i = 0; i < phnum; ++i) {
    const size_t h = static_cast<size_t>(phoff + i * phentsize);
    if (read(h, 4) != 1) continue;  // PT_LOAD
    end = std::max<uint64_t>(end, read(h + 8, 8) + read(h + 0x20, 8));
  }
  return end;
}

}  // namespace xrec::test
