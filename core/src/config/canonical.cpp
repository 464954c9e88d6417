// The canonical tree of a resolved config, emitted as YAML and flattened for the run store.

#include "internal.hpp"

namespace xrec::config_detail {

Canon& canon_at(Canon& root, const std::string& dotted) {
  Canon* n = &root;
  for (auto& part : split_dots(dotted)) n = &n->map[part];
  return *n;
}

Canon canon_params(const Params& params, const std::string& type) {
  Canon c;
  if (!type.empty()) {
    c.map["type"].kind = Canon::Kind::Leaf;
    c.map["type"].leaf = Value(type);
  }
  for (auto& [k, v] : params.values()) {
    Canon& leaf = c.map[k];
    leaf.kind = Canon::Kind::Leaf;
    leaf.leaf = v;
  }
  return c;
}

// Map keys sorted, except that a component's `type` comes first: it says how to read the rest.
std::vector<const std::pair<const std::string, Canon>*> ordered(const Canon& c) {
  std::vector<const std::pair<const std::string, Canon>*> out;
  if (auto it = c.map.find("type"); it != c.map.end() && it->second.kind == Canon::Kind::Leaf) out.push_back(&*it);
  for (auto& kv : c.map)
    if (!(kv.first == "type" && kv.second.kind == Canon::Kind::Leaf)) out.push_back(&kv);
  return out;
}

void emit_scalar(YAML::Emitter& e, const Value& v) {
  // Value::to_string() is YAML flow text that reads back as the same type; strings that would read back
  // as something else come out quoted.
  if (auto s = std::get_if<std::string>(&v.storage())) {
    if (v.to_string().front() == '"')
      e << YAML::DoubleQuoted << *s;
    else
      e << *s;
  } else {
    e << v.to_string();
  }
}

void emit_value(YAML::Emitter& e, const Value& v) {
  const auto& st = v.storage();
  if (auto l = std::get_if<std::vector<int64_t>>(&st)) {
    e << YAML::Flow << YAML::BeginSeq;
    for (auto x : *l) emit_scalar(e, Value(x));
    e << YAML::EndSeq;
  } else if (auto l = std::get_if<std::vector<double>>(&st)) {
    e << YAML::Flow << YAML::BeginSeq;
    for (auto x : *l) emit_scalar(e, Value(x));
    e << YAML::EndSeq;
  } else if (auto l = std::get_if<std::vector<std::string>>(&st)) {
    e << YAML::Flow << YAML::BeginSeq;
    for (auto& x : *l) emit_scalar(e, Value(x));
    e << YAML::EndSeq;
  } else {
    emit_scalar(e, v);
  }
}

void emit(YAML::Emitter& e, const Canon& c) {
  switch (c.kind) {
    case Canon::Kind::Leaf:
      emit_value(e, c.leaf);
      break;
    case Canon::Kind::List:
      e << YAML::BeginSeq;
      for (auto& item : c.list) emit(e, item);
      e << YAML::EndSeq;
      break;
    case Canon::Kind::Map:
      e << YAML::BeginMap;
      for (auto* kv : ordered(c)) {
        e << YAML::Key << kv->first << YAML::Value;
        emit(e, kv->second);
      }
      e << YAML::EndMap;
      break;
  }
}

void flatten(const Canon& c, const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
  switch (c.kind) {
    case Canon::Kind::Leaf:
      out.emplace_back(path, c.leaf.to_string());
      break;
    case Canon::Kind::List:
      for (size_t i = 0; i < c.list.size(); ++i) flatten(c.list[i], index_path(path, i), out);
      break;
    case Canon::Kind::Map:
      for (auto* kv : ordered(c)) flatten(kv->second, child_path(path, kv->first), out);
      break;
  }
}

}  // namespace xrec::config_detail
