// fused_errors.h: how the C++ files of this package turn exceptions into the
// malloc'd messages their C functions return (see fused.h).
#ifndef GOLAMINI_FUSED_ERRORS_H
#define GOLAMINI_FUSED_ERRORS_H

#include <cstring>
#include <exception>
#include <string>

// gl_error_message keeps the first line of what: the rest of a c10::Error is
// a C++ backtrace.
inline char *gl_error_message(const char *what) {
  std::string s(what);
  auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return strdup(s.c_str());
}

#define GL_TRY try {
#define GL_CATCH                                      \
  }                                                   \
  catch (const std::exception &e) {                   \
    return gl_error_message(e.what());                \
  }                                                   \
  catch (...) {                                       \
    return gl_error_message("unknown C++ exception"); \
  }                                                   \
  return nullptr;

#endif
