// libFuzzer target: every file-reading dataset plugin, loaded through the real plugin loader and run on
// a temporary folder the input describes. Input: byte 0 picks the plugin; the rest, split at '\0', are
// its files (see kFiles). Anything but xrec::Error (the plugins' clear errors) or a crash is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"

namespace fs = std::filesystem;

namespace {

struct Target {
  const char* type;
  const char* path;                // the `path` param
  std::vector<const char*> files;  // written from the input's '\0'-separated parts, in order
};

const std::vector<Target> kTargets = {
    {"interactions", "d.txt", {"d.txt"}},
    {"rating_csv", "d.csv", {"d.csv"}},
    {"user_sequences", "d.txt", {"d.txt", "d_sample.txt", "d_item2attributes.json"}},
    {"atomic", "shop", {"shop/shop.inter", "shop/shop.item", "shop/shop.user"}},
    {"presplit", "S", {"S/S.train.inter", "S/S.valid.inter", "S/S.test.inter", "S/S.item2index", "S/S.user2index"}},
};

xrec::Registry& registry() {
  static xrec::Registry r;
  static bool loaded = [] {
    xrec::PluginLoader loader(r);
    loader.load_dirs({XREC_FUZZ_PLUGIN_DIR});
    return true;
  }();
  (void)loaded;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Target& t = kTargets[data[0] % kTargets.size()];
  if (!registry().find(xrec::Kind::Dataset, t.type)) return 0;  // plugin not built: nothing to fuzz
  static const fs::path root = fs::temp_directory_path() / ("xrec-dataset-fuzz-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(root, ec);
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t at = 0;
  for (size_t i = 0; i < t.files.size() && at <= rest.size(); ++i) {
    const size_t next = rest.find('\0', at);
    const fs::path p = root / t.files[i];
    fs::create_directories(p.parent_path(), ec);
    std::ofstream(p, std::ios::binary) << rest.substr(at, next == std::string::npos ? std::string::npos : next - at);
    if (next == std::string::npos) break;
    at = next + 1;
  }
  try {
    const xrec::Component& c = registry().get(xrec::Kind::Dataset, t.type);
    xrec::Params p = xrec::Params::defaults(c.params, t.type);
    p.set("path", xrec::Value(std::string(t.path)));
    xrec::PluginContext ctx;
    ctx.data_roots = {root.string()};
    xrec::DomainData d = c.dataset(p, ctx)->load();
    d.validate();
  } catch (const xrec::Error&) {
  }
  return 0;
}
