// The hotstate tool's files: export's and import's snapshot files, in a
// folder someone else may share. Every file is created or opened relative to
// the folder's own descriptor, never through a symbolic link, and written
// files reach the disk (fsync) before they are renamed into place.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/hotstate.hpp"

namespace hotstate_tool {

// A file descriptor, closed at scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor();
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const noexcept { return fd_; }
  // Closes now, reporting the error a deferred write may only show here.
  void close(const std::string& what);

 private:
  int fd_;
};

// Opens the folder itself, refusing a symbolic link in its place (UsageError
// when `directory` is not a directory): every file is then created or
// opened relative to this descriptor, so a name swapped for a link after the
// check cannot redirect the command elsewhere.
FileDescriptor open_directory(const std::string& directory);

// fsync of a directory, so that the names created or renamed in it survive a
// power cut, not only the files' contents.
void sync_directory(const FileDescriptor& folder, const std::string& directory);

// A temporary file in an open folder, created under a fresh random name that
// nobody else chose (O_EXCL: an entry planted under any name, a symbolic
// link included, is never opened, and O_NOFOLLOW refuses links besides).
// Removed at scope exit unless renamed into place.
class TemporaryFile {
 public:
  TemporaryFile(const FileDescriptor& folder, const std::string& target, const std::string& shown_directory);
  ~TemporaryFile();
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  // Writes `bytes`, fsyncs them and renames the file to `target`, replacing
  // whatever entry had that name (a link is replaced, never followed).
  void write_and_rename(std::string_view bytes, const std::string& target);

 private:
  int folder_;
  std::string name_;
  std::string shown_;
  std::optional<FileDescriptor> fd_;
  bool renamed_ = false;
};

// The content of the regular file `name` in `folder` (`shown` in messages),
// with each run of white space outside strings cut to one space. Refuses
// (before reading anything) a symbolic link, anything but a regular file (a
// FIFO or a device would block or never end) and a file too large for any
// snapshot within `options`' limits; stops reading as soon as the content is
// over them.
std::string read_snapshot_file(const FileDescriptor& folder, const std::string& name, const std::string& shown,
                               const hotstate::Options& options);

// The names of the *.json entries in `folder`, sorted.
std::vector<std::string> json_names(const FileDescriptor& folder, const std::string& directory);

}  // namespace hotstate_tool
