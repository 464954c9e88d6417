#pragma once
// Symbol visibility for libxrec_api.so: plugins are built with hidden visibility, so every API symbol
// that crosses the host/plugin boundary (functions, vtables, exception types) is exported explicitly.
#if defined(XREC_API_BUILDING)
#define XREC_API __attribute__((visibility("default")))
#else
#define XREC_API __attribute__((visibility("default")))
#endif
// Plugin-side exports (the entry alias) always stay visible.
#define XREC_PLUGIN_EXPORT __attribute__((visibility("default")))
