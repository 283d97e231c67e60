/* A JSON Schema (2020-12) validator for the subset proto/events uses: type, const, enum,
 * required, properties, additionalProperties: false, items, minLength, format uuid and
 * date-time, and $ref to "#/$defs/...". Test code: it checks our own contracts. */
#ifndef TD_TEST_JSON_SCHEMA_H
#define TD_TEST_JSON_SCHEMA_H
#include <jansson.h>
#include <stddef.h>

/* Returns 0 when instance is valid; else -1 with the first failure's path and reason in
 * why. Unknown keywords fail loudly, so the schema cannot silently outgrow the checker. */
int td_test_schema_validate(json_t *schema, json_t *instance, char *why, size_t whylen);
/* Loads $TODOD_SOURCE_ROOT/<relpath>; asserts on failure. */
json_t *td_test_schema_load(const char *relpath);

#endif
