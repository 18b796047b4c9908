/* The C API (include/hotstate/hotstate.h), used from a program compiled as C:
 * only that header and the C library. Usage:
 *
 *   hotstate_c_api_test <seed fixture folder (tests/fixtures/seed)>
 *
 * It works in a fresh directory under $TMPDIR (or /tmp) and removes it at
 * the end. Every failed CHECK prints file:line; the exit status is non-zero
 * when any failed. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hotstate/hotstate.h"

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    ++checks;                                                         \
    if (!(cond)) {                                                    \
      ++failures;                                                     \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (0)

/* A call and the code it must return; prints both codes and the message. */
#define CHECK_CODE(expected, call)                                                              \
  do {                                                                                          \
    const hotstate_code got_ = (call);                                                          \
    ++checks;                                                                                   \
    if (got_ != (expected)) {                                                                   \
      ++failures;                                                                               \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: \"%s\")\n", __FILE__,    \
              __LINE__, #call, hotstate_code_name(got_), hotstate_code_name(expected),          \
              hotstate_last_error());                                                           \
    }                                                                                           \
  } while (0)

#define CHECK_OK(call) CHECK_CODE(HOTSTATE_OK, call)

/* Text equality, printing both on a mismatch. `got` may be NULL. */
#define CHECK_TEXT(got, expected)                                                                \
  do {                                                                                           \
    const char* got_text_ = (got);                                                               \
    ++checks;                                                                                    \
    if (got_text_ == NULL || strcmp(got_text_, (expected)) != 0) {                               \
      ++failures;                                                                                \
      fprintf(stderr, "%s:%d: %s is\n  %s\nexpected\n  %s\n", __FILE__, __LINE__, #got,          \
              got_text_ == NULL ? "(NULL)" : got_text_, (expected));                              \
    }                                                                                            \
  } while (0)

/* Whether `text` (may be NULL) contains `part`. */
static int contains(const char* text, const char* part) { return text != NULL && strstr(text, part) != NULL; }

/* How often `part` occurs in `text` (may be NULL). */
static int count(const char* text, const char* part) {
  int n = 0;
  while (text != NULL && (text = strstr(text, part)) != NULL) {
    ++n;
    text += strlen(part);
  }
  return n;
}

/* A NUL-terminated literal as a (pointer, length) pair. */
#define S(literal) (literal), (sizeof(literal) - 1)

static char temp_dir[4096];

/* A path in the test's directory, in a static buffer of its own per slot. */
static const char* temp_file(const char* name) {
  static char paths[8][4200];
  static int next = 0;
  char* path = paths[next++ % 8];
  snprintf(path, sizeof paths[0], "%s/%s", temp_dir, name);
  return path;
}

/* A whole file, NUL-terminated, trailing white space removed; NULL when it
 * cannot be read. Free with free(). */
static char* read_text_file(const char* path) {
  FILE* file = fopen(path, "rb");
  char* text = NULL;
  size_t size = 0;
  long length;
  if (file == NULL) return NULL;
  if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0) {
    text = malloc((size_t)length + 1);
    if (text != NULL) {
      size = fread(text, 1, (size_t)length, file);
      while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == ' ' || text[size - 1] == '\r')) --size;
      text[size] = '\0';
    }
  }
  fclose(file);
  return text;
}

static int write_text_file(const char* path, const char* text) {
  FILE* file = fopen(path, "wb");
  int ok;
  if (file == NULL) return 0;
  ok = fputs(text, file) >= 0;
  return fclose(file) == 0 && ok;
}

static void remove_temp_dir(void) {
  DIR* dir = opendir(temp_dir);
  struct dirent* entry;
  if (dir == NULL) return;
  while ((entry = readdir(dir)) != NULL) {
    if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) unlink(temp_file(entry->d_name));
  }
  closedir(dir);
  rmdir(temp_dir);
}

/* Three snapshots of plugin "counter" exactly as to_bytes writes them. */
static const char counter1[] =
    "{\"plugin_id\":\"counter\",\"timestamp\":1700000001,\"data\":{\"count\":1},\"plugin_version\":\"1.0.0\","
    "\"metadata\":{\"reason\":\"first\"}}";
static const char counter2[] =
    "{\"plugin_id\":\"counter\",\"timestamp\":1700000002,\"data\":{\"count\":2,\"list\":[1,2.5,null]},"
    "\"plugin_version\":\"1.1.0\",\"metadata\":{}}";
static const char counter3[] =
    "{\"plugin_id\":\"counter\",\"timestamp\":1700000003,\"data\":{\"count\":3},\"plugin_version\":\"2.0.0\","
    "\"metadata\":{\"reason\":\"hot-reload\"}}";

static void test_versions_and_codes(void) {
  int code;
  CHECK_TEXT(hotstate_version(), "0.1.0");
  CHECK_TEXT(hotstate_version(), HOTSTATE_VERSION_STRING);
  CHECK(hotstate_schema_version() >= 1);
  CHECK_TEXT(hotstate_code_name(HOTSTATE_OK), "Ok");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_INVALID_ARGUMENT), "InvalidArgument");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_INVALID_JSON), "InvalidJson");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_NOT_A_DATABASE), "NotADatabase");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_READ_ONLY), "ReadOnly");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_BUSY), "Busy");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_INTERNAL), "Internal");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_OUT_OF_MEMORY), "OutOfMemory");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_UNTRUSTED_SCHEMA), "UntrustedSchema");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_TIMED_OUT), "TimedOut");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_NOT_FOUND), "NotFound");
  CHECK_TEXT(hotstate_code_name((hotstate_code)-1), "Unknown");
  CHECK_TEXT(hotstate_code_name(HOTSTATE_UNAVAILABLE), "Unavailable");
  CHECK_TEXT(hotstate_code_name((hotstate_code)24), "Unknown");
  CHECK_TEXT(hotstate_code_name((hotstate_code)1000), "Unknown");
  for (code = HOTSTATE_OK; code <= HOTSTATE_UNAVAILABLE; ++code) {
    CHECK(strcmp(hotstate_code_name((hotstate_code)code), "Unknown") != 0);
  }
  CHECK(HOTSTATE_OK == 0 && HOTSTATE_INTERNAL == 18 && HOTSTATE_OUT_OF_MEMORY == 19);
  CHECK(HOTSTATE_UNTRUSTED_SCHEMA == 20 && HOTSTATE_TIMED_OUT == 21 && HOTSTATE_NOT_FOUND == 22);
}

/* Misuse returns HOTSTATE_INVALID_ARGUMENT with a message, touches no
 * out-parameter, and never crashes. */
static void test_null_arguments(const char* db_path) {
  hotstate_db* const sentinel = (hotstate_db*)&checks; /* never dereferenced */
  hotstate_db* db = sentinel;
  char* json = (char*)"untouched";
  size_t json_len = 77;
  uint64_t seq = 77;
  hotstate_options options;

  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_load(NULL, S("x"), &json, &json_len, &seq));
  CHECK(strlen(hotstate_last_error()) > 0);
  CHECK(contains(hotstate_last_error(), "hotstate_load"));
  CHECK(contains(hotstate_last_error(), "NULL"));
  CHECK_TEXT(json, "untouched");
  CHECK(json_len == 77 && seq == 77);

  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_save(NULL, S(counter1), &seq));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_get_latest(NULL, S("x"), &json, &json_len, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_rollback(NULL, S("x"), &json, &json_len, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_clear(NULL, S("x")));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_clear_all(NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_history(NULL, S("x"), &json, &json_len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_plugin_ids(NULL, &json, &json_len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_record_event(NULL, "ReloadStarted", S("x"), NULL, 0));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT,
             hotstate_audit_events(NULL, NULL, 0, NULL, INT64_MIN, 0, 1, &json, &json_len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_begin_reload(NULL, S(counter1), NULL, 0, &seq, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_finish_reload(NULL, 1, 1, NULL, 0, 1));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_unfinished_reloads(NULL, &json, &json_len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_resolve_reload(NULL, 1, NULL, 0));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_set_plugin_state(NULL, S("x"), "Running", NULL, 0));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_plugin_state(NULL, S("x"), &json, &json_len));
  CHECK_TEXT(json, "untouched");
  CHECK(json_len == 77 && seq == 77);

  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(NULL, &db));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open_path(NULL, &db));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open_path(db_path, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open_path("", &db));
  hotstate_options_init(&options, sizeof options);
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(&options, &db)); /* path NULL */
  options.path = db_path;
  options.busy_timeout_ms = -1;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(&options, &db));
  CHECK(contains(hotstate_last_error(), "busy_timeout_ms"));
  CHECK(db == sentinel);
  CHECK(access(db_path, F_OK) != 0); /* nothing was created */

  hotstate_close(NULL);
  hotstate_free(NULL);
  hotstate_options_init(NULL, sizeof(hotstate_options));
}

static void test_options_defaults(void) {
  hotstate_options options;
  memset(&options, 0xAB, sizeof options);
  hotstate_options_init(&options, sizeof options);
  CHECK(options.path == NULL);
  CHECK(options.max_history == HOTSTATE_MAX_HISTORY_DEFAULT);
  CHECK(HOTSTATE_MAX_HISTORY_DEFAULT == (size_t)-1);
  CHECK(options.synchronous_normal == 0);
  CHECK(options.read_only == 0);
  CHECK(options.busy_timeout_ms == 5000);
  CHECK(options.cache_max_entries == 4096);
  CHECK(options.cache_max_bytes == (size_t)64 << 20);
  CHECK(options.max_id_bytes == 1024);
  CHECK(options.max_data_bytes == (size_t)16 << 20);
  CHECK(options.max_metadata_bytes == (size_t)1 << 20);
  CHECK(options.vfs == NULL);
  CHECK(options.call_time_limit_ms == 0);
  CHECK(options.audit_key == NULL && options.audit_key_len == 0);
  CHECK(options.on_audit_checkpoint == NULL && options.checkpoint_user_data == NULL);
  CHECK(options.audit_checkpoint_every == 1);
  CHECK(options.struct_size == sizeof options);
}

/* Bindings built against another version of the header: a caller with a
 * shorter (older) struct opens with defaults for the fields it lacks; one
 * with a longer (newer) struct, or no struct_size, is refused. */
static void test_options_struct_size(const char* db_path) {
  hotstate_options options;
  hotstate_db* db = NULL;
  char* json = NULL;
  size_t json_len = 0;

  memset(&options, 0xAB, sizeof options);
  hotstate_options_init(&options, offsetof(hotstate_options, synchronous_normal));
  CHECK(options.struct_size == offsetof(hotstate_options, synchronous_normal));
  CHECK(options.max_history == HOTSTATE_MAX_HISTORY_DEFAULT);
  CHECK(options.read_only != 0); /* beyond the given size: untouched (0xAB...) */
  options.path = db_path;
  options.max_history = 3;
  CHECK_CODE(HOTSTATE_OK, hotstate_open(&options, &db)); /* read_only etc. take their defaults */
  CHECK_CODE(HOTSTATE_OK, hotstate_save(db, S(counter1), NULL));
  CHECK_CODE(HOTSTATE_OK, hotstate_load(db, S("counter"), &json, &json_len, NULL));
  CHECK(json != NULL);
  hotstate_free(json);
  hotstate_close(db);

  hotstate_options_init(&options, sizeof options);
  options.path = db_path;
  options.struct_size = sizeof options + 8;
  db = NULL;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(&options, &db));
  CHECK(contains(hotstate_last_error(), "newer hotstate"));
  options.struct_size = 0;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(&options, &db));
  CHECK(contains(hotstate_last_error(), "struct_size"));
  CHECK(db == NULL);
}

/* The seed's own files: saved as they are, read back in the seed's layout. */
static void test_seed_fixtures(hotstate_db* db, const char* fixtures) {
  static const char* const cases[] = {"empty", "metadata", "multikey_order_unspecified", "nested", "unicode"};
  char path[4200];
  char* persisted;
  char* bytes;
  char* json = NULL;
  char* again = NULL;
  size_t json_len = 0;
  size_t again_len = 0;
  uint64_t seq = 0;
  uint64_t loaded_seq = 0;
  size_t i;

  snprintf(path, sizeof path, "%s/persisted/metadata.json", fixtures);
  persisted = read_text_file(path);
  snprintf(path, sizeof path, "%s/metadata.bytes.json", fixtures);
  bytes = read_text_file(path);
  CHECK(persisted != NULL && bytes != NULL);
  if (persisted == NULL || bytes == NULL) {
    fprintf(stderr, "cannot read the seed fixtures in %s\n", fixtures);
    free(persisted);
    free(bytes);
    return;
  }

  /* The pretty-printed file the seed's persistence wrote. */
  CHECK_OK(hotstate_save(db, persisted, strlen(persisted), &seq));
  CHECK(seq > 0);
  CHECK_TEXT(hotstate_last_error(), "");
  CHECK_OK(hotstate_load(db, S("fx-metadata"), &json, &json_len, &loaded_seq));
  CHECK_TEXT(json, bytes); /* exactly the seed's to_bytes text */
  CHECK(json != NULL && json_len == strlen(json));
  CHECK(loaded_seq == seq);
  hotstate_free(json);
  json = NULL;

  CHECK_OK(hotstate_get_latest(db, S("fx-metadata"), &json, &json_len, NULL));
  CHECK_TEXT(json, bytes);
  hotstate_free(json);
  json = NULL;

  /* The seed's to_bytes text is accepted too, and the output saves back unchanged. */
  CHECK_OK(hotstate_save(db, bytes, strlen(bytes), NULL));
  free(persisted);
  free(bytes);

  for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    char id[64];
    snprintf(path, sizeof path, "%s/persisted/%s.json", fixtures, cases[i]);
    persisted = read_text_file(path);
    CHECK(persisted != NULL);
    if (persisted == NULL) continue;
    CHECK_OK(hotstate_save(db, persisted, strlen(persisted), NULL));
    free(persisted);
    snprintf(id, sizeof id, "fx-%s", strcmp(cases[i], "multikey_order_unspecified") == 0 ? "multikey" : cases[i]);
    if (strcmp(cases[i], "empty") == 0) id[0] = '\0';
    CHECK_OK(hotstate_load(db, id, strlen(id), &json, &json_len, NULL));
    CHECK(json != NULL);
    if (json == NULL) continue;
    CHECK_OK(hotstate_save(db, json, json_len, NULL));
    CHECK_OK(hotstate_load(db, id, strlen(id), &again, &again_len, NULL));
    CHECK_TEXT(again, json);
    CHECK(again_len == json_len);
    hotstate_free(json);
    hotstate_free(again);
    json = again = NULL;
  }

  /* The numbers fixture's timestamp is 2^64-1: every u64 the seed accepts is
   * stored exactly and read back exactly. (Its top-level data members are in
   * the seed's hash order, so the text is compared with itself saved again.) */
  snprintf(path, sizeof path, "%s/persisted/numbers.json", fixtures);
  persisted = read_text_file(path);
  CHECK(persisted != NULL);
  if (persisted != NULL) {
    static const char numbers_start[] = "{\"plugin_id\":\"fx-numbers\",\"timestamp\":18446744073709551615,";
    seq = 0;
    CHECK_OK(hotstate_save(db, persisted, strlen(persisted), &seq));
    CHECK(seq > 0);
    CHECK_OK(hotstate_load(db, S("fx-numbers"), &json, &json_len, &loaded_seq));
    CHECK(loaded_seq == seq);
    CHECK(json != NULL && strncmp(json, numbers_start, strlen(numbers_start)) == 0);
    CHECK(contains(json, "\"u64_max\":18446744073709551615,"));
    CHECK(contains(json, "\"list\":[18446744073709551615,-9223372036854775808,0.1,1e300]"));
    if (json != NULL) {
      CHECK_OK(hotstate_save(db, json, json_len, NULL));
      CHECK_OK(hotstate_load(db, S("fx-numbers"), &again, &again_len, NULL));
      CHECK_TEXT(again, json);
      hotstate_free(again);
      again = NULL;
    }
    hotstate_free(json);
    json = NULL;
    free(persisted);
  }

  CHECK_OK(hotstate_clear_all(db));
}

static void test_history_rollback_clear(hotstate_db* db) {
  char* json = NULL;
  size_t json_len = 0;
  uint64_t seq1 = 0, seq2 = 0, seq3 = 0, seq = 0;
  char expected[2048];

  CHECK_OK(hotstate_save(db, S(counter1), &seq1));
  CHECK_OK(hotstate_save(db, S(counter2), &seq2));
  CHECK_OK(hotstate_save(db, S(counter3), &seq3));
  CHECK(seq1 < seq2 && seq2 < seq3);

  CHECK_OK(hotstate_history(db, S("counter"), &json, &json_len));
  snprintf(expected, sizeof expected, "[%s,%s]", counter1, counter2); /* oldest first */
  CHECK_TEXT(json, expected);
  CHECK(json != NULL && json_len == strlen(json));
  hotstate_free(json);

  CHECK_OK(hotstate_history(db, S("nobody"), &json, &json_len));
  CHECK_TEXT(json, "[]");
  CHECK(json_len == 2);
  hotstate_free(json);

  /* A plugin without a snapshot: OK, NULL, 0, seq 0. */
  json = (char*)"untouched";
  json_len = 5;
  seq = 5;
  CHECK_OK(hotstate_load(db, S("nobody"), &json, &json_len, &seq));
  CHECK(json == NULL && json_len == 0 && seq == 0);
  CHECK_OK(hotstate_load(db, NULL, 0, &json, &json_len, NULL)); /* the empty id */
  CHECK(json == NULL);

  /* Conditional saves. */
  CHECK_CODE(HOTSTATE_CONFLICT, hotstate_save_if(db, S(counter3), seq2, &seq));
  CHECK(contains(hotstate_last_error(), "Conflict"));
  CHECK_CODE(HOTSTATE_CONFLICT, hotstate_save_if(db, S(counter3), 0, &seq));
  CHECK_OK(hotstate_save_if(db, S(counter3), seq3, &seq));
  CHECK(seq > seq3);
  seq3 = seq;

  /* Rollback restores the newest history entry, then the next. */
  CHECK_OK(hotstate_rollback(db, S("counter"), &json, &json_len, &seq));
  CHECK_TEXT(json, counter3); /* the first counter3 save */
  hotstate_free(json);
  CHECK_OK(hotstate_rollback(db, S("counter"), &json, &json_len, &seq));
  CHECK_TEXT(json, counter2);
  CHECK(seq == seq2);
  hotstate_free(json);
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, &seq));
  CHECK_TEXT(json, counter2);
  CHECK(seq == seq2);
  hotstate_free(json);
  CHECK_OK(hotstate_rollback(db, S("counter"), &json, &json_len, &seq));
  CHECK_TEXT(json, counter1);
  CHECK(seq == seq1);
  hotstate_free(json);

  /* No history left: OK and NULL, and the current snapshot stays. */
  json = (char*)"untouched";
  seq = 5;
  CHECK_OK(hotstate_rollback(db, S("counter"), &json, &json_len, &seq));
  CHECK(json == NULL && json_len == 0 && seq == 0);
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, NULL));
  CHECK_TEXT(json, counter1);
  hotstate_free(json);

  /* Ids are bytes: quotes, and NUL inside an id. */
  CHECK_OK(hotstate_save(db, S("{\"plugin_id\":\"say \\\"hi\\\"\",\"timestamp\":1,\"data\":{},"
                                 "\"plugin_version\":\"1\",\"metadata\":{}}"),
                         NULL));
  CHECK_OK(hotstate_save(db, S("{\"plugin_id\":\"nul\\u0000id\",\"timestamp\":2,\"data\":{},"
                                 "\"plugin_version\":\"1\",\"metadata\":{}}"),
                         NULL));
  CHECK_OK(hotstate_load(db, "nul\0id", 6, &json, &json_len, NULL));
  CHECK(json != NULL && contains(json, "\"plugin_id\":\"nul\\u0000id\""));
  hotstate_free(json);
  CHECK_OK(hotstate_load(db, "nul", 3, &json, &json_len, NULL));
  CHECK(json == NULL);

  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  CHECK_TEXT(json, "[\"counter\",\"nul\\u0000id\",\"say \\\"hi\\\"\"]");
  CHECK(json != NULL && json_len == strlen(json));
  hotstate_free(json);

  /* clear: one plugin, its history too; an unknown one is fine. */
  CHECK_OK(hotstate_save(db, S(counter2), NULL));
  CHECK_OK(hotstate_clear(db, S("counter")));
  CHECK_OK(hotstate_clear(db, S("never-saved")));
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, NULL));
  CHECK(json == NULL);
  CHECK_OK(hotstate_history(db, S("counter"), &json, &json_len));
  CHECK_TEXT(json, "[]");
  hotstate_free(json);
  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  CHECK_TEXT(json, "[\"nul\\u0000id\",\"say \\\"hi\\\"\"]");
  hotstate_free(json);

  CHECK_OK(hotstate_clear_all(db));
  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  CHECK_TEXT(json, "[]");
  hotstate_free(json);
}

static void test_bad_input(hotstate_db* db) {
  uint64_t seq = 77;
  char* json = NULL;
  size_t json_len = 0;

  CHECK_CODE(HOTSTATE_INVALID_JSON, hotstate_save(db, S("{not json"), &seq));
  CHECK(strlen(hotstate_last_error()) > 0);
  CHECK(contains(hotstate_last_error(), "InvalidJson"));
  CHECK(seq == 77);
  /* A success clears the message. */
  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  hotstate_free(json);
  CHECK_TEXT(hotstate_last_error(), "");

  CHECK_CODE(HOTSTATE_INVALID_JSON, hotstate_save(db, NULL, 0, &seq)); /* empty text */
  CHECK_CODE(HOTSTATE_INVALID_JSON, hotstate_save(db, S("{\"plugin_id\":\"\xff\"}"), &seq));
  CHECK_CODE(HOTSTATE_INVALID_SNAPSHOT, hotstate_save(db, S("{\"plugin_id\":\"x\",\"timestamp\":1}"), &seq));
  CHECK(contains(hotstate_last_error(), "InvalidSnapshot"));
  CHECK_CODE(HOTSTATE_INVALID_SNAPSHOT, hotstate_save(db, S("[1,2]"), &seq));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_save(db, NULL, 5, &seq));
  CHECK(seq == 77);
  /* Only the first json_len bytes are read. */
  CHECK_CODE(HOTSTATE_INVALID_JSON, hotstate_save(db, counter1, sizeof counter1 - 2, &seq));
  CHECK(seq == 77);

  /* Ids that are not UTF-8. */
  CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_set_plugin_state(db, S("bad\xff\xfe"), "Running", NULL, 0));
  CHECK(contains(hotstate_last_error(), "InvalidUtf8"));
  CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_record_event(db, "PluginDiscovered", S("\xc3"), NULL, 0));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_load(db, NULL, 3, &json, &json_len, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_load(db, S("x"), NULL, &json_len, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_load(db, S("x"), &json, NULL, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_history(db, S("x"), NULL, &json_len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_plugin_ids(db, &json, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_begin_reload(db, S(counter1), NULL, 0, NULL, NULL));
}

static void test_audit_log(hotstate_db* db) {
  char* json = NULL;
  size_t json_len = 0;
  uint64_t seq = 0;

  CHECK_OK(hotstate_save(db, S(counter1), &seq));
  CHECK_OK(hotstate_save(db, S(counter2), NULL));
  CHECK_OK(hotstate_rollback(db, S("counter"), &json, &json_len, NULL));
  hotstate_free(json);

  CHECK_OK(hotstate_record_event(db, "ReloadCompleted", S("counter"), S("{\"success\":true,\"duration_us\":1200}")));
  CHECK_OK(hotstate_record_event(db, "PluginDiscovered", S("counter"), NULL, 0));
  CHECK_OK(hotstate_record_event(db, "RollbackTriggered", S("counter"), S(" { \"reason\" : \"tests\" } ")));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_record_event(db, "Exploded", S("counter"), NULL, 0));
  CHECK(contains(hotstate_last_error(), "Exploded"));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_record_event(db, "SnapshotSaved", S("counter"), NULL, 0));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_record_event(db, NULL, S("counter"), NULL, 0));
  CHECK_CODE(HOTSTATE_TYPE_MISMATCH, hotstate_record_event(db, "ReloadStarted", S("counter"), S("[1]")));
  CHECK_CODE(HOTSTATE_INVALID_JSON, hotstate_record_event(db, "ReloadStarted", S("counter"), S("{")));

  /* Every event of "counter", oldest first. */
  CHECK_OK(hotstate_audit_events(db, S("counter"), NULL, INT64_MIN, 0, 0, &json, &json_len));
  CHECK(json != NULL && json_len == strlen(json));
  CHECK(json != NULL && json[0] == '[');
  CHECK(contains(json, "\"kind\":\"SnapshotSaved\""));
  CHECK(contains(json, "\"kind\":\"RolledBack\""));
  CHECK(contains(json, "\"kind\":\"ReloadCompleted\""));
  CHECK(contains(json, "\"detail\":{\"duration_us\":1200,\"success\":true}"));
  CHECK(contains(json, "\"detail\":{\"reason\":\"tests\"}"));
  CHECK(contains(json, "\"kind\":\"PluginDiscovered\",\"plugin_id\":\"counter\""));
  CHECK(!contains(json, "Exploded"));
  /* oldest first: the first SnapshotSaved comes before RolledBack */
  CHECK(json != NULL && strstr(json, "SnapshotSaved") < strstr(json, "RolledBack"));
  hotstate_free(json);

  /* One kind, newest first, limited. */
  CHECK_OK(hotstate_audit_events(db, S("counter"), "SnapshotSaved", INT64_MIN, 1, 1, &json, &json_len));
  CHECK(contains(json, "SnapshotSaved"));
  CHECK(!contains(json, "RolledBack"));
  CHECK(count(json, "\"kind\":") == 1);
  hotstate_free(json);

  /* Events in the future: none. */
  CHECK_OK(hotstate_audit_events(db, NULL, 0, NULL, INT64_MAX, 0, 1, &json, &json_len));
  CHECK_TEXT(json, "[]");
  hotstate_free(json);

  /* Database-wide events: a non-NULL empty id. NULL: every plugin. */
  CHECK_OK(hotstate_clear_all(db));
  CHECK_OK(hotstate_audit_events(db, "", 0, NULL, INT64_MIN, 0, 1, &json, &json_len));
  CHECK(contains(json, "\"kind\":\"ClearedAll\""));
  CHECK(count(json, "\"plugin_id\":\"\"") == count(json, "\"kind\":")); /* ("" is also the empty fixture's id) */
  CHECK(!contains(json, "\"plugin_id\":\"counter\""));
  hotstate_free(json);
  CHECK_OK(hotstate_audit_events(db, NULL, 0, NULL, INT64_MIN, 0, 1, &json, &json_len));
  CHECK(contains(json, "ClearedAll") && contains(json, "SnapshotSaved") && contains(json, "ReloadCompleted"));
  hotstate_free(json);
}

static void test_reload_journal(hotstate_db* db) {
  char* json = NULL;
  size_t json_len = 0;
  uint64_t reload_id = 0, snapshot_seq = 0, seq = 0, second = 0, third = 0;
  char expected[2048];

  CHECK_OK(hotstate_begin_reload(db, S(counter1), S("2.0.0"), &reload_id, &snapshot_seq));
  CHECK(reload_id > 0 && snapshot_seq > 0);
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, &seq));
  CHECK_TEXT(json, counter1);
  CHECK(seq == snapshot_seq);
  hotstate_free(json);

  CHECK_OK(hotstate_unfinished_reloads(db, &json, &json_len));
  snprintf(expected, sizeof expected, "[{\"id\":%llu,\"plugin_id\":\"counter\",\"from_version\":\"1.0.0\",",
           (unsigned long long)reload_id);
  CHECK(json != NULL && strncmp(json, expected, strlen(expected)) == 0);
  CHECK(contains(json, "\"to_version\":\"2.0.0\""));
  CHECK(contains(json, "\"started_at_us\":"));
  snprintf(expected, sizeof expected, "\"last_good\":%s,\"last_good_seq\":%llu}]", counter1,
           (unsigned long long)snapshot_seq);
  CHECK(contains(json, expected));
  CHECK(json != NULL && json_len == strlen(json));
  hotstate_free(json);

  CHECK_OK(hotstate_finish_reload(db, reload_id, 1, NULL, 0, 1));
  CHECK_OK(hotstate_unfinished_reloads(db, &json, &json_len));
  CHECK_TEXT(json, "[]");
  hotstate_free(json);
  CHECK_CODE(HOTSTATE_CONFLICT, hotstate_finish_reload(db, reload_id, 1, NULL, 0, 1));
  CHECK_CODE(HOTSTATE_NOT_FOUND, hotstate_finish_reload(db, 999999, 1, NULL, 0, 1));

  /* A failed reload: ReloadFailed with the error and the attempt. */
  CHECK_OK(hotstate_begin_reload(db, S(counter2), NULL, 0, &second, NULL));
  CHECK(second > reload_id);
  CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_finish_reload(db, second, 0, S("bad \xff"), 2));
  CHECK_OK(hotstate_finish_reload(db, second, 0, S("boom"), 2));
  CHECK_OK(hotstate_audit_events(db, S("counter"), "ReloadFailed", INT64_MIN, 0, 1, &json, &json_len));
  CHECK(contains(json, "\"attempt\":2"));
  CHECK(contains(json, "\"error\":\"boom\""));
  hotstate_free(json);
  CHECK_OK(hotstate_audit_events(db, S("counter"), "ReloadStarted", INT64_MIN, 0, 1, &json, &json_len));
  CHECK(contains(json, "\"to_version\":\"2.0.0\""));
  hotstate_free(json);

  /* A reload left unfinished (its host "died"), then resolved. */
  CHECK_OK(hotstate_begin_reload(db, S(counter3), S("3.0.0"), &third, NULL));
  CHECK_OK(hotstate_unfinished_reloads(db, &json, &json_len));
  CHECK(contains(json, counter3));
  CHECK(contains(json, "\"to_version\":\"3.0.0\""));
  hotstate_free(json);
  CHECK_OK(hotstate_resolve_reload(db, third, S("restored by the test")));
  CHECK_OK(hotstate_unfinished_reloads(db, &json, &json_len));
  CHECK_TEXT(json, "[]");
  hotstate_free(json);
  CHECK_CODE(HOTSTATE_CONFLICT, hotstate_resolve_reload(db, third, NULL, 0));
  CHECK_CODE(HOTSTATE_NOT_FOUND, hotstate_resolve_reload(db, 999999, NULL, 0));
  CHECK_OK(hotstate_audit_events(db, S("counter"), "ReloadResolved", INT64_MIN, 0, 1, &json, &json_len));
  CHECK(contains(json, "restored by the test"));
  hotstate_free(json);

  /* A bad snapshot begins nothing. */
  CHECK_CODE(HOTSTATE_INVALID_JSON, hotstate_begin_reload(db, S("{"), NULL, 0, &reload_id, NULL));
  CHECK_OK(hotstate_unfinished_reloads(db, &json, &json_len));
  CHECK_TEXT(json, "[]");
  hotstate_free(json);
}

static void test_plugin_state(hotstate_db* db) {
  char* json = NULL;
  size_t json_len = 0;

  CHECK_OK(hotstate_plugin_state(db, S("life"), &json, &json_len));
  CHECK_TEXT(json, "{\"reason\":\"\",\"state\":\"Unloaded\"}");
  CHECK(json != NULL && json_len == strlen(json));
  hotstate_free(json);

  CHECK_OK(hotstate_set_plugin_state(db, S("life"), "Running", NULL, 0));
  CHECK_OK(hotstate_plugin_state(db, S("life"), &json, &json_len));
  CHECK_TEXT(json, "{\"reason\":\"\",\"state\":\"Running\"}");
  hotstate_free(json);

  CHECK_OK(hotstate_set_plugin_state(db, S("life"), "Failed", S("crashed in on_load")));
  CHECK_OK(hotstate_plugin_state(db, S("life"), &json, &json_len));
  CHECK_TEXT(json, "{\"reason\":\"crashed in on_load\",\"state\":\"Failed\"}");
  hotstate_free(json);

  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_set_plugin_state(db, S("life"), "Bogus", NULL, 0));
  CHECK(contains(hotstate_last_error(), "Bogus"));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_set_plugin_state(db, S("life"), "Running", S("why")));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_set_plugin_state(db, S("life"), NULL, NULL, 0));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_plugin_state(db, S("life"), NULL, &json_len));
  CHECK_OK(hotstate_plugin_state(db, S("life"), &json, &json_len));
  CHECK(contains(json, "\"state\":\"Failed\""));
  hotstate_free(json);

  CHECK_OK(hotstate_audit_events(db, S("life"), "PluginStateChanged", INT64_MIN, 0, 0, &json, &json_len));
  CHECK(contains(json, "\"to\":\"Running\""));
  CHECK(contains(json, "\"to\":\"Failed\""));
  CHECK(contains(json, "crashed in on_load"));
  hotstate_free(json);
}

/* What the earlier tests left is there after reopening; a read-only handle
 * reads it and refuses every write. */
static void test_reopen_and_read_only(const char* db_path) {
  hotstate_db* db = NULL;
  hotstate_options options;
  char* json = NULL;
  size_t json_len = 0;
  uint64_t seq = 0;

  CHECK_OK(hotstate_open_path(db_path, &db));
  CHECK(db != NULL);
  if (db == NULL) return;
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, NULL));
  CHECK_TEXT(json, counter3);
  hotstate_free(json);
  CHECK_OK(hotstate_plugin_state(db, S("life"), &json, &json_len));
  CHECK_TEXT(json, "{\"reason\":\"crashed in on_load\",\"state\":\"Failed\"}");
  hotstate_free(json);
  hotstate_close(db);
  db = NULL;

  hotstate_options_init(&options, sizeof options);
  options.path = db_path;
  options.read_only = 1;
  CHECK_OK(hotstate_open(&options, &db));
  CHECK(db != NULL);
  if (db == NULL) return;
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, &seq));
  CHECK_TEXT(json, counter3);
  hotstate_free(json);
  CHECK_OK(hotstate_history(db, S("counter"), &json, &json_len));
  hotstate_free(json);
  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  CHECK_TEXT(json, "[\"counter\"]");
  hotstate_free(json);

  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_save(db, S(counter1), NULL));
  CHECK(contains(hotstate_last_error(), "ReadOnly"));
  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_rollback(db, S("counter"), &json, &json_len, NULL));
  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_clear(db, S("counter")));
  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_clear_all(db));
  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_record_event(db, "PluginRemoved", S("counter"), NULL, 0));
  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_set_plugin_state(db, S("life"), "Running", NULL, 0));
  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_begin_reload(db, S(counter1), NULL, 0, &seq, NULL));
  hotstate_close(db);

  /* Nothing changed. */
  db = NULL;
  CHECK_OK(hotstate_open_path(db_path, &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, NULL));
  CHECK_TEXT(json, counter3);
  hotstate_free(json);
  hotstate_close(db);
}

static void test_not_a_database(void) {
  const char* path = temp_file("notes.txt");
  hotstate_db* const sentinel = (hotstate_db*)&checks; /* never dereferenced */
  hotstate_db* db = sentinel;
  char text[200 * 48 + 1];
  char* after;
  int i;

  text[0] = '\0';
  for (i = 0; i < 200; ++i) strcat(text, "these are somebody's notes, not a database\n");
  CHECK(write_text_file(path, text));
  CHECK_CODE(HOTSTATE_NOT_A_DATABASE, hotstate_open_path(path, &db));
  CHECK(strlen(hotstate_last_error()) > 0);
  CHECK(db == sentinel);
  after = read_text_file(path);
  CHECK(after != NULL && strncmp(after, text, strlen(after)) == 0 && strlen(after) + 1 == strlen(text));
  free(after);

  /* A directory that does not exist. */
  CHECK_CODE(HOTSTATE_CANNOT_OPEN, hotstate_open_path(temp_file("missing/dir/x.db"), &db));
  CHECK(db == sentinel);
}

static void test_options(void) {
  hotstate_options options;
  hotstate_db* db = NULL;
  char* json = NULL;
  size_t json_len = 0;
  char expected[2048];

  hotstate_options_init(&options, sizeof options);
  options.path = temp_file("small.db");
  options.max_history = 1;
  options.synchronous_normal = 1;
  options.cache_max_entries = 0;
  options.max_id_bytes = 8;
  CHECK_OK(hotstate_open(&options, &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_save(db, S(counter1), NULL));
  CHECK_OK(hotstate_save(db, S(counter2), NULL));
  CHECK_OK(hotstate_save(db, S(counter3), NULL));
  CHECK_OK(hotstate_history(db, S("counter"), &json, &json_len));
  snprintf(expected, sizeof expected, "[%s]", counter2);
  CHECK_TEXT(json, expected);
  hotstate_free(json);
  CHECK_CODE(HOTSTATE_TOO_LARGE,
             hotstate_save(db, S("{\"plugin_id\":\"longer-than-8\",\"timestamp\":1,\"data\":{},"
                                 "\"plugin_version\":\"1\",\"metadata\":{}}"),
                           NULL));
  hotstate_close(db);

  /* ":memory:": private, gone with its handle. */
  db = NULL;
  CHECK_OK(hotstate_open_path(":memory:", &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_save(db, S(counter1), NULL));
  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  CHECK_TEXT(json, "[\"counter\"]");
  hotstate_free(json);
  hotstate_close(db);
}

/* One handle, several threads; each thread's last error is its own. */
struct worker {
  hotstate_db* db;
  int index;
  int failures;
};

static void* worker_main(void* argument) {
  struct worker* w = argument;
  char id[32];
  char snapshot[256];
  int i;
  snprintf(id, sizeof id, "worker-%d", w->index);
  for (i = 0; i < 40; ++i) {
    char* json = NULL;
    size_t json_len = 0;
    snprintf(snapshot, sizeof snapshot,
             "{\"plugin_id\":\"%s\",\"timestamp\":%d,\"data\":{\"i\":%d},\"plugin_version\":\"1\",\"metadata\":{}}", id,
             i, i);
    if (hotstate_save(w->db, snapshot, strlen(snapshot), NULL) != HOTSTATE_OK) ++w->failures;
    if (hotstate_load(w->db, id, strlen(id), &json, &json_len, NULL) != HOTSTATE_OK) ++w->failures;
    if (json == NULL || strcmp(json, snapshot) != 0) ++w->failures;
    hotstate_free(json);
    if (w->index % 2 == 0) {
      /* A failure here, successes on the other threads: the message stays. */
      if (hotstate_save(w->db, S("{bad"), NULL) != HOTSTATE_INVALID_JSON) ++w->failures;
      if (!contains(hotstate_last_error(), "InvalidJson")) ++w->failures;
    } else if (hotstate_last_error()[0] != '\0') {
      ++w->failures;
    }
  }
  return NULL;
}

static void test_threads(void) {
  enum { thread_count = 4 };
  hotstate_db* db = NULL;
  pthread_t threads[thread_count];
  struct worker workers[thread_count];
  char* json = NULL;
  size_t json_len = 0;
  int i;

  CHECK_OK(hotstate_open_path(temp_file("threads.db"), &db));
  if (db == NULL) return;
  for (i = 0; i < thread_count; ++i) {
    workers[i].db = db;
    workers[i].index = i;
    workers[i].failures = 0;
    CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
  }
  for (i = 0; i < thread_count; ++i) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(workers[i].failures == 0);
  }
  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  CHECK_TEXT(json, "[\"worker-0\",\"worker-1\",\"worker-2\",\"worker-3\"]");
  hotstate_free(json);
  hotstate_close(db);
}

/* ---- The history bound: opening never changes it (issue 10, point 1) */

/* Saves a snapshot of plugin `id` with timestamp and data `i`. */
static hotstate_code save_numbered(hotstate_db* db, const char* id, int i) {
  char snapshot[256];
  snprintf(snapshot, sizeof snapshot,
           "{\"plugin_id\":\"%s\",\"timestamp\":%d,\"data\":{\"i\":%d},\"plugin_version\":\"1\",\"metadata\":{}}", id, i,
           i);
  return hotstate_save(db, snapshot, strlen(snapshot), NULL);
}

/* The number of history entries of `id`; -1 when they cannot be read. */
static int history_count(hotstate_db* db, const char* id) {
  char* json = NULL;
  size_t json_len = 0;
  int n;
  if (hotstate_history(db, id, strlen(id), &json, &json_len) != HOTSTATE_OK) return -1;
  n = count(json, "\"plugin_id\":");
  hotstate_free(json);
  return n;
}

/* The database's history bound; (size_t)77777 when it cannot be read. */
static size_t bound_of(hotstate_db* db) {
  size_t bound = 77777;
  CHECK_OK(hotstate_max_history(db, &bound));
  return bound;
}

/* The number of audit events of kind `kind` (all plugins); -1 on failure. */
static int event_count(hotstate_db* db, const char* kind) {
  char* json = NULL;
  size_t json_len = 0;
  int n;
  if (hotstate_audit_events(db, NULL, 0, kind, INT64_MIN, 0, 0, &json, &json_len) != HOTSTATE_OK) return -1;
  n = count(json, "\"kind\":");
  hotstate_free(json);
  return n;
}

static void test_max_history(void) {
  const char* path = temp_file("bound.db");
  static const size_t reopen_with[] = {HOTSTATE_MAX_HISTORY_DEFAULT, 3, 0, 100};
  hotstate_options options;
  hotstate_db* db = NULL;
  char* json = NULL;
  size_t json_len = 0;
  size_t trimmed = 77;
  size_t k;
  int i;
  int trimmed_events;

  /* A new file with the default options: 10. */
  CHECK_OK(hotstate_open_path(temp_file("bound-default.db"), &db));
  if (db == NULL) return;
  CHECK(bound_of(db) == 10);
  for (i = 1; i <= 13; ++i) CHECK_OK(save_numbered(db, "p", i));
  CHECK(history_count(db, "p") == 10);
  hotstate_close(db);

  /* Created with 12, filled beyond it: 12 history entries per plugin. */
  hotstate_options_init(&options, sizeof options);
  options.path = path;
  options.max_history = 12;
  db = NULL;
  CHECK_OK(hotstate_open(&options, &db));
  if (db == NULL) return;
  CHECK(bound_of(db) == 12);
  for (i = 1; i <= 15; ++i) {
    CHECK_OK(save_numbered(db, "a", i));
    CHECK_OK(save_numbered(db, "b", i));
  }
  CHECK(history_count(db, "a") == 12 && history_count(db, "b") == 12);
  hotstate_close(db);

  /* Opened again with default options, a smaller, a zero and a larger bound:
   * the file keeps 12 and every row, also through writes that change
   * nothing (rolling back an unknown plugin) and saves (which trim at 12). */
  for (k = 0; k < sizeof reopen_with / sizeof reopen_with[0]; ++k) {
    hotstate_options_init(&options, sizeof options);
    options.path = path;
    options.max_history = reopen_with[k];
    db = NULL;
    CHECK_OK(hotstate_open(&options, &db));
    if (db == NULL) return;
    CHECK(bound_of(db) == 12);
    CHECK(history_count(db, "a") == 12 && history_count(db, "b") == 12);
    json = (char*)"untouched";
    CHECK_OK(hotstate_rollback(db, S("unknown"), &json, &json_len, NULL));
    CHECK(json == NULL);
    CHECK(history_count(db, "b") == 12);
    CHECK_OK(save_numbered(db, "a", 100 + (int)k));
    CHECK(history_count(db, "a") == 12 && history_count(db, "b") == 12);
    CHECK(bound_of(db) == 12);
    hotstate_close(db);
  }
  db = NULL;
  CHECK_OK(hotstate_open_path(path, &db));
  if (db == NULL) return;
  CHECK(bound_of(db) == 12);
  CHECK(history_count(db, "a") == 12 && history_count(db, "b") == 12);
  CHECK(event_count(db, "MaxHistoryChanged") == 0);

  /* set_max_history: lowering trims every plugin at once, reports the count
   * and audits the change and each trimmed row. */
  trimmed_events = event_count(db, "HistoryTrimmed");
  CHECK_OK(hotstate_set_max_history(db, 5, &trimmed));
  CHECK(trimmed == 14);
  CHECK(bound_of(db) == 5);
  CHECK(history_count(db, "a") == 5 && history_count(db, "b") == 5);
  CHECK(event_count(db, "HistoryTrimmed") == trimmed_events + 14);
  CHECK_OK(hotstate_audit_events(db, NULL, 0, "MaxHistoryChanged", INT64_MIN, 0, 0, &json, &json_len));
  CHECK(count(json, "\"kind\":") == 1);
  CHECK(contains(json, "\"from\":12") && contains(json, "\"to\":5"));
  hotstate_free(json);
  /* The current snapshots stay. */
  CHECK_OK(hotstate_load(db, S("a"), &json, &json_len, NULL));
  CHECK(contains(json, "\"timestamp\":103"));
  hotstate_free(json);

  /* The same bound: nothing changes, nothing is recorded. */
  trimmed = 77;
  CHECK_OK(hotstate_set_max_history(db, 5, &trimmed));
  CHECK(trimmed == 0);
  CHECK(event_count(db, "MaxHistoryChanged") == 1);
  /* Raising trims nothing; NULL for trimmed is allowed. */
  CHECK_OK(hotstate_set_max_history(db, 20, NULL));
  CHECK(bound_of(db) == 20);
  CHECK(history_count(db, "a") == 5);
  CHECK(event_count(db, "MaxHistoryChanged") == 2);

  /* Refused: the unset marker, above the most; a NULL out-parameter. */
  trimmed = 77;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_set_max_history(db, HOTSTATE_MAX_HISTORY_DEFAULT, &trimmed));
  CHECK(contains(hotstate_last_error(), "2147483647"));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_set_max_history(db, (size_t)2147483647u + 1u, &trimmed));
  CHECK(trimmed == 77);
  CHECK(bound_of(db) == 20);
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_max_history(db, NULL));
  CHECK(contains(hotstate_last_error(), "hotstate_max_history"));

  /* 0: no history at all. */
  CHECK_OK(hotstate_set_max_history(db, 0, &trimmed));
  CHECK(trimmed == 10);
  CHECK(history_count(db, "a") == 0 && history_count(db, "b") == 0);
  CHECK_OK(hotstate_plugin_ids(db, &json, &json_len));
  CHECK_TEXT(json, "[\"a\",\"b\"]");
  hotstate_free(json);
  CHECK_OK(hotstate_set_max_history(db, 7, NULL));
  hotstate_close(db);

  /* A read-only handle reads the bound and cannot change it. */
  hotstate_options_init(&options, sizeof options);
  options.path = path;
  options.read_only = 1;
  options.max_history = 2;
  db = NULL;
  CHECK_OK(hotstate_open(&options, &db));
  if (db == NULL) return;
  CHECK(bound_of(db) == 7);
  trimmed = 77;
  CHECK_CODE(HOTSTATE_READ_ONLY, hotstate_set_max_history(db, 1, &trimmed));
  CHECK(trimmed == 77);
  CHECK(bound_of(db) == 7);
  hotstate_close(db);

  /* A bound above the most when creating: refused, no file is created. */
  hotstate_options_init(&options, sizeof options);
  options.path = temp_file("bound-too-large.db");
  options.max_history = (size_t)2147483647u + 1u;
  db = NULL;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(&options, &db));
  CHECK(contains(hotstate_last_error(), "max_history"));
  CHECK(db == NULL);
  CHECK(access(options.path, F_OK) != 0);
  options.max_history = 2147483647u;
  CHECK_OK(hotstate_open(&options, &db));
  if (db != NULL) CHECK(bound_of(db) == 2147483647u);
  hotstate_close(db);
}

/* ---- Options of an older layout (struct_size) and call_time_limit_ms */

/* hotstate_options as 0.1.0 first laid it out, before call_time_limit_ms: what
 * a binding built against that header passes. */
struct options_v1 {
  size_t struct_size;
  const char* path;
  size_t max_history;
  int synchronous_normal;
  int read_only;
  int64_t busy_timeout_ms;
  size_t cache_max_entries;
  size_t cache_max_bytes;
  size_t max_id_bytes;
  size_t max_data_bytes;
  size_t max_metadata_bytes;
  const char* vfs;
};

static void test_options_old_layout(void) {
  struct {
    struct options_v1 options;
    unsigned char after[32];
  } framed;
  struct options_v1* exact;
  hotstate_options options;
  hotstate_db* db = NULL;
  char* json = NULL;
  size_t json_len = 0;
  size_t i;
  int untouched = 1;

  CHECK(offsetof(struct options_v1, vfs) == offsetof(hotstate_options, vfs));
  CHECK(sizeof(struct options_v1) <= offsetof(hotstate_options, call_time_limit_ms));
  CHECK(sizeof(struct options_v1) < sizeof(hotstate_options));

  /* hotstate_options_init writes nothing beyond the old struct. */
  memset(&framed, 0xAB, sizeof framed);
  hotstate_options_init((hotstate_options*)(void*)&framed.options, sizeof framed.options);
  for (i = 0; i < sizeof framed.after; ++i) untouched = untouched && framed.after[i] == 0xAB;
  CHECK(untouched);
  CHECK(framed.options.struct_size == sizeof(struct options_v1));
  CHECK(framed.options.path == NULL && framed.options.vfs == NULL);
  CHECK(framed.options.max_history == HOTSTATE_MAX_HISTORY_DEFAULT);
  CHECK(framed.options.busy_timeout_ms == 5000);
  CHECK(framed.options.max_metadata_bytes == (size_t)1 << 20);

  /* It opens, and hotstate_open reads nothing beyond it: the 0xAB bytes after
   * it, read as call_time_limit_ms, would be negative and refused. */
  framed.options.path = temp_file("old-layout.db");
  framed.options.max_history = 4;
  CHECK_OK(hotstate_open((const hotstate_options*)(void*)&framed.options, &db));
  if (db != NULL) {
    CHECK(bound_of(db) == 4);
    CHECK_OK(hotstate_save(db, S(counter1), NULL));
    hotstate_close(db);
  }

  /* On the heap, exactly as large as the old struct: a read beyond it is a
   * heap overflow that AddressSanitizer reports. */
  exact = malloc(sizeof *exact);
  CHECK(exact != NULL);
  if (exact != NULL) {
    hotstate_options_init((hotstate_options*)(void*)exact, sizeof *exact);
    exact->path = temp_file("old-layout.db");
    db = NULL;
    CHECK_OK(hotstate_open((const hotstate_options*)(void*)exact, &db));
    if (db != NULL) {
      CHECK(bound_of(db) == 4); /* the file's own */
      CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, NULL));
      CHECK_TEXT(json, counter1);
      hotstate_free(json);
      hotstate_close(db);
    }
    free(exact);
  }

  /* call_time_limit_ms: a negative one is refused when the caller's struct
   * has the field, and a field cut by struct_size is not read at all. */
  hotstate_options_init(&options, sizeof options);
  options.path = temp_file("time-limit.db");
  options.call_time_limit_ms = -1;
  db = NULL;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(&options, &db));
  CHECK(contains(hotstate_last_error(), "call_time_limit_ms"));
  CHECK(db == NULL);
  options.struct_size = offsetof(hotstate_options, call_time_limit_ms) + sizeof(int32_t);
  CHECK_OK(hotstate_open(&options, &db));
  hotstate_close(db);
  options.struct_size = sizeof options;
  options.call_time_limit_ms = 60000;
  db = NULL;
  CHECK_OK(hotstate_open(&options, &db));
  if (db != NULL) {
    CHECK_OK(hotstate_save(db, S(counter2), NULL));
    CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, NULL));
    CHECK_TEXT(json, counter2);
    hotstate_free(json);
    hotstate_close(db);
  }
}

/* ---- Ids that are not UTF-8: one rule everywhere (issue 10, point 12) */

/* Everything a call could have changed, as one text: the audit log, the
 * plugins, the history and state of "counter", the unfinished reloads. */
static char* observable_state(hotstate_db* db) {
  char* parts[5] = {NULL, NULL, NULL, NULL, NULL};
  size_t lengths[5] = {0, 0, 0, 0, 0};
  char* all;
  size_t total = 1;
  size_t i;
  if (hotstate_audit_events(db, NULL, 0, NULL, INT64_MIN, 0, 0, &parts[0], &lengths[0]) != HOTSTATE_OK ||
      hotstate_plugin_ids(db, &parts[1], &lengths[1]) != HOTSTATE_OK ||
      hotstate_history(db, S("counter"), &parts[2], &lengths[2]) != HOTSTATE_OK ||
      hotstate_plugin_state(db, S("counter"), &parts[3], &lengths[3]) != HOTSTATE_OK ||
      hotstate_unfinished_reloads(db, &parts[4], &lengths[4]) != HOTSTATE_OK) {
    for (i = 0; i < 5; ++i) hotstate_free(parts[i]);
    return NULL;
  }
  for (i = 0; i < 5; ++i) total += lengths[i] + 1;
  all = malloc(total);
  if (all != NULL) {
    all[0] = '\0';
    for (i = 0; i < 5; ++i) {
      strcat(all, parts[i]);
      strcat(all, "\n");
    }
  }
  for (i = 0; i < 5; ++i) hotstate_free(parts[i]);
  return all;
}

static void test_invalid_utf8_ids(void) {
  /* Invalid bytes, a cut sequence, an encoded surrogate, an overlong form,
   * and a valid id followed by an invalid byte. */
  static const char* const bad_ids[] = {"bad\xff\xfe", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "counter\xff"};
  char* const untouched = (char*)"untouched";
  hotstate_db* db = NULL;
  char* before;
  char* after;
  char* json;
  size_t json_len;
  uint64_t seq;
  uint64_t reload_id = 0;
  size_t i;

  CHECK_OK(hotstate_open_path(temp_file("utf8.db"), &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_save(db, S(counter1), NULL));
  CHECK_OK(hotstate_save(db, S(counter2), NULL));
  CHECK_OK(hotstate_set_plugin_state(db, S("counter"), "Running", NULL, 0));
  CHECK_OK(hotstate_begin_reload(db, S(counter3), S("3.0.0"), &reload_id, NULL));
  before = observable_state(db);
  CHECK(before != NULL);

  for (i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; ++i) {
    const char* id = bad_ids[i];
    const size_t id_len = strlen(id);
    const int failures_before = failures;
    int written = 0; /* out-parameters written by a call that should have failed */
    json_len = 77;
    seq = 77;
/* Frees what a wrong success returned, so that it is reported as a failed
 * CHECK and not as a leak. */
#define CHECK_OUT_UNTOUCHED()                     \
  do {                                            \
    if (json != untouched) {                      \
      written = 1;                                \
      if (json != NULL) hotstate_free(json);      \
      json = untouched;                           \
    }                                             \
  } while (0)
    json = untouched;
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_rollback(db, id, id_len, &json, &json_len, &seq));
    CHECK(contains(hotstate_last_error(), "InvalidUtf8"));
    CHECK_OUT_UNTOUCHED();
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_clear(db, id, id_len));
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_load(db, id, id_len, &json, &json_len, &seq));
    CHECK_OUT_UNTOUCHED();
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_get_latest(db, id, id_len, &json, &json_len, &seq));
    CHECK_OUT_UNTOUCHED();
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_history(db, id, id_len, &json, &json_len));
    CHECK_OUT_UNTOUCHED();
    CHECK_CODE(HOTSTATE_INVALID_UTF8,
               hotstate_audit_events(db, id, id_len, NULL, INT64_MIN, 0, 0, &json, &json_len));
    CHECK_OUT_UNTOUCHED();
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_plugin_state(db, id, id_len, &json, &json_len));
    CHECK_OUT_UNTOUCHED();
#undef CHECK_OUT_UNTOUCHED
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_set_plugin_state(db, id, id_len, "Failed", S("x")));
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_record_event(db, "PluginRemoved", id, id_len, NULL, 0));
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_begin_reload(db, S(counter1), id, id_len, &seq, NULL));
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_resolve_reload(db, reload_id, id, id_len));
    CHECK_CODE(HOTSTATE_INVALID_UTF8, hotstate_finish_reload(db, reload_id, 0, id, id_len, 1));
    CHECK(!written);
    CHECK(json_len == 77 && seq == 77);
    if (failures != failures_before) fprintf(stderr, "  (with the id of bad_ids[%u])\n", (unsigned)i);
  }

  /* Nothing was written. */
  after = observable_state(db);
  CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
  if (before != NULL && after != NULL && strcmp(before, after) != 0) {
    fprintf(stderr, "before:\n%s\nafter:\n%s\n", before, after);
  }
  free(before);
  free(after);
  CHECK_OK(hotstate_load(db, S("counter"), &json, &json_len, NULL));
  CHECK_TEXT(json, counter3);
  hotstate_free(json);
  hotstate_close(db);
}

/* ---- Handles that are closed or were never handles (issue 10, point 13) */

/* Every function with `db`, which is not an open handle: each returns
 * HOTSTATE_INVALID_ARGUMENT naming itself, and writes no out-parameter. */
static void check_unusable_handle(hotstate_db* db, const char* what) {
  const int failures_before = failures;
  char* json = (char*)"untouched";
  size_t json_len = 77;
  size_t bound = 77;
  uint64_t seq = 77;
  uint64_t reload_id = 77;
  int ok = 77;

#define CHECK_NOT_OPEN(function, call)                                                    \
  do {                                                                                    \
    CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, call);                                          \
    CHECK(contains(hotstate_last_error(), function));                                     \
    CHECK(contains(hotstate_last_error(), "not open"));                                   \
  } while (0)
  CHECK_NOT_OPEN("hotstate_save", hotstate_save(db, S(counter1), &seq));
  CHECK_NOT_OPEN("hotstate_save_if", hotstate_save_if(db, S(counter1), 0, &seq));
  CHECK_NOT_OPEN("hotstate_load", hotstate_load(db, S("counter"), &json, &json_len, &seq));
  CHECK_NOT_OPEN("hotstate_get_latest", hotstate_get_latest(db, S("counter"), &json, &json_len, &seq));
  CHECK_NOT_OPEN("hotstate_rollback", hotstate_rollback(db, S("counter"), &json, &json_len, &seq));
  CHECK_NOT_OPEN("hotstate_clear", hotstate_clear(db, S("counter")));
  CHECK_NOT_OPEN("hotstate_clear_all", hotstate_clear_all(db));
  CHECK_NOT_OPEN("hotstate_history", hotstate_history(db, S("counter"), &json, &json_len));
  CHECK_NOT_OPEN("hotstate_plugin_ids", hotstate_plugin_ids(db, &json, &json_len));
  CHECK_NOT_OPEN("hotstate_max_history", hotstate_max_history(db, &bound));
  CHECK_NOT_OPEN("hotstate_set_max_history", hotstate_set_max_history(db, 1, &bound));
  CHECK_NOT_OPEN("hotstate_record_event", hotstate_record_event(db, "PluginDiscovered", S("counter"), NULL, 0));
  CHECK_NOT_OPEN("hotstate_audit_events",
                 hotstate_audit_events(db, NULL, 0, NULL, INT64_MIN, 0, 0, &json, &json_len));
  CHECK_NOT_OPEN("hotstate_begin_reload", hotstate_begin_reload(db, S(counter1), NULL, 0, &reload_id, &seq));
  CHECK_NOT_OPEN("hotstate_finish_reload", hotstate_finish_reload(db, 1, 1, NULL, 0, 1));
  CHECK_NOT_OPEN("hotstate_unfinished_reloads", hotstate_unfinished_reloads(db, &json, &json_len));
  CHECK_NOT_OPEN("hotstate_resolve_reload", hotstate_resolve_reload(db, 1, NULL, 0));
  CHECK_NOT_OPEN("hotstate_set_plugin_state", hotstate_set_plugin_state(db, S("counter"), "Running", NULL, 0));
  CHECK_NOT_OPEN("hotstate_audit_head", hotstate_audit_head(db, &json, &json_len));
  CHECK_NOT_OPEN("hotstate_verify_report", hotstate_verify_report(db, &ok, &json, &json_len));
  CHECK_NOT_OPEN("hotstate_verify_extends", hotstate_verify_extends(db, S("1:ab"), &ok, &json, &json_len));
  CHECK_NOT_OPEN("hotstate_plugin_state", hotstate_plugin_state(db, S("counter"), &json, &json_len));
#undef CHECK_NOT_OPEN
  CHECK_TEXT(json, "untouched");
  CHECK(json_len == 77 && bound == 77 && seq == 77 && reload_id == 77 && ok == 77);

  /* Closing it does nothing, and leaves the last error as it is. */
  hotstate_close(db);
  hotstate_close(db);
  CHECK(contains(hotstate_last_error(), "hotstate_plugin_state"));
  if (failures != failures_before) fprintf(stderr, "  (with %s)\n", what);
}

static void test_closed_and_garbage_handles(void) {
  const char* path = temp_file("closed.db");
  hotstate_db* db = NULL;
  hotstate_db* closed;
  hotstate_db* other = NULL;
  int on_the_stack = 0;
  char* json = NULL;
  size_t json_len = 0;

  /* Use after close, double close. */
  CHECK_OK(hotstate_open_path(path, &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_save(db, S(counter1), NULL));
  closed = db;
  hotstate_close(db);
  check_unusable_handle(closed, "a closed handle");
  hotstate_close(closed); /* a third close */
  check_unusable_handle(closed, "a handle closed three times");

  /* A closed handle's value is not given out again: it never reaches a
   * database opened later. */
  CHECK_OK(hotstate_open_path(path, &other));
  CHECK(other != NULL && other != closed);
  check_unusable_handle(closed, "a closed handle after another open");
  CHECK_OK(hotstate_load(other, S("counter"), &json, &json_len, NULL)); /* the other one works */
  CHECK_TEXT(json, counter1);
  hotstate_free(json);

  /* Values that never were handles; none is dereferenced. */
  check_unusable_handle((hotstate_db*)(uintptr_t)0x1234, "0x1234");
  check_unusable_handle((hotstate_db*)(void*)&on_the_stack, "a stack address");
  check_unusable_handle((hotstate_db*)(void*)&checks, "a static address");
  check_unusable_handle((hotstate_db*)(uintptr_t)-16, "-16");
  check_unusable_handle((hotstate_db*)(uintptr_t)1, "1");
  if (other != NULL) {
    check_unusable_handle((hotstate_db*)((uintptr_t)other + 1), "an open handle + 1");
    check_unusable_handle((hotstate_db*)((uintptr_t)other + 16), "an open handle + 16");
  }

  /* The open handle is untouched by all that. */
  CHECK_OK(hotstate_load(other, S("counter"), &json, &json_len, NULL));
  CHECK_TEXT(json, counter1);
  hotstate_free(json);
  hotstate_close(other);
  hotstate_close(other);
}

/* Threads calling one handle while another closes it (twice, from two
 * threads): every call either completes (OK) or finds the handle closed
 * (HOTSTATE_INVALID_ARGUMENT); once closed it stays closed; the calls that
 * completed are all in the file. Runs under TSan and ASan in CI. */
struct racer {
  hotstate_db* db;
  int index;
  pthread_mutex_t* mutex; /* guards *started */
  pthread_cond_t* cond;
  int* started;
  /* Read after the join. */
  int ok;
  int closed;
  int other;
  int ok_after_closed;
  int bad_message;
  char last_saved[256]; /* the last snapshot saved with HOTSTATE_OK */
};

static void* racer_main(void* argument) {
  struct racer* r = argument;
  char id[32];
  char snapshot[256];
  int i;
  int announced = 0;
  int closed_in_a_row = 0;
  snprintf(id, sizeof id, "racer-%d", r->index);
  r->last_saved[0] = '\0';
  for (i = 0; i < 2000000 && closed_in_a_row < 50; ++i) {
    hotstate_code code;
    char* json = NULL;
    size_t json_len = 0;
    snprintf(snapshot, sizeof snapshot,
             "{\"plugin_id\":\"%s\",\"timestamp\":%d,\"data\":{},\"plugin_version\":\"1\",\"metadata\":{}}", id, i);
    switch ((i + r->index) % 4) {
      case 0: code = hotstate_save(r->db, snapshot, strlen(snapshot), NULL); break;
      case 1: code = hotstate_load(r->db, id, strlen(id), &json, &json_len, NULL); break;
      case 2: code = hotstate_plugin_ids(r->db, &json, &json_len); break;
      default: code = hotstate_audit_events(r->db, id, strlen(id), NULL, INT64_MIN, 1, 1, &json, &json_len); break;
    }
    if (code == HOTSTATE_OK) {
      hotstate_free(json);
      ++r->ok;
      closed_in_a_row = 0;
      if (r->closed > 0) ++r->ok_after_closed;
      if ((i + r->index) % 4 != 0) continue;
      strcpy(r->last_saved, snapshot);
      if (!announced) { /* after its first save */
        pthread_mutex_lock(r->mutex);
        ++*r->started;
        pthread_cond_broadcast(r->cond);
        pthread_mutex_unlock(r->mutex);
        announced = 1;
      }
    } else if (code == HOTSTATE_INVALID_ARGUMENT) {
      ++r->closed;
      ++closed_in_a_row;
      if (!contains(hotstate_last_error(), "not open")) ++r->bad_message;
    } else {
      ++r->other;
    }
  }
  if (!announced) {
    pthread_mutex_lock(r->mutex);
    ++*r->started;
    pthread_cond_broadcast(r->cond);
    pthread_mutex_unlock(r->mutex);
  }
  return NULL;
}

static void* closer_main(void* argument) {
  hotstate_close(argument);
  return NULL;
}

static void test_close_while_calling(void) {
  enum { racer_count = 4 };
  const char* path = temp_file("close-race.db");
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  pthread_t threads[racer_count];
  pthread_t closer;
  struct racer racers[racer_count];
  const struct timespec pause = {0, 20 * 1000 * 1000};
  hotstate_db* db = NULL;
  char* json = NULL;
  size_t json_len = 0;
  int started = 0;
  int created = 0;
  int closer_created;
  int i;

  CHECK_OK(hotstate_open_path(path, &db));
  if (db == NULL) return;
  for (i = 0; i < racer_count; ++i) {
    memset(&racers[i], 0, sizeof racers[i]);
    racers[i].db = db;
    racers[i].index = i;
    racers[i].mutex = &mutex;
    racers[i].cond = &cond;
    racers[i].started = &started;
    if (pthread_create(&threads[i], NULL, racer_main, &racers[i]) == 0) ++created;
  }
  CHECK(created == racer_count);
  /* Every racer has saved and goes on calling; then two threads close at
   * once. */
  pthread_mutex_lock(&mutex);
  while (started < created) pthread_cond_wait(&cond, &mutex);
  pthread_mutex_unlock(&mutex);
  nanosleep(&pause, NULL);
  closer_created = pthread_create(&closer, NULL, closer_main, db) == 0;
  CHECK(closer_created);
  hotstate_close(db);
  /* Closed when close returns. */
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_plugin_ids(db, &json, &json_len));
  if (closer_created) CHECK(pthread_join(closer, NULL) == 0);
  for (i = 0; i < created; ++i) CHECK(pthread_join(threads[i], NULL) == 0);

  for (i = 0; i < created; ++i) {
    CHECK(racers[i].ok > 0);
    CHECK(racers[i].closed >= 50);
    CHECK(racers[i].ok_after_closed == 0);
    CHECK(racers[i].other == 0);
    CHECK(racers[i].bad_message == 0);
  }

  /* Every save that returned OK is in the file. */
  db = NULL;
  CHECK_OK(hotstate_open_path(path, &db));
  if (db == NULL) return;
  for (i = 0; i < created; ++i) {
    char id[32];
    snprintf(id, sizeof id, "racer-%d", i);
    CHECK(racers[i].last_saved[0] != '\0');
    CHECK_OK(hotstate_load(db, id, strlen(id), &json, &json_len, NULL));
    CHECK_TEXT(json, racers[i].last_saved);
    hotstate_free(json);
  }
  hotstate_close(db);
  pthread_mutex_destroy(&mutex);
  pthread_cond_destroy(&cond);
}

/* A C migration 1 -> 2: renames "message" to "greeting" by editing the
 * seed-layout text (the test's state has no other "message"). Fails (returns
 * 1) when user_data points at a nonzero int. */
static int rename_message(void* user_data, const char* json, size_t json_len, hotstate_migration_result* result) {
  char buffer[2048];
  const char* at;
  size_t prefix;
  if (user_data != NULL && *(const int*)user_data != 0) {
    hotstate_migration_result_fail(result, "told to fail", 12);
    return 1;
  }
  if (json_len >= sizeof buffer - 16) return 1;
  memcpy(buffer, json, json_len);
  buffer[json_len] = '\0';
  at = strstr(buffer, "\"message\"");
  if (at == NULL) return 1;
  prefix = (size_t)(at - buffer);
  {
    char out[2048];
    int n = snprintf(out, sizeof out, "%.*s\"greeting\"%s", (int)prefix, buffer, at + strlen("\"message\""));
    if (n < 0 || (size_t)n >= sizeof out) return 1;
    return hotstate_migration_result_set(result, out, (size_t)n) == HOTSTATE_OK ? 0 : 1;
  }
}

static void test_versions_pins_and_restores(void) {
  hotstate_db* db = NULL;
  char* json = NULL;
  size_t len = 0;
  uint64_t first = 0, second = 0, seq = 0;
  int removed = -1;
  int fail = 1;
  const char* v1 = "{\"plugin_id\":\"g\",\"timestamp\":1,\"data\":{\"message\":\"Hi\"},\"plugin_version\":\"1.0.0\",\"metadata\":{}}";
  const char* v1b = "{\"plugin_id\":\"g\",\"timestamp\":2,\"data\":{\"message\":\"Yo\"},\"plugin_version\":\"1.1.0\",\"metadata\":{}}";

  CHECK_OK(hotstate_open_path(temp_file("versions.db"), &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_save(db, v1, strlen(v1), &first));
  CHECK_OK(hotstate_save(db, v1b, strlen(v1b), &second));

  /* A stored snapshot by seq; none for an unknown one. */
  CHECK_OK(hotstate_snapshot(db, "g", 1, first, &json, &len));
  CHECK(contains(json, "\"Hi\""));
  hotstate_free(json);
  CHECK_OK(hotstate_snapshot(db, "g", 1, 999, &json, &len));
  CHECK(json == NULL && len == 0);

  /* Pins. */
  CHECK_OK(hotstate_pin(db, "g", 1, first, "good", 4));
  CHECK_CODE(HOTSTATE_NOT_FOUND, hotstate_pin(db, "g", 1, 999, "x", 1));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_pin(db, "g", 1, first, "", 0));
  CHECK_OK(hotstate_pinned(db, "g", 1, "good", 4, &json, &len, &seq));
  CHECK(seq == first);
  hotstate_free(json);
  CHECK_OK(hotstate_pins(db, NULL, 0, &json, &len));
  CHECK(contains(json, "\"label\":\"good\""));
  hotstate_free(json);

  /* A restore: a copy made current. */
  CHECK_OK(hotstate_restore(db, "g", 1, first, &json, &len, &seq));
  CHECK(seq > second);
  CHECK(contains(json, "\"Hi\""));
  hotstate_free(json);
  CHECK_CODE(HOTSTATE_NOT_FOUND, hotstate_restore(db, "g", 1, 999, &json, &len, &seq));

  /* What was current at a time long past: nothing. */
  CHECK_OK(hotstate_snapshot_at(db, "g", 1, 0, &json, &len, &seq));
  CHECK(json == NULL && seq == 0);

  /* A C migration, failing first, then working: restore_for 2.0.0. */
  CHECK_OK(hotstate_register_migration(db, "g", 1, 1, 2, rename_message, &fail));
  CHECK_OK(hotstate_restore_for(db, "g", 1, "2.0.0", 5, &json, &len, &seq));
  CHECK(json == NULL);  /* every candidate's migration failed */
  CHECK_OK(hotstate_audit_events(db, "g", 1, "RestoreSkipped", INT64_MIN, 1, 1, &json, &len));
  CHECK(contains(json, "migration failed: told to fail"));
  hotstate_free(json);
  fail = 0;
  CHECK_OK(hotstate_restore_for(db, "g", 1, "2.0.0", 5, &json, &len, &seq));
  CHECK(contains(json, "\"greeting\":\"Hi\""));
  CHECK(contains(json, "\"plugin_version\":\"2.0.0\""));
  hotstate_free(json);
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_register_migration(db, "g", 1, 2, 2, rename_message, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_register_migration(db, "g", 1, 1, 2, NULL, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_migration_result_set(NULL, "{}", 2));

  /* finish_reload that pins last-known-good. */
  {
    uint64_t reload_id = 0, snapshot_seq = 0;
    CHECK_OK(hotstate_begin_reload(db, v1b, strlen(v1b), "3.0.0", 5, &reload_id, &snapshot_seq));
    CHECK_OK(hotstate_finish_reload_pinning(db, reload_id, NULL, 0));
    CHECK_OK(hotstate_pinned(db, "g", 1, "last-known-good", 15, &json, &len, &seq));
    CHECK(seq == snapshot_seq);
    hotstate_free(json);
  }

  {
    /* A batch: all of it, or nothing. */
    const char* two = "[{\"plugin_id\":\"b1\",\"timestamp\":1,\"data\":{},\"plugin_version\":\"1.0.0\",\"metadata\":{}},"
                      "{\"plugin_id\":\"b2\",\"timestamp\":1,\"data\":{},\"plugin_version\":\"1.0.0\",\"metadata\":{}}]";
    const char* bad = "[{\"plugin_id\":\"b3\",\"timestamp\":1,\"data\":{},\"plugin_version\":\"1.0.0\",\"metadata\":{}},"
                      "{\"plugin_id\":\"b4\"}]";
    size_t count = 0;
    CHECK_OK(hotstate_save_all(db, two, strlen(two), &count));
    CHECK(count == 2);
    CHECK_CODE(HOTSTATE_INVALID_SNAPSHOT, hotstate_save_all(db, bad, strlen(bad), &count));
    CHECK(contains(hotstate_last_error(), "element 1"));
    CHECK_OK(hotstate_load(db, "b3", 2, &json, &len, &seq));
    CHECK(json == NULL);  /* the first element was not saved either */
    CHECK_CODE(HOTSTATE_TYPE_MISMATCH, hotstate_save_all(db, "{}", 2, &count));
  }

  {
    /* Maintenance: a backup that opens, and verify. */
    int ok = -1;
    hotstate_db* copy = NULL;
    CHECK_OK(hotstate_backup(db, temp_file("versions-copy.db")));
    CHECK_OK(hotstate_open_path(temp_file("versions-copy.db"), &copy));
    if (copy != NULL) {
      CHECK_OK(hotstate_load(copy, "g", 1, &json, &len, &seq));
      CHECK(json != NULL);
      hotstate_free(json);
      hotstate_close(copy);
    }
    CHECK_OK(hotstate_verify(db, &ok, &json, &len));
    CHECK(ok == 1);
    CHECK_TEXT(json, "[]");
    hotstate_free(json);
    CHECK_OK(hotstate_verify(db, &ok, NULL, NULL));
    CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_backup(db, NULL));
  }

  CHECK_OK(hotstate_unpin(db, "g", 1, "good", 4, &removed));
  CHECK(removed == 1);
  CHECK_OK(hotstate_unpin(db, "g", 1, "good", 4, &removed));
  CHECK(removed == 0);
  hotstate_close(db);
}

/* ---- The audit log's hash chain: checkpoints, verify_extends, the audit
 * key and the checkpoint callback (issue 15) */

/* The text of the JSON string member `name` of `json` (the first one, so
 * the outermost object's when it comes first in key order) copied into
 * `out` (size `size`); "" when there is none or it does not fit. */
static const char* string_member(const char* json, const char* name, char* out, size_t size) {
  char key[64];
  const char* start;
  const char* end;
  out[0] = '\0';
  snprintf(key, sizeof key, "\"%s\":\"", name);
  start = json != NULL ? strstr(json, key) : NULL;
  if (start == NULL) return out;
  start += strlen(key);
  end = strchr(start, '"');
  if (end == NULL || (size_t)(end - start) >= size) return out;
  memcpy(out, start, (size_t)(end - start));
  out[end - start] = '\0';
  return out;
}

/* The JSON number member `name` of `json` (the first one); -1 when none. */
static long long number_member(const char* json, const char* name) {
  char key[64];
  const char* start;
  snprintf(key, sizeof key, "\"%s\":", name);
  start = json != NULL ? strstr(json, key) : NULL;
  if (start == NULL) return -1;
  return strtoll(start + strlen(key), NULL, 10);
}

/* Whether `text` is exactly 64 lowercase hex digits. */
static int is_hex64(const char* text) {
  size_t i;
  if (strlen(text) != 64) return 0;
  for (i = 0; i < 64; ++i) {
    if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'))) return 0;
  }
  return 1;
}

/* What the checkpoint callback saw. */
struct checkpoint_log {
  int calls;
  int bad_length;  /* calls whose json_len was not strlen(json) */
  char last[1024]; /* the last checkpoint's JSON */
};

static void on_checkpoint(void* user_data, const char* json, size_t json_len) {
  struct checkpoint_log* log = (struct checkpoint_log*)user_data;
  ++log->calls;
  if (json == NULL || strlen(json) != json_len) ++log->bad_length;
  if (json != NULL && json_len < sizeof log->last) memcpy(log->last, json, json_len + 1);
}

static void test_audit_chain(void) {
  /* Any bytes, a NUL among them. */
  static const unsigned char key[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                        0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
  static const unsigned char other_key[4] = {'n', 'o', 'p', 'e'};
  hotstate_options options;
  hotstate_db* db = NULL;
  char* head = NULL;
  char* json = NULL;
  size_t head_len = 0;
  size_t len = 0;
  char hash[128];
  char text[160];
  char wrong[160];
  char signature[128];
  int ok = 77;
  int i;
  struct checkpoint_log log;

  /* ---- Without a key: a chain, no signatures. */
  CHECK_OK(hotstate_open_path(temp_file("chain.db"), &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_audit_head(db, &head, &head_len));
  CHECK(head != NULL && head_len == strlen(head));
  CHECK(number_member(head, "event_id") == 0); /* an empty log */
  CHECK_TEXT(string_member(head, "chain_hash", hash, sizeof hash),
             "0000000000000000000000000000000000000000000000000000000000000000");
  hotstate_free(head);

  CHECK_OK(hotstate_save(db, S(counter1), NULL));
  CHECK_OK(hotstate_save(db, S(counter2), NULL));
  CHECK_OK(hotstate_audit_head(db, &head, &head_len));
  CHECK(head != NULL && head_len == strlen(head));
  CHECK(is_hex64(string_member(head, "chain_hash", hash, sizeof hash)));
  CHECK(strcmp(hash, "0000000000000000000000000000000000000000000000000000000000000000") != 0);
  CHECK(number_member(head, "event_count") >= 2);
  CHECK(number_member(head, "event_count") == event_count(db, NULL)); /* no prune: every event is in the log */
  CHECK(number_member(head, "event_id") > 0);
  CHECK(number_member(head, "time_us") > 0);
  CHECK(contains(head, "\"time\":\""));
  CHECK(!contains(head, "\"signature\"")); /* no key */
  string_member(head, "text", text, sizeof text);
  {
    char expected[160];
    snprintf(expected, sizeof expected, "%lld:%s", number_member(head, "event_id"), hash);
    CHECK_TEXT(text, expected);
  }

  /* The log extends its own head. */
  CHECK_OK(hotstate_verify_extends(db, text, strlen(text), &ok, &json, &len));
  CHECK(ok == 1);
  CHECK(json != NULL && len == strlen(json));
  CHECK(contains(json, "\"problems\":[]"));
  CHECK(contains(json, "\"ok\":true"));
  CHECK(contains(json, "\"unchained_events\":0"));
  CHECK(contains(json, "\"audit_head\":{"));
  CHECK(contains(json, text)); /* the head verify found is the checkpoint */
  CHECK(number_member(json, "schema_version") == hotstate_schema_version());
  hotstate_free(json);
  ok = 77;
  CHECK_OK(hotstate_verify_extends(db, text, strlen(text), &ok, NULL, NULL)); /* the report not wanted */
  CHECK(ok == 1);

  /* Hex digits in either case. */
  for (i = 0; text[i] != '\0'; ++i) {
    wrong[i] = (text[i] >= 'a' && text[i] <= 'f') ? (char)(text[i] - 'a' + 'A') : text[i];
  }
  wrong[i] = '\0';
  CHECK_OK(hotstate_verify_extends(db, wrong, strlen(wrong), &ok, NULL, NULL));
  CHECK(ok == 1);

  /* A later write: the log still extends the older checkpoint. */
  CHECK_OK(hotstate_save(db, S(counter3), NULL));
  CHECK_OK(hotstate_verify_extends(db, text, strlen(text), &ok, &json, &len));
  CHECK(ok == 1);
  CHECK(!contains(json, text)); /* the head moved on */
  hotstate_free(json);

  /* A chain hash that differs: a problem, not a failure. */
  memcpy(wrong, text, strlen(text) + 1);
  wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == '0' ? '1' : '0';
  ok = 77;
  CHECK_OK(hotstate_verify_extends(db, wrong, strlen(wrong), &ok, &json, &len));
  CHECK(ok == 0);
  CHECK(contains(json, "\"ok\":false"));
  CHECK(contains(json, "does not extend checkpoint"));
  CHECK(contains(json, wrong));
  hotstate_free(json);
  /* A checkpoint beyond the log's end: its newest events were removed. */
  snprintf(wrong, sizeof wrong, "%lld:%s", number_member(head, "event_id") + 1000, hash);
  CHECK_OK(hotstate_verify_extends(db, wrong, strlen(wrong), &ok, &json, &len));
  CHECK(ok == 0);
  CHECK(contains(json, "does not extend checkpoint"));
  hotstate_free(json);
  hotstate_free(head);
  head = NULL;

  /* Texts that are no checkpoint: refused, the out-parameters untouched. */
  ok = 77;
  json = (char*)"untouched";
  len = 77;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_verify_extends(db, S("not a checkpoint"), &ok, &json, &len));
  CHECK(contains(hotstate_last_error(), "ID:HASH"));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_verify_extends(db, S("12:abc"), &ok, &json, &len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_verify_extends(db, NULL, 0, &ok, &json, &len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_verify_extends(db, NULL, 5, &ok, &json, &len));
  CHECK(contains(hotstate_last_error(), "checkpoint_text"));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_verify_extends(db, text, strlen(text), NULL, &json, &len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_verify_extends(db, text, strlen(text), &ok, &json, NULL));
  CHECK(ok == 77 && len == 77);
  CHECK_TEXT(json, "untouched");
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_audit_head(db, NULL, &len));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_audit_head(db, &json, NULL));
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_verify_report(db, NULL, NULL, NULL));

  /* The whole report without a checkpoint; hotstate_verify keeps its array. */
  CHECK_OK(hotstate_verify_report(db, &ok, &json, &len));
  CHECK(ok == 1);
  CHECK(contains(json, "\"problems\":[]") && contains(json, "\"unchained_events\":0"));
  CHECK(contains(json, "\"audit_head\":{\"chain_hash\":\""));
  hotstate_free(json);
  CHECK_OK(hotstate_verify(db, &ok, &json, &len));
  CHECK_TEXT(json, "[]");
  hotstate_free(json);
  hotstate_close(db);

  /* ---- With a key: signed checkpoints, handed to the callback. */
  memset(&log, 0, sizeof log);
  hotstate_options_init(&options, sizeof options);
  options.path = temp_file("chain-keyed.db");
  options.audit_key = key;
  options.audit_key_len = sizeof key;
  options.on_audit_checkpoint = on_checkpoint;
  options.checkpoint_user_data = &log;
  db = NULL;
  CHECK_OK(hotstate_open(&options, &db));
  if (db == NULL) return;
  CHECK_OK(hotstate_save(db, S(counter1), NULL));
  CHECK(log.calls == 1);
  CHECK_OK(hotstate_save(db, S(counter2), NULL));
  CHECK(log.calls == 2);
  CHECK(log.bad_length == 0);
  CHECK_OK(hotstate_audit_head(db, &head, &head_len));
  CHECK(is_hex64(string_member(head, "signature", signature, sizeof signature)));
  CHECK(is_hex64(string_member(head, "chain_hash", hash, sizeof hash)));
  CHECK_TEXT(log.last, head); /* the callback's checkpoint is the head now, signed alike */
  string_member(head, "text", text, sizeof text);
  CHECK_OK(hotstate_verify_extends(db, text, strlen(text), &ok, &json, &len));
  CHECK(ok == 1);
  CHECK(contains(json, signature)); /* the report's head is signed too */
  hotstate_free(json);
  CHECK_OK(hotstate_verify(db, &ok, NULL, NULL)); /* reads write nothing: no callback */
  CHECK(log.calls == 2);
  hotstate_close(db);
  hotstate_free(head);
  head = NULL;

  /* The same file with another key: the signatures do not check. */
  options.audit_key = other_key;
  options.audit_key_len = sizeof other_key;
  options.on_audit_checkpoint = NULL;
  db = NULL;
  CHECK_OK(hotstate_open(&options, &db));
  if (db != NULL) {
    CHECK_OK(hotstate_verify(db, &ok, &json, &len));
    CHECK(ok == 0);
    CHECK(strcmp(json, "[]") != 0);
    hotstate_free(json);
    hotstate_close(db);
  }

  /* audit_checkpoint_every: fewer calls, the first after the first write. */
  memset(&log, 0, sizeof log);
  hotstate_options_init(&options, sizeof options);
  options.path = temp_file("chain-every.db");
  options.on_audit_checkpoint = on_checkpoint;
  options.checkpoint_user_data = &log;
  options.audit_checkpoint_every = 3;
  db = NULL;
  CHECK_OK(hotstate_open(&options, &db));
  if (db == NULL) return;
  for (i = 1; i <= 7; ++i) CHECK_OK(save_numbered(db, "p", i));
  CHECK(log.calls == 3); /* after 1, 4 and 7 chained events */
  CHECK(log.bad_length == 0);
  CHECK(!contains(log.last, "\"signature\"")); /* no key */
  CHECK(number_member(log.last, "event_count") == 7);
  hotstate_close(db);

  /* A key that is NULL with a length: refused, nothing created. */
  hotstate_options_init(&options, sizeof options);
  options.path = temp_file("chain-bad-key.db");
  options.audit_key = NULL;
  options.audit_key_len = 3;
  db = NULL;
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_open(&options, &db));
  CHECK(contains(hotstate_last_error(), "audit_key"));
  CHECK(db == NULL);
  CHECK(access(options.path, F_OK) != 0);

  /* A caller whose struct ends before audit_key: the fields beyond it are
   * not read (here garbage), so no key and no callback. */
  memset(&options, 0xAB, sizeof options);
  hotstate_options_init(&options, offsetof(hotstate_options, audit_key));
  options.path = temp_file("chain-old-layout.db");
  db = NULL;
  CHECK_OK(hotstate_open(&options, &db));
  if (db != NULL) {
    CHECK_OK(hotstate_save(db, S(counter1), NULL));
    CHECK_OK(hotstate_audit_head(db, &head, &head_len));
    CHECK(!contains(head, "\"signature\""));
    CHECK(number_member(head, "event_count") >= 1);
    hotstate_free(head);
    hotstate_close(db);
  }
}

int main(int argc, char** argv) {
  const char* tmp = getenv("TMPDIR");
  const char* db_path;
  hotstate_db* db = NULL;

  if (argc != 2) {
    fprintf(stderr, "usage: %s <seed fixture folder>\n", argv[0]);
    return 2;
  }
  snprintf(temp_dir, sizeof temp_dir, "%s/hotstate-c-api-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(temp_dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  db_path = temp_file("state.db");

  test_versions_and_codes();
  test_options_defaults();
  test_null_arguments(db_path);

  CHECK_OK(hotstate_open_path(db_path, &db));
  CHECK(db != NULL);
  if (db != NULL) {
    test_seed_fixtures(db, argv[1]);
    test_history_rollback_clear(db);
    test_bad_input(db);
    test_audit_log(db);
    test_reload_journal(db);
    test_plugin_state(db);
    hotstate_close(db);
    test_reopen_and_read_only(db_path);
  }
  test_not_a_database();
  test_options();
  test_options_struct_size(temp_file("struct-size.db"));
  test_options_old_layout();
  test_max_history();
  test_invalid_utf8_ids();
  test_closed_and_garbage_handles();
  test_threads();
  test_close_while_calling();
  test_versions_pins_and_restores();
  test_audit_chain();

  remove_temp_dir();
  printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
