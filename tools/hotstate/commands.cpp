// The inspection and transfer commands of the hotstate tool: plugins, show,
// history, diff, rollback, export, import, verify, backup, set-max-history,
// state, audit, reloads, resolve. Built on the public API only.
#include "commands.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace hotstate_tool {

namespace fs = std::filesystem;
using hotstate::Json;
using hotstate::JsonWriter;
using hotstate::StateManager;
using hotstate::StateSnapshot;

namespace {

// "2023-11-14T22:13:20Z" for whole seconds since the Unix epoch.
std::string iso_time(std::uint64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return std::to_string(seconds);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

void write_snapshot(JsonWriter& out, const StateSnapshot& snapshot, bool current) {
  out.begin_object();
  out.member("plugin_id", snapshot.plugin_id);
  out.member("seq", snapshot.seq);
  out.member("timestamp", snapshot.timestamp);
  out.member("plugin_version", snapshot.plugin_version);
  out.member("current", current);
  out.member("data", snapshot.data);
  out.member("metadata", snapshot.metadata);
  out.end_object();
}

// The snapshot of `plugin_id` with `seq`, current or in its history.
StateSnapshot snapshot_with_seq(const StateManager& manager, const std::string& plugin_id, std::uint64_t seq) {
  if (auto current = manager.load_snapshot(plugin_id); current && current->seq == seq) return *current;
  for (auto& entry : manager.get_history(plugin_id)) {
    if (entry.seq == seq) return entry;
  }
  throw UsageError("plugin '" + plugin_id + "' has no snapshot with seq " + std::to_string(seq));
}

}  // namespace

std::string file_name_for(const std::string& plugin_id) {
  // Every byte outside [A-Za-z0-9_-] is %XX, so no id can name a directory,
  // a parent (..), a hidden file or a device; an empty id is "%" (never a
  // valid escape). Very long ids keep a prefix plus a hash of the whole id.
  static constexpr char hex[] = "0123456789ABCDEF";
  if (plugin_id.empty()) return "%.json";
  std::string name;
  for (const char ch : plugin_id) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
      name += ch;
    } else {
      name += '%';
      name += hex[c >> 4];
      name += hex[c & 0xF];
    }
  }
  if (name.size() > 200) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the id
    for (const char ch : plugin_id) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    char suffix[20];
    std::snprintf(suffix, sizeof suffix, "~%016llx", static_cast<unsigned long long>(h));
    name = name.substr(0, 180) + suffix;
  }
  return name + ".json";
}

std::uint64_t parse_count(std::string_view text, std::string_view what, std::uint64_t max) {
  // Digits only, read by std::from_chars, which reports a value beyond 64
  // bits as out of range: strtoull, behind the usual conversions, would
  // accept "-1" and "+1" and wrap or saturate what does not fit.
  std::uint64_t value = 0;
  const bool digits_only = !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!digits_only || error != std::errc() || end != text.data() + text.size() || value > max) {
    throw UsageError(std::string(what) + " '" + printable(text) + "' is not a whole number from 0 to " +
                     std::to_string(max));
  }
  return value;
}

// ---- Text for people: escapes

namespace {

bool in_range(unsigned char c, unsigned char low, unsigned char high) { return c >= low && c <= high; }

// The length of the well-formed UTF-8 sequence `text` starts with (2 to 4
// bytes, by the table of Unicode's section 3.9: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it does not start with one.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0; };
  const unsigned char lead = byte(0);
  const auto continuation = [&](std::size_t i) { return in_range(byte(i), 0x80, 0xBF); };
  if (in_range(lead, 0xC2, 0xDF)) return continuation(1) ? 2 : 0;
  if (in_range(lead, 0xE0, 0xEF)) {
    const bool second = lead == 0xE0   ? in_range(byte(1), 0xA0, 0xBF)
                        : lead == 0xED ? in_range(byte(1), 0x80, 0x9F)
                                       : continuation(1);
    return second && continuation(2) ? 3 : 0;
  }
  if (in_range(lead, 0xF0, 0xF4)) {
    const bool second = lead == 0xF0   ? in_range(byte(1), 0x90, 0xBF)
                        : lead == 0xF4 ? in_range(byte(1), 0x80, 0x8F)
                                       : continuation(1);
    return second && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(text.substr(i));
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void append_escape(std::string& out, const char* format, unsigned value) {
  char escaped[8];
  std::snprintf(escaped, sizeof escaped, format, value);
  out += escaped;
}

// Text from the file for a JSON member: exact when it is UTF-8; JSON cannot
// hold other bytes, so those (only in rows other clients wrote) are shown
// escaped rather than failing the whole output.
std::string json_text(std::string_view text) { return is_utf8(text) ? std::string(text) : printable(text); }

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += text[i++];
      continue;
    }
    if (c < 0x80) {  // C0 controls and DEL
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else {
        append_escape(out, "\\x%02X", c);
      }
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(text.substr(i));
    if (length == 0) {
      append_escape(out, "\\x%02X", c);  // not UTF-8: one byte at a time
      ++i;
    } else if (length == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      append_escape(out, "\\u%04X", static_cast<unsigned char>(text[i + 1]));  // C1 control U+0080..U+009F
      i += 2;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

// ---- plugins, show, history, diff, rollback

namespace {

// Whether `error`, thrown while reading one plugin's current snapshot,
// concerns that row only (written or damaged by another client, or over the
// limits), so that the other plugins can still be read. Busy, TimedOut, Io
// and the like concern the whole file and end the command.
bool is_unreadable_row(const hotstate::Error& error) {
  switch (error.code()) {
    case hotstate::ErrorCode::Corrupt:
    case hotstate::ErrorCode::InvalidJson:
    case hotstate::ErrorCode::InvalidSnapshot:
    case hotstate::ErrorCode::InvalidUtf8:
    case hotstate::ErrorCode::TooLarge:
    case hotstate::ErrorCode::TypeMismatch:
    case hotstate::ErrorCode::NonFiniteNumber:
      return true;
    default:
      return false;
  }
}

// A plugin whose current snapshot could not be read, and why.
struct UnreadablePlugin {
  std::string plugin_id;
  std::uint64_t seq = 0;
  std::string error;
};

// Runs `read`, which reads the plugin's current row. When the row cannot be
// read, the plugin is added to `unreadable` and read()'s empty value
// returned; failures of the whole file are thrown.
template <class Read>
auto read_current_row(const StateManager::PluginSummary& summary, std::vector<UnreadablePlugin>& unreadable,
                      const Read& read) -> decltype(read()) {
  try {
    return read();
  } catch (const hotstate::Error& error) {
    if (!is_unreadable_row(error)) throw;
    unreadable.push_back({summary.plugin_id, summary.seq, error.what()});
    return {};
  }
}

// Names each unreadable plugin on stderr, then how many of `total` there
// were. Returns the exit code: 1 when there was one, else 0.
int report_unreadable(const std::vector<UnreadablePlugin>& unreadable, std::size_t total, std::string_view done) {
  for (const auto& plugin : unreadable) {
    std::cerr << "hotstate: cannot read plugin '" << printable(plugin.plugin_id) << "' (seq " << plugin.seq
              << "): " << printable(plugin.error) << "\n";
  }
  if (unreadable.empty()) return 0;
  std::cerr << "hotstate: " << unreadable.size() << " of " << total << " plugin(s) could not be read; every other one was "
            << done << "\n";
  return 1;
}

void write_unreadable(JsonWriter& out, const UnreadablePlugin& plugin) {
  out.begin_object();
  out.member("plugin_id", json_text(plugin.plugin_id));
  out.member("seq", plugin.seq);
  out.member("error", json_text(plugin.error));
  out.end_object();
}

}  // namespace

int command_plugins(StateManager& manager, bool json) {
  // The listing comes from SQL (no data is read, history is counted, not
  // loaded); each snapshot is then loaded only to tell which cannot be read.
  const auto summaries = manager.plugin_summaries();
  std::vector<UnreadablePlugin> unreadable;  // in the order of `summaries`
  std::vector<bool> readable;                // per summary; false also for a plugin cleared meanwhile
  for (const auto& summary : summaries) {
    const auto current = read_current_row(summary, unreadable, [&] { return manager.load_snapshot(summary.plugin_id); });
    readable.push_back(current != nullptr);
  }
  if (json) {
    JsonWriter out;
    out.begin_array();
    auto next_unreadable = unreadable.begin();
    for (std::size_t i = 0; i < summaries.size(); ++i) {
      const auto& summary = summaries[i];
      if (!readable[i]) {
        if (next_unreadable != unreadable.end() && next_unreadable->plugin_id == summary.plugin_id) {
          write_unreadable(out, *next_unreadable++);
        }
        continue;
      }
      out.begin_object();
      out.member("plugin_id", json_text(summary.plugin_id));
      out.member("seq", summary.seq);
      out.member("plugin_version", json_text(summary.plugin_version));
      out.member("timestamp", summary.timestamp);
      out.member("saved_at_us", summary.saved_at_us);
      out.member("history", static_cast<std::uint64_t>(summary.history_entries));
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
  } else {
    std::printf("%-32s %8s  %-12s %7s  %s\n", "PLUGIN", "SEQ", "VERSION", "HISTORY", "SAVED (UTC)");
    for (std::size_t i = 0; i < summaries.size(); ++i) {
      if (!readable[i]) continue;
      const auto& summary = summaries[i];
      std::printf("%-32s %8llu  %-12s %7zu  %s\n", shorten(printable(summary.plugin_id), 32).c_str(),
                  static_cast<unsigned long long>(summary.seq), shorten(printable(summary.plugin_version), 12).c_str(),
                  summary.history_entries, iso_time(summary.timestamp).c_str());
    }
    if (summaries.empty()) std::printf("(no plugins)\n");
  }
  std::fflush(stdout);  // the listing, then what could not be read
  return report_unreadable(unreadable, summaries.size(), "listed");
}

int command_show(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto current = manager.load_snapshot(plugin_id);
  if (!current) throw UsageError("no plugin '" + plugin_id + "'");
  if (json) {
    JsonWriter out;
    write_snapshot(out, *current, true);
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("plugin   %s\nseq      %llu\nversion  %s\nsaved    %s (%llu)\n", printable(current->plugin_id).c_str(),
              static_cast<unsigned long long>(current->seq), printable(current->plugin_version).c_str(),
              iso_time(current->timestamp).c_str(), static_cast<unsigned long long>(current->timestamp));
  std::printf("data\n");
  for (const auto& [key, value] : current->data) {
    std::printf("  %-24s %s\n", printable(key).c_str(), printable(value.text()).c_str());
  }
  std::printf("metadata\n");
  for (const auto& [key, value] : current->metadata) {
    std::printf("  %-24s %s\n", printable(key).c_str(), printable(value).c_str());
  }
  return 0;
}

int command_history(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto current = manager.load_snapshot(plugin_id);
  if (!current) throw UsageError("no plugin '" + plugin_id + "'");
  auto entries = manager.get_history(plugin_id);
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& entry : entries) write_snapshot(out, entry, false);
    write_snapshot(out, *current, true);
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%8s  %-12s %-20s  %s\n", "SEQ", "VERSION", "SAVED (UTC)", "DATA");
  const auto row = [](const StateSnapshot& s, const char* mark) {
    std::printf("%8llu  %-12s %-20s  %s%s\n", static_cast<unsigned long long>(s.seq),
                shorten(printable(s.plugin_version), 12).c_str(), iso_time(s.timestamp).c_str(),
                shorten(printable(Json::from(s.data).text()), 60).c_str(), mark);
  };
  for (const auto& entry : entries) row(entry, "");
  row(*current, "  <- current");
  return 0;
}

int command_diff(StateManager& manager, const std::string& plugin_id, std::uint64_t seq_a, std::uint64_t seq_b,
                 bool json) {
  const StateSnapshot a = snapshot_with_seq(manager, plugin_id, seq_a);
  const StateSnapshot b = snapshot_with_seq(manager, plugin_id, seq_b);
  // For each of data and metadata: added, removed, changed keys.
  const auto compare = [](const auto& from, const auto& to, JsonWriter* out, const char* section) {
    std::vector<std::string> added, removed, changed;
    for (const auto& [key, value] : to) {
      const auto found = from.find(key);
      if (found == from.end()) {
        added.push_back(key);
      } else if (!(found->second == value)) {
        changed.push_back(key);
      }
    }
    for (const auto& [key, value] : from) {
      if (to.find(key) == to.end()) removed.push_back(key);
    }
    const auto text = [](const auto& value) {
      if constexpr (std::is_same_v<std::decay_t<decltype(value)>, Json>) {
        return printable(value.text());
      } else {
        return printable(Json::from(value).text());
      }
    };
    if (out != nullptr) {
      out->key(section);
      out->begin_object();
      out->key("added");
      out->begin_object();
      for (const auto& key : added) out->member(key, to.at(key));
      out->end_object();
      out->member("removed", removed);
      out->key("changed");
      out->begin_object();
      for (const auto& key : changed) {
        out->key(key);
        out->begin_object();
        out->member("from", from.at(key));
        out->member("to", to.at(key));
        out->end_object();
      }
      out->end_object();
      out->end_object();
      return;
    }
    for (const auto& key : added) {
      std::printf("+ %s.%s = %s\n", section, printable(key).c_str(), text(to.at(key)).c_str());
    }
    for (const auto& key : removed) {
      std::printf("- %s.%s (was %s)\n", section, printable(key).c_str(), text(from.at(key)).c_str());
    }
    for (const auto& key : changed) {
      std::printf("~ %s.%s: %s -> %s\n", section, printable(key).c_str(), text(from.at(key)).c_str(),
                  text(to.at(key)).c_str());
    }
  };
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("from", seq_a);
    out.member("to", seq_b);
    out.member("plugin_version", std::vector<std::string>{a.plugin_version, b.plugin_version});
    compare(a.data, b.data, &out, "data");
    compare(a.metadata, b.metadata, &out, "metadata");
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%s: seq %llu (version %s) -> seq %llu (version %s)\n", printable(plugin_id).c_str(),
              static_cast<unsigned long long>(seq_a), printable(a.plugin_version).c_str(),
              static_cast<unsigned long long>(seq_b), printable(b.plugin_version).c_str());
  compare(a.data, b.data, nullptr, "data");
  compare(a.metadata, b.metadata, nullptr, "metadata");
  return 0;
}

int command_rollback(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto restored = manager.rollback(plugin_id);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("rolled_back", restored != nullptr);
    if (restored) out.member("seq", restored->seq);
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  if (!restored) {
    std::printf("%s has no history: nothing rolled back\n", printable(plugin_id).c_str());
  } else {
    std::printf("%s rolled back to seq %llu (version %s)\n", printable(plugin_id).c_str(),
                static_cast<unsigned long long>(restored->seq), printable(restored->plugin_version).c_str());
  }
  return 0;
}

// ---- export, import: files in a folder someone else may share

namespace {

// A file descriptor, closed at scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const noexcept { return fd_; }
  // Closes now, reporting the error a deferred write may only show here.
  void close(const std::string& what) {
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) throw std::system_error(errno, std::generic_category(), "cannot close " + what);
  }

 private:
  int fd_;
};

[[noreturn]] void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// Opens the folder itself, refusing a symbolic link in its place: every file
// is then created or opened relative to this descriptor, so a name swapped
// for a link after the check cannot redirect the command elsewhere.
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

// fsync of a directory, so that the names created or renamed in it survive a
// power cut, not only the files' contents.
void sync_directory(const FileDescriptor& folder, const std::string& directory) {
  if (::fsync(folder.get()) != 0) throw_errno("cannot sync the directory '" + directory + "'");
}

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

// A temporary file in an open folder, created under a fresh random name that
// nobody else chose (O_EXCL: an entry planted under any name, a symbolic
// link included, is never opened, and O_NOFOLLOW refuses links besides).
// Removed at scope exit unless renamed into place.
class TemporaryFile {
 public:
  TemporaryFile(const FileDescriptor& folder, const std::string& target, const std::string& shown_directory)
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
  ~TemporaryFile() {
    if (!renamed_) ::unlinkat(folder_, name_.c_str(), 0);
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  // Writes `bytes`, fsyncs them and renames the file to `target`, replacing
  // whatever entry had that name (a link is replaced, never followed).
  void write_and_rename(std::string_view bytes, const std::string& target) {
    write_all(fd_->get(), bytes, shown_);
    if (::fsync(fd_->get()) != 0) throw_errno("cannot sync " + shown_);
    fd_->close(shown_);
    if (::renameat(folder_, name_.c_str(), folder_, target.c_str()) != 0) {
      throw_errno("cannot rename " + shown_ + " to " + target);
    }
    renamed_ = true;
  }

 private:
  int folder_;
  std::string name_;
  std::string shown_;
  std::optional<FileDescriptor> fd_;
  bool renamed_ = false;
};

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

// The content of the regular file `name` in `folder`, with each run of
// white space outside strings cut to one space. Refuses (before reading
// anything) a symbolic link, anything but a regular file (a FIFO or a device
// would block or never end) and a file too large for any snapshot within
// `options`' limits; stops reading as soon as the content is over them.
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

// The names of the *.json entries in `folder`, sorted.
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

}  // namespace

int command_export(StateManager& manager, const std::string& directory, bool json) {
  fs::create_directories(directory);
  const FileDescriptor folder = open_directory(directory);
  const auto summaries = manager.plugin_summaries();
  std::vector<UnreadablePlugin> unreadable;
  std::size_t written = 0;
  for (const auto& summary : summaries) {
    // A snapshot with text JSON cannot hold (only rows other clients wrote)
    // is as unreadable as a row that cannot be parsed.
    const auto bytes = read_current_row(summary, unreadable, [&]() -> std::optional<std::string> {
      const auto current = manager.load_snapshot(summary.plugin_id);
      if (!current) return std::nullopt;
      return current->to_persisted_bytes();
    });
    if (!bytes) continue;
    const std::string target = file_name_for(summary.plugin_id);
    TemporaryFile temporary(folder, target, directory);
    temporary.write_and_rename(*bytes, target);
    ++written;
  }
  sync_directory(folder, directory);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("exported", static_cast<std::uint64_t>(written));
    if (!unreadable.empty()) {
      out.key("unreadable");
      out.begin_array();
      for (const auto& plugin : unreadable) write_unreadable(out, plugin);
      out.end_array();
    }
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else {
    std::printf("exported %zu plugin(s) to %s\n", written, printable(directory).c_str());
  }
  std::fflush(stdout);
  return report_unreadable(unreadable, summaries.size(), "exported");
}

int command_import(StateManager& manager, const std::string& directory, bool json) {
  const FileDescriptor folder = open_directory(directory);
  const auto names = json_names(folder, directory);
  std::vector<std::string> files;  // as shown in messages
  std::vector<StateSnapshot> snapshots;
  for (const auto& name : names) {
    files.push_back((fs::path(directory) / name).string());
    const std::string content = read_snapshot_file(folder, name, files.back(), manager.options());
    try {
      snapshots.push_back(StateSnapshot::from_bytes(content));
    } catch (const hotstate::Error& error) {
      throw hotstate::Error(error.code(), files.back() + ": " + error.what());
    }
  }
  const std::size_t count = snapshots.size();
  try {
    manager.save_snapshots(snapshots);  // all files or none
  } catch (const hotstate::Error& error) {
    // Name the file: replay each snapshot alone into a throwaway store with
    // the same limits; the first one refused is the culprit.
    hotstate::Options probe_options = manager.options();
    probe_options.path = ":memory:";
    probe_options.read_only = false;
    StateManager probe(probe_options);
    for (std::size_t i = 0; i < snapshots.size(); ++i) {
      try {
        probe.save_snapshot(snapshots[i]);
      } catch (const hotstate::Error& refused) {
        throw hotstate::Error(refused.code(), files[i] + ": " + refused.what() + "; nothing was imported");
      }
    }
    throw;
  }
  if (json) {
    std::cout << "{\"imported\":" << count << "}\n";
  } else {
    std::printf("imported %zu snapshot(s) from %s\n", count, printable(directory).c_str());
  }
  return 0;
}

// ---- verify, backup, set-max-history

int command_verify(StateManager& manager, bool json) {
  const auto report = manager.verify();
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("ok", report.ok);
    out.member("schema_version", report.schema_version);
    std::vector<std::string> problems;
    for (const auto& problem : report.problems) problems.push_back(json_text(problem));
    out.member("problems", problems);
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else if (report.ok) {
    std::printf(
        "ok: integrity, schema version %d, triggers, views, history bound, every row readable and matching its "
        "content hash, audit log consistent\n",
        report.schema_version);
  } else {
    for (const auto& problem : report.problems) std::printf("problem: %s\n", printable(problem).c_str());
  }
  return report.ok ? 0 : 1;
}

int command_backup(StateManager& manager, const std::string& path, bool force, bool json) {
  // symlink_status: a link at `path`, even a dangling one, is an entry the
  // copy would replace.
  std::error_code ignored;
  if (!force && fs::exists(fs::symlink_status(path, ignored))) {
    throw std::runtime_error("'" + path + "' exists: refused, it was left as it is (--force replaces it)");
  }
  manager.backup(path);  // refuses the database itself, whatever the spelling of `path`
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("backup", json_text(path));
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else {
    std::printf("backed up to %s\n", printable(path).c_str());
  }
  return 0;
}

int command_set_max_history(StateManager& manager, std::size_t max_history, bool force, bool json) {
  // What the new bound would trim, counted by SQL before anything changes.
  std::size_t rows = 0;
  std::size_t plugins = 0;
  for (const auto& summary : manager.plugin_summaries()) {
    if (summary.history_entries <= max_history) continue;
    rows += summary.history_entries - max_history;
    ++plugins;
  }
  const std::size_t before = manager.max_history();
  const auto write_json = [&](bool changed, std::size_t trimmed) {
    JsonWriter out;
    out.begin_object();
    out.member("from", static_cast<std::uint64_t>(before));
    out.member("to", static_cast<std::uint64_t>(max_history));
    out.member("changed", changed);
    out.member(changed ? "trimmed" : "would_trim", static_cast<std::uint64_t>(trimmed));
    out.member("plugins", static_cast<std::uint64_t>(plugins));
    out.end_object();
    std::cout << out.take().text() << "\n";
  };
  if (rows > 0 && !force) {
    if (json) write_json(false, rows);
    std::fflush(stdout);
    std::cerr << "hotstate: max_history " << max_history << " would trim " << rows << " history row(s) of " << plugins
              << " plugin(s) (the bound is " << before
              << " now); nothing was changed. Run again with --force to trim them (each trimmed row is audited)\n";
    return 1;
  }
  // Another writer may have saved since the count: report what was trimmed.
  const std::size_t trimmed = manager.set_max_history(max_history);
  if (json) {
    write_json(true, trimmed);
  } else if (before == max_history) {
    std::printf("max_history is %zu already: nothing changed\n", max_history);
  } else {
    std::printf("max_history %zu -> %zu: trimmed %zu history row(s)%s\n", before, max_history, trimmed,
                trimmed > 0 ? " (each recorded in the audit log as HistoryTrimmed)" : "");
  }
  return 0;
}

// ---- Times, tables

namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `count` digits at text[pos…] as a number, or nullopt.
std::optional<std::int64_t> digits_at(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  std::int64_t value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// A whole string of 1 to 12 digits as a number (12 digits of seconds still
// fit in microseconds), or nullopt.
std::optional<std::int64_t> small_number(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  return digits_at(text, 0, text.size());
}

// YYYY-MM-DD[(T|space)HH:MM:SS[.fraction][Z]], UTC.
std::optional<std::int64_t> parse_iso(std::string_view text) {
  const auto year = digits_at(text, 0, 4);
  const auto month = digits_at(text, 5, 2);
  const auto day = digits_at(text, 8, 2);
  if (!year || !month || !day || text[4] != '-' || text[7] != '-') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(*year)),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;  // e.g. month 13, or February 30
  std::int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::sys_days(date).time_since_epoch()).count();
  if (text.size() == 10) return seconds * kMicrosPerSecond;
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return std::nullopt;
  const auto hour = digits_at(text, 11, 2);
  const auto minute = digits_at(text, 14, 2);
  const auto second = digits_at(text, 17, 2);
  if (!hour || !minute || !second || text[13] != ':' || text[16] != ':') return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
  seconds += *hour * 3600 + *minute * 60 + *second;
  std::int64_t micros = 0;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t count = 0;
    std::int64_t scale = 100'000;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
      if (count < 6) {  // beyond microseconds: read, not kept
        micros += (text[pos] - '0') * scale;
        scale /= 10;
      }
    }
    if (count == 0 || count > 9) return std::nullopt;
  }
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) ++pos;
  if (pos != text.size()) return std::nullopt;
  return seconds * kMicrosPerSecond + micros;
}

// Characters (UTF-8 code points) in `text`: every byte but continuation bytes.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  }));
}


// Embeds the text of a JSON object read from the store; a text hotstate cannot
// read (only possible for rows other clients wrote) goes in as a string.
void embed_json_text(JsonWriter& out, std::string_view key, const std::string& text) {
  out.key(key);
  try {
    out.json(Json::parse(text));
  } catch (const hotstate::Error&) {
    out.string(text);
  }
}

}  // namespace

std::string iso_time_us(std::int64_t time_us) {
  const std::chrono::sys_time<std::chrono::microseconds> time{std::chrono::microseconds(time_us)};
  const auto day = std::chrono::floor<std::chrono::days>(time);  // floor: times before 1970 too
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{time - day};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long long>(clock.hours().count()), static_cast<long long>(clock.minutes().count()),
                static_cast<long long>(clock.seconds().count()), static_cast<long long>(clock.subseconds().count()));
  return buffer;
}

std::int64_t parse_time_argument(std::string_view text, std::int64_t now, std::string_view option) {
  std::optional<std::int64_t> result;
  if (!text.empty() && text.front() == '@') {
    if (const auto seconds = small_number(text.substr(1))) result = *seconds * kMicrosPerSecond;
  } else if (text.size() >= 2 && is_digit(text.front()) && !is_digit(text.back()) &&
             text.find_first_not_of("0123456789") == text.size() - 1) {
    std::int64_t unit = 0;
    switch (text.back()) {
      case 's': unit = kMicrosPerSecond; break;
      case 'm': unit = 60 * kMicrosPerSecond; break;
      case 'h': unit = 3600 * kMicrosPerSecond; break;
      case 'd': unit = kSecondsPerDay * kMicrosPerSecond; break;
      default: break;
    }
    const auto amount = small_number(text.substr(0, text.size() - 1));
    if (unit != 0 && amount && *amount <= std::numeric_limits<std::int64_t>::max() / unit) {
      result = std::max<std::int64_t>(now - *amount * unit, 0);
    }
  } else if (text.size() >= 10) {
    result = parse_iso(text);
  }
  if (!result) {
    throw UsageError(std::string(option) + " '" + printable(text) +
                     "' is not a time: give an ISO-8601 UTC date or date-time (2026-11-25, 2026-11-25T10:00:00Z, "
                     "2026-11-25T10:00:00.123456Z, '2026-11-25 10:00:00'), a duration back from now (90s, 15m, "
                     "24h, 7d) or @<unix seconds>");
  }
  return *result;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string shorten(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) return std::string(text);
  const std::size_t keep = width > 3 ? width - 3 : 0;
  std::size_t chars = 0;
  std::size_t end = 0;
  for (; end < text.size(); ++end) {
    if ((static_cast<unsigned char>(text[end]) & 0xC0) != 0x80 && chars++ == keep) break;
  }
  return std::string(text.substr(0, end)) + "...";
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 std::string_view indent) {
  std::vector<std::size_t> widths(header.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(printable(row[i])));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line(indent);
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? printable(row[i]) : std::string();
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

// ---- state, audit, reloads, resolve

int command_state(StateManager& manager, const std::string& plugin_id, bool json) {
  const hotstate::PluginState state = manager.plugin_state(plugin_id);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("state", hotstate::PluginState::kind_name(state.kind()));
    out.member("reason", state.reason());
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  print_table({"PLUGIN", "STATE"}, {{plugin_id, state.to_string()}});
  return 0;
}

int command_audit(StateManager& manager, const hotstate::AuditQuery& query, bool json) {
  const auto events = manager.audit_events(query);
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& event : events) {
      out.begin_object();
      out.member("id", event.id);
      out.member("time_us", event.time_us);
      out.member("time", iso_time_us(event.time_us));
      out.member("plugin_id", event.plugin_id);
      out.member("kind", event.kind);
      embed_json_text(out, "detail", event.detail);
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  if (events.empty()) {
    std::cout << "(no events)\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(events.size());
  for (const auto& event : events) {
    rows.push_back({std::to_string(event.id), iso_time_us(event.time_us), event.plugin_id.empty() ? "-" : event.plugin_id,
                    event.kind, event.detail});
  }
  print_table({"ID", "TIME (UTC)", "PLUGIN", "KIND", "DETAIL"}, rows);
  if (query.limit > 0 && events.size() == query.limit) {
    std::cout << "(" << (query.order == hotstate::AuditOrder::NewestFirst ? "newest " : "oldest ") << events.size()
              << " events shown; --limit N for more, --limit 0 for all)\n";
  }
  return 0;
}

int command_reloads(StateManager& manager, bool json) {
  const auto reloads = manager.unfinished_reloads();
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& reload : reloads) {
      out.begin_object();
      out.member("id", reload.id);
      out.member("plugin_id", reload.plugin_id);
      out.member("from_version", reload.from_version);
      out.member("to_version", reload.to_version);
      out.member("started_at_us", reload.started_at_us);
      out.member("started", iso_time_us(reload.started_at_us));
      out.member("last_good_seq", reload.last_good.seq);
      embed_json_text(out, "last_good", reload.last_good.to_bytes());
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  if (reloads.empty()) {
    std::cout << "(no unfinished reloads)\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& reload : reloads) {
    rows.push_back({std::to_string(reload.id), reload.plugin_id,
                    (reload.from_version.empty() ? "?" : reload.from_version) + " -> " +
                        (reload.to_version.empty() ? "?" : reload.to_version),
                    iso_time_us(reload.started_at_us), std::to_string(reload.last_good.seq)});
  }
  print_table({"ID", "PLUGIN", "FROM -> TO", "STARTED (UTC)", "LAST GOOD SEQ"}, rows);
  std::cout << "\nthese reloads began and never finished: their host died, or is still running them.\n"
               "the last good state of each is its LAST GOOD SEQ (`--json reloads` embeds it);\n"
               "once handled, mark one resolved with: hotstate resolve ID --note TEXT\n";
  return 0;
}

int command_prune_audit(StateManager& manager, const hotstate::AuditPrune& prune, bool json) {
  const std::uint64_t removed = manager.prune_audit(prune);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("removed", removed);
    if (prune.older_than_us) out.member("older_than_us", *prune.older_than_us);
    if (prune.keep_newest) out.member("keep_newest", static_cast<std::uint64_t>(*prune.keep_newest));
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::cout << "removed " << removed << " audit event(s)";
  if (prune.older_than_us) std::cout << " older than " << iso_time_us(*prune.older_than_us);
  if (prune.keep_newest) std::cout << (prune.older_than_us ? " or" : "") << " beyond the newest " << *prune.keep_newest;
  std::cout << "; the prune itself is recorded (AuditPruned), and the saves of existing snapshots stay\n";
  return 0;
}

int command_resolve(StateManager& manager, std::uint64_t reload_id, const std::string& note, bool json) {
  std::string plugin_id;
  for (const auto& reload : manager.unfinished_reloads()) {
    if (reload.id == reload_id) plugin_id = reload.plugin_id;
  }
  try {
    manager.resolve_reload(reload_id, note);
  } catch (const hotstate::Error& error) {
    if (error.code() == hotstate::ErrorCode::InvalidArgument) {
      throw UsageError("there is no reload " + std::to_string(reload_id) + " (`hotstate reloads` lists the unfinished ones)");
    }
    throw;
  }
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("id", reload_id);
    out.member("plugin_id", plugin_id);
    out.member("resolved", true);
    out.member("note", note);
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::cout << "reload " << reload_id << " of " << printable(plugin_id) << " resolved"
            << (note.empty() ? std::string() : " (note: " + printable(note) + ")") << "\n";
  return 0;
}

}  // namespace hotstate_tool
