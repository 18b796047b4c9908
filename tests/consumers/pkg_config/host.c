/* A C host using the installed C API, built with nothing but pkg-config and
 * a C compiler: saves a snapshot in the seed's JSON layout, reloads it, rolls
 * back, records a reload event, and reports an error by code and message. */
#include <hotstate/hotstate.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(condition)                                                   \
  do {                                                                       \
    if (!(condition)) {                                                      \
      fprintf(stderr, "%s:%d: %s (%s)\n", __FILE__, __LINE__, #condition,    \
              hotstate_last_error());                                        \
      return 1;                                                              \
    }                                                                        \
  } while (0)

static const char first[] =
    "{\"plugin_id\":\"c-host\",\"timestamp\":1700000000,\"data\":{\"count\":1},"
    "\"plugin_version\":\"1.0.0\",\"metadata\":{}}";
static const char second[] =
    "{\"plugin_id\":\"c-host\",\"timestamp\":1700000001,\"data\":{\"count\":2},"
    "\"plugin_version\":\"1.0.0\",\"metadata\":{}}";

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "c-host.db";
  hotstate_db* db = NULL;
  char* json = NULL;
  size_t json_len = 0;
  uint64_t seq = 0;

  remove(path);
  REQUIRE(hotstate_open_path(path, &db) == HOTSTATE_OK);
  REQUIRE(hotstate_save(db, first, strlen(first), NULL) == HOTSTATE_OK);
  REQUIRE(hotstate_save(db, second, strlen(second), &seq) == HOTSTATE_OK && seq == 2);
  REQUIRE(hotstate_rollback(db, "c-host", 6, &json, &json_len, &seq) == HOTSTATE_OK);
  REQUIRE(json != NULL && seq == 1 && strstr(json, "\"count\":1") != NULL);
  hotstate_free(json);
  REQUIRE(hotstate_record_event(db, "RollbackTriggered", "c-host", 6, "{\"reason\":\"test\"}", 17) == HOTSTATE_OK);

  /* Bad input: a code and a message, never a crash. */
  REQUIRE(hotstate_save(db, "not json", 8, NULL) == HOTSTATE_INVALID_JSON);
  REQUIRE(strlen(hotstate_last_error()) > 0);

  hotstate_close(db);
  printf("C host linked the installed libhotstate %s\n", hotstate_version());
  return 0;
}
