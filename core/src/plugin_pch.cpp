// Anchor for the shared plugin precompiled header (see core/CMakeLists.txt).
