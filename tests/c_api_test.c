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
  CHECK_TEXT(hotstate_code_name((hotstate_code)-1), "Unknown");
  CHECK_TEXT(hotstate_code_name((hotstate_code)20), "Unknown");
  CHECK_TEXT(hotstate_code_name((hotstate_code)1000), "Unknown");
  for (code = HOTSTATE_OK; code <= HOTSTATE_OUT_OF_MEMORY; ++code) {
    CHECK(strcmp(hotstate_code_name((hotstate_code)code), "Unknown") != 0);
  }
  CHECK(HOTSTATE_OK == 0 && HOTSTATE_INTERNAL == 18 && HOTSTATE_OUT_OF_MEMORY == 19);
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
  CHECK(options.max_history == 10);
  CHECK(options.synchronous_normal == 0);
  CHECK(options.read_only == 0);
  CHECK(options.busy_timeout_ms == 5000);
  CHECK(options.cache_max_entries == 4096);
  CHECK(options.cache_max_bytes == (size_t)64 << 20);
  CHECK(options.max_id_bytes == 1024);
  CHECK(options.max_data_bytes == (size_t)16 << 20);
  CHECK(options.max_metadata_bytes == (size_t)1 << 20);
  CHECK(options.vfs == NULL);
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
  CHECK(options.max_history == 10);
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

  /* The numbers fixture's timestamp is 2^64-1: beyond what the store keeps. */
  snprintf(path, sizeof path, "%s/persisted/numbers.json", fixtures);
  persisted = read_text_file(path);
  CHECK(persisted != NULL);
  if (persisted != NULL) {
    seq = 77;
    CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_save(db, persisted, strlen(persisted), &seq));
    CHECK(contains(hotstate_last_error(), "2^63-1"));
    CHECK(seq == 77);
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
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_finish_reload(db, 999999, 1, NULL, 0, 1));

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
  CHECK_CODE(HOTSTATE_INVALID_ARGUMENT, hotstate_resolve_reload(db, 999999, NULL, 0));
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
  test_threads();

  remove_temp_dir();
  printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
