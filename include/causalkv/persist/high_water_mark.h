// HighWaterMark: the durable upper bound on versions issued from a data
// directory. The server never issues a version above the saved mark, so after
// any restart (clean or kill -9) it resumes above every version it ever
// handed out.
//
// File: <dir>/causalkv.hwm, one line "causalkv-hwm 1 <mark>\n" (<mark> in
// decimal, without leading zeros; Load refuses anything else).
// DO NOT CHANGE the format: existing data directories depend on it.
//
// Save() writes a temp file, fsyncs it, renames it over the old one and
// fsyncs the directory, so a crash leaves either the old or the new mark.
// Thread-safe: Save() may run on a worker thread while the loop thread calls
// it too; saves are serialised and a lower mark never replaces a higher one.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace causalkv::persist {

class HighWaterMark {
 public:
  explicit HighWaterMark(std::string dir);

  // Reads the saved mark into *mark (0 when there is no file yet). Returns
  // false with *error set when the file exists but cannot be read or parsed:
  // the server must then refuse to start rather than risk reusing versions.
  bool Load(uint64_t* mark, std::string* error);

  // Durably records `mark`. False with *error on any I/O failure.
  bool Save(uint64_t mark, std::string* error);

  const std::string& path() const { return path_; }

  static constexpr const char* kFileName = "causalkv.hwm";

 private:
  std::string dir_;
  std::string path_;
  std::mutex mu_;
  uint64_t saved_ = 0;  // highest mark known to be on disk; guarded by mu_
};

}  // namespace causalkv::persist
