// The hotstate tool's files: export's and import's snapshot files in a
// folder someone else may share (files.hpp).
#include "files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "output.hpp"

namespace hotstate_tool {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

void write_all(int fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// A limit on a snapshot file's size that every file of a snapshot within
// `options`' limits stays below: its data and metadata as compact JSON, its
// id and version, plus room for the field names and the timestamp.
std::size_t significant_bytes_limit(const hotstate::Options& options) {
  return options.max_data_bytes + options.max_metadata_bytes + 2 * options.max_id_bytes + 4096;
}

// A file may hold more than that in white space: export pretty-prints,
// indenting each nested value, and an indented file of a snapshot near the
// limits is several times its compact size. Files up to this many times the
// limit are read (keeping only the significant bytes, see
// read_snapshot_file); larger ones are refused from their size alone.
constexpr std::size_t kWhiteSpaceAllowance = 16;

}  // namespace

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

void FileDescriptor::close(const std::string& what) {
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) throw std::system_error(errno, std::generic_category(), "cannot close " + what);
}

FileDescriptor open_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR || errno == ENOENT) {
      throw UsageError("'" + directory + "' is not a directory (a symbolic link to one is not followed)");
    }
    throw_errno("cannot open the directory '" + directory + "'");
  }
  return FileDescriptor(fd);
}

void sync_directory(const FileDescriptor& folder, const std::string& directory) {
  if (::fsync(folder.get()) != 0) throw_errno("cannot sync the directory '" + directory + "'");
}

TemporaryFile::TemporaryFile(const FileDescriptor& folder, const std::string& target, const std::string& shown_directory)
    : folder_(folder.get()) {
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, ".%08x%08x.tmp", static_cast<unsigned>(random()),
                  static_cast<unsigned>(random()));
    // Hidden and not ending in .json: import never takes it for a snapshot.
    name_ = "." + target + suffix;
    shown_ = (fs::path(shown_directory) / name_).string();
    const int fd = ::openat(folder_, name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
      fd_.emplace(fd);
      return;
    }
    if (errno != EEXIST) throw_errno("cannot create " + shown_);
  }
  throw std::runtime_error("cannot create a temporary file in '" + shown_directory + "': every name tried exists");
}

TemporaryFile::~TemporaryFile() {
  if (!renamed_) ::unlinkat(folder_, name_.c_str(), 0);
}

void TemporaryFile::write_and_rename(std::string_view bytes, const std::string& target) {
  write_all(fd_->get(), bytes, shown_);
  if (::fsync(fd_->get()) != 0) throw_errno("cannot sync " + shown_);
  fd_->close(shown_);
  if (::renameat(folder_, name_.c_str(), folder_, target.c_str()) != 0) {
    throw_errno("cannot rename " + shown_ + " to " + target);
  }
  renamed_ = true;
}

std::string read_snapshot_file(const FileDescriptor& folder, const std::string& name, const std::string& shown,
                               const hotstate::Options& options) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int raw_fd = ::openat(folder.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (raw_fd < 0) {
    if (errno == ELOOP) throw std::runtime_error(shown + " is a symbolic link: refused; nothing was imported");
    throw_errno("cannot open " + shown);
  }
  const FileDescriptor file(raw_fd);
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) throw_errno("cannot stat " + shown);
  if (!S_ISREG(status.st_mode)) {
    throw std::runtime_error(shown + " is not a regular file: refused; nothing was imported");
  }
  const std::size_t limit = significant_bytes_limit(options);
  const auto too_large = [&] {
    return hotstate::Error(hotstate::ErrorCode::TooLarge,
                           shown + " is larger than any snapshot within the limits (" + std::to_string(limit) +
                               " bytes besides white space); nothing was imported");
  };
  if (static_cast<std::uintmax_t>(status.st_size) / kWhiteSpaceAllowance > limit) throw too_large();

  std::string content;
  std::size_t significant = 0;
  bool in_string = false;
  bool escaped = false;
  bool pending_space = false;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + shown);
    }
    if (n == 0) break;
    for (const char c : std::string_view(buffer, static_cast<std::size_t>(n))) {
      if (!in_string && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        pending_space = true;  // one space keeps tokens apart: "1 2" must stay invalid
        continue;
      }
      if (pending_space && !content.empty()) content += ' ';
      pending_space = false;
      content += c;
      if (++significant > limit) throw too_large();
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = false;
        }
      } else if (c == '"') {
        in_string = true;
      }
    }
  }
  return content;
}

std::vector<std::string> json_names(const FileDescriptor& folder, const std::string& directory) {
  const int listing_fd = ::dup(folder.get());  // closedir closes its own descriptor
  if (listing_fd < 0) throw_errno("cannot list '" + directory + "'");
  DIR* listing = ::fdopendir(listing_fd);
  if (listing == nullptr) {
    ::close(listing_fd);
    throw_errno("cannot list '" + directory + "'");
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name = entry->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json") names.emplace_back(name);
  }
  ::closedir(listing);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace hotstate_tool
