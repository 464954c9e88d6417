#include "xrec/api/registrar.hpp"

namespace xrec {

// Every function here is generated from XREC_KINDS (xrec/api/kinds.hpp).

const char* to_string(Kind k) {
  switch (k) {
#define XREC_KIND_NAME_(Class, id, plural, doc) \
  case Kind::Class: return #id;
    XREC_KINDS(XREC_KIND_NAME_)
#undef XREC_KIND_NAME_
  }
  return "?";
}

const char* kind_plural(Kind k) {
  switch (k) {
#define XREC_KIND_PLURAL_(Class, id, plural, doc) \
  case Kind::Class: return plural;
    XREC_KINDS(XREC_KIND_PLURAL_)
#undef XREC_KIND_PLURAL_
  }
  return "?";
}

const char* kind_doc(Kind k) {
  switch (k) {
#define XREC_KIND_DOC_(Class, id, plural, doc) \
  case Kind::Class: return doc;
    XREC_KINDS(XREC_KIND_DOC_)
#undef XREC_KIND_DOC_
  }
  return "?";
}

const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> kinds{
#define XREC_KIND_LIST_(Class, id, plural, doc) Kind::Class,
      XREC_KINDS(XREC_KIND_LIST_)
#undef XREC_KIND_LIST_
  };
  return kinds;
}

std::optional<Kind> kind_from_string(const std::string& name) {
  for (Kind k : all_kinds())
    if (name == to_string(k)) return k;
  return std::nullopt;
}

}  // namespace xrec
