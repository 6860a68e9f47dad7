#include "log_file.h"

#include <spdlog/common.h>

#include <cerrno>
#include <cstring>

namespace causalkv::server {

LogFile::LogFile(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr) {
    throw spdlog::spdlog_ex("cannot open '" + path_ + "': " + std::strerror(errno));
  }
}

LogFile::~LogFile() {
  if (file_ != nullptr) std::fclose(file_);
}

bool LogFile::Reopen(std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::FILE* fresh = std::fopen(path_.c_str(), "a");
  if (fresh == nullptr) {
    *error = "cannot reopen '" + path_ + "': " + std::strerror(errno);
    return false;
  }
  std::fclose(file_);
  file_ = fresh;
  return true;
}

void LogFile::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::fwrite(formatted.data(), 1, formatted.size(), file_);
}

void LogFile::flush_() { std::fflush(file_); }

}  // namespace causalkv::server
