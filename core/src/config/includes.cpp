// Config files and their `defaults:` includes.
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal.hpp"
#include "xrec/api/text.hpp"

namespace xrec::config_detail {

namespace fs = std::filesystem;

namespace {

class FileLoader {
 public:
  // `origin` is where the file was named (an include entry), empty for the top file.
  Layer load_file(const std::string& file, const std::string& origin) {
    const std::string key = identity(file);
    if (std::find(open_.begin(), open_.end(), key) != open_.end()) {
      std::vector<std::string> cycle = chain_;
      cycle.push_back(file);
      throw ConfigError(origin + ": include cycle: " + join(cycle, " -> "));
    }
    std::ifstream in(file, std::ios::binary);
    const int open_errno = errno;
    std::error_code ec;
    if (!in || fs::is_directory(file, ec)) {
      const std::string why = fs::is_directory(file, ec) ? "it is a directory" : std::strerror(open_errno);
      if (origin.empty()) throw ConfigError("cannot read config file " + quote_token(file, 1000) + ": " + why);
      throw ConfigError(origin + ": cannot read included config file " + quote_token(file, 1000) + ": " + why + chain_note(file));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return load_text(text.str(), file, key);
  }

  Layer load_text(const std::string& text, const std::string& file, const std::string& key) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp's own depth guard (far deeper than ours) reports "bad file"; say what it is.
      const SourceLocation at = mark_at(file, e.mark, {file, 0, 0});
      throw ConfigError(at.str() + ": nesting deeper than " + std::to_string(kMaxDepth) + " levels" + chain_note(file));
    } catch (const YAML::Exception& e) {
      const SourceLocation at = mark_at(file, e.mark, {file, 0, 0});
      throw ConfigError(at.str() + ": YAML syntax error: " + e.msg + chain_note(file));
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);  // an empty file is an empty config
    if (!root.IsMap())
      throw ConfigError(mark_at(file, root.Mark(), {file, 0, 0}).str() +
                        ": a config file must be a map of keys, found " + kind_name(root) + chain_note(file));

    Layer self;
    self.locs[""] = {file, 0, 0};
    record(root, "", file, self.locs);

    Layer merged;
    const YAML::Node defaults = find_key(root, "defaults");
    if (defaults.IsDefined()) {
      chain_.push_back(file);
      open_.push_back(key);
      for (auto& [include, at] : include_list(defaults, self.locs)) {
        const fs::path p = fs::path(include).is_absolute() ? fs::path(include) : fs::path(file).parent_path() / include;
        merged = merge(merged, load_file(p.lexically_normal().generic_string(), at.str()));
      }
      chain_.pop_back();
      open_.pop_back();
      // The includes are consumed: `defaults` never reaches the merged tree.
      YAML::Node rest(YAML::NodeType::Map);
      for (auto it = root.begin(); it != root.end(); ++it)
        if (it->first.Scalar() != "defaults") rest[it->first.Scalar()] = it->second;
      root = rest;
      erase_under(self.locs, "defaults");
    }
    self.node = root;
    return merge(merged, self);
  }

 private:
  // A file's identity for cycle detection: the same file reached by different relative paths is one.
  static std::string identity(const std::string& file) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(file, ec);
    if (ec) p = fs::absolute(file, ec).lexically_normal();
    return p.generic_string();
  }

  std::string chain_note(const std::string& file) const {
    if (chain_.empty()) return "";
    std::vector<std::string> chain = chain_;
    chain.push_back(file);
    return " (include chain: " + join(chain, " -> ") + ")";
  }

  static std::vector<std::pair<std::string, SourceLocation>> include_list(const YAML::Node& defaults,
                                                                          const Locations& locs) {
    const SourceLocation at = locs.at("defaults");
    std::vector<std::pair<std::string, SourceLocation>> out;
    if (defaults.IsScalar()) {
      out.emplace_back(defaults.Scalar(), at);
    } else if (defaults.IsSequence()) {
      for (size_t i = 0; i < defaults.size(); ++i) {
        const SourceLocation item = locs.count(index_path("defaults", i)) ? locs.at(index_path("defaults", i)) : at;
        if (!defaults[i].IsScalar() || defaults[i].Scalar().empty())
          throw ConfigError(item.str() + ": " + index_path("defaults", i) +
                            ": expected the path of a YAML file to include, found " + kind_name(defaults[i]));
        out.emplace_back(defaults[i].Scalar(), item);
      }
    } else if (!defaults.IsNull()) {
      throw ConfigError(at.str() + ": defaults: expected a list of YAML files to include, found " +
                        kind_name(defaults));
    }
    return out;
  }

  std::vector<std::string> chain_;  // files being loaded, as named, outermost first
  std::vector<std::string> open_;   // their identities
};

}  // namespace

Layer load_config_file(const std::string& path) { return FileLoader().load_file(path, ""); }

Layer load_config_text(const std::string& text, const std::string& name) {
  return FileLoader().load_text(text, name, name);
}

}  // namespace xrec::config_detail
