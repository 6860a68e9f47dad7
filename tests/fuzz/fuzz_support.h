// Shared by the fuzz targets: FUZZ_REQUIRE for the properties each target
// checks (a failure prints what differed and aborts, so libFuzzer saves the
// input as a crash file), a private temporary directory for the targets
// that load files, and byte helpers.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace causalkv::fuzz {

// Printable form of arbitrary bytes, for failure messages.
inline std::string Escape(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    }
  }
  return out;
}

[[noreturn]] inline void PropertyFailed(const char* what, const char* file, int line,
                                        const std::string& detail) {
  std::fprintf(stderr, "\n*** property failed at %s:%d: %s\n%s\n", file, line, what,
               detail.c_str());
  std::abort();
}

// A private directory (on tmpfs when there is one: the loaders fsync), made
// on first use and removed at a normal exit.
inline const std::string& TempDir() {
  // Never destroyed: the atexit handler runs after static destructors would.
  static const std::string* const dir = [] {
    std::string base = "/tmp";
    if (::access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    } else if (const char* tmp = std::getenv("TMPDIR")) {
      base = tmp;
    }
    auto* path = new std::string(base + "/causalkv-fuzz-XXXXXX");
    if (::mkdtemp(path->data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(TempDir(), ignored);
    });
    return path;
  }();
  return *dir;
}

inline void WriteWholeFile(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

inline std::string ReadWholeFile(const std::string& path) {
  std::string out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace causalkv::fuzz

// Checks a property; on failure prints `detail` (a std::string expression,
// evaluated only then) and aborts.
#define FUZZ_REQUIRE(cond, detail)                                                      \
  do {                                                                                  \
    if (!(cond)) ::causalkv::fuzz::PropertyFailed(#cond, __FILE__, __LINE__, (detail)); \
  } while (0)
