// Internal: the libpq wrapper (pg_connection.hpp).
#include "replication/pg_connection.hpp"

#include <libpq-fe.h>

#include <charconv>

#include "hotstate/error.hpp"

namespace hotstate::internal {

void PgResult::clear(pg_result* result) { PQclear(result); }

int PgResult::rows() const { return result_ ? PQntuples(result_.get()) : 0; }

bool PgResult::null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }

std::string_view PgResult::text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column), static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t PgResult::integer(int row, int column) const {
  const auto value = text(row, column);
  std::int64_t out = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (error != std::errc() || end != value.data() + value.size()) {
    throw Error(ErrorCode::Unavailable, "PostgreSQL returned '" + std::string(value) + "' where a bigint was expected");
  }
  return out;
}

std::uint64_t PgResult::affected() const {
  const char* count = result_ ? PQcmdTuples(result_.get()) : "";
  return *count ? std::stoull(count) : 0;
}

PgConnection::PgConnection(const std::string& url) {
  conn_ = PQconnectdb(url.c_str());
  if (conn_ == nullptr) throw Error(ErrorCode::Unavailable, "PostgreSQL: out of memory connecting");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    throw Error(ErrorCode::Unavailable,
                "cannot connect to PostgreSQL at " + url_without_password(url) + ": " + message);
  }
  // hotstate's text is UTF-8; a server in another encoding converts it.
  PQsetClientEncoding(conn_, "UTF8");
  // Notices (CREATE … IF NOT EXISTS, say) are not for the host's stderr.
  // Dropped on this side, so that the connection keeps no session state a
  // pooler in transaction mode would carry to other clients.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConnection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

void PgConnection::fail(const std::string& what, pg_result* result) const {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty()) message = PQerrorMessage(conn_);
  if (result != nullptr) PQclear(result);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw Error(ErrorCode::Unavailable, "PostgreSQL: " + what + ": " + message);
}

namespace {

std::string first_words(const std::string& sql) {
  auto text = sql.substr(0, 60);
  for (auto& c : text) {
    if (c == '\n') c = ' ';
  }
  return sql.size() > 60 ? text + "…" : text;
}

}  // namespace

PgResult PgConnection::exec(const std::string& sql) {
  pg_result* result = PQexec(conn_, sql.c_str());
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(first_words(sql), result);
  return PgResult(result);
}

PgResult PgConnection::exec(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.size());
  for (const auto& param : params) {
    values.push_back(param ? param->c_str() : nullptr);
    lengths.push_back(param ? static_cast<int>(param->size()) : 0);
  }
  pg_result* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                   lengths.data(), nullptr, 0);
  const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(first_words(sql), result);
  return PgResult(result);
}

void PgConnection::copy_in(const std::string& copy_sql, const std::string& data) {
  pg_result* start = PQexec(conn_, copy_sql.c_str());
  if (start == nullptr || PQresultStatus(start) != PGRES_COPY_IN) fail(first_words(copy_sql), start);
  PQclear(start);
  // libpq takes the data in pieces of at most INT_MAX bytes.
  constexpr std::size_t piece = 1 << 20;
  for (std::size_t at = 0; at < data.size(); at += piece) {
    const auto size = std::min(piece, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(size)) != 1) fail(first_words(copy_sql));
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) fail(first_words(copy_sql));
  pg_result* end = PQgetResult(conn_);
  const auto status = end ? PQresultStatus(end) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK) {
    // Drain the results left so that the connection can go on (to roll back).
    while (pg_result* more = PQgetResult(conn_)) PQclear(more);
    fail(first_words(copy_sql), end);
  }
  PQclear(end);
  while (pg_result* more = PQgetResult(conn_)) PQclear(more);
}

PgTransaction::~PgTransaction() {
  if (!open_) return;
  try {
    pg_.exec("ROLLBACK");
  } catch (...) {  // the connection is gone: PostgreSQL rolled back
  }
}

void PgTransaction::commit() {
  open_ = false;
  pg_.exec("COMMIT");
}

void append_copy_text(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

std::string pg_bigint_array(const std::vector<std::int64_t>& values) {
  std::string text = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  return text + "}";
}

namespace {

void append_array_element(std::string& text, const std::string& value) {
  text += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') text += '\\';
    text += c;
  }
  text += '"';
}

}  // namespace

std::string pg_text_array(const std::vector<std::string>& values) {
  std::string text = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    append_array_element(text, values[i]);
  }
  return text + "}";
}

std::string pg_text_array(const std::vector<std::optional<std::string>>& values) {
  std::string text = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    if (values[i]) {
      append_array_element(text, *values[i]);
    } else {
      text += "NULL";
    }
  }
  return text + "}";
}

std::string url_without_password(const std::string& url) {
  // postgresql://user:password@host/… → postgresql://user@host/…; key=value
  // strings lose a password=… pair.
  std::string out = url;
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto slash = out.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const auto colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
    }
  }
  for (const std::string key : {"password=", "password%3D"}) {
    auto found = out.find(key);
    while (found != std::string::npos) {
      auto end = out.find_first_of(" &", found);
      out.erase(found, end == std::string::npos ? std::string::npos : end - found);
      found = out.find(key);
    }
  }
  return out;
}

}  // namespace hotstate::internal
