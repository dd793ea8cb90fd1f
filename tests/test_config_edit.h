/* test_config_edit.h - edit a generated checkpoint's config.json (test_config_edit.c). */
#ifndef TEST_CONFIG_EDIT_H
#define TEST_CONFIG_EDIT_H

#include <stddef.h>

#include "gen/gen.h"

/* Generate layout l with its default options into TMP/name (path receives it); 0 on success,
 * else the test fails with the generator's message. */
int test_gen(gen_layout l, const char *name, char *path, size_t cap);

/* Set key (a top-level or "parent.child" key) of DIR/config.json to the JSON text value, or
 * delete it when value is NULL. 0 on success. */
int test_config_set(const char *dir, const char *key, const char *value);

#endif
