/* roles/api/tools_schema.c: the JSON Schema subset tool arguments are checked against,
 * with one line naming the member at fault. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "roles/api/tools.h"

static const char *schema_text =
    "{\"type\":\"object\",\"properties\":{"
    "\"user_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":8},"
    "\"task_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    "\"status\":{\"type\":\"string\",\"enum\":[\"all\",\"pending\"]},"
    "\"due\":{\"type\":[\"string\",\"null\"]},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":200},"
    "\"tags\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"items\":{\"type\":\"string\",\"maxLength\":3}},"
    "\"r\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"at\":{\"type\":\"string\"}},"
    "\"additionalProperties\":false}}},"
    "\"required\":[\"user_id\"],\"additionalProperties\":false}";

static char err[256];

static int check(const char *value)
{
    json_t *s = json_loads(schema_text, 0, NULL), *v = json_loads(value, JSON_DECODE_ANY, NULL);
    cr_assert(s && v, "test JSON parses: %s", value);
    err[0] = '\0';
    int rc = api_schema_check(s, v, err, sizeof err);
    json_decref(s);
    json_decref(v);
    return rc;
}

Test(tools_schema, a_valid_value_passes)
{
    cr_expect_eq(check("{\"user_id\":\"u1\"}"), 0, "%s", err);
    cr_expect_eq(check("{\"user_id\":\"ü2345678\",\"task_id\":\"0b6e6a4e-4d49-4a65-9a5e-2b6f0d3c1a77\","
                       "\"status\":\"all\",\"due\":null,\"limit\":200,\"tags\":[\"a\",\"été\"],"
                       "\"r\":[{\"at\":\"x\"}]}"), 0, "%s", err);
    cr_expect_eq(check("{\"user_id\":\"u\",\"due\":\"2030-01-01\"}"), 0, "%s", err);
}

static void refused(const char *value, const char *want)
{
    cr_expect_eq(check(value), -EINVAL, "%s passes", value);
    cr_expect(strstr(err, want) != NULL, "%s: got \"%s\", want \"%s\"", value, err, want);
}

Test(tools_schema, each_rule_names_the_member)
{
    refused("[]", "arguments: must be an object");
    refused("{}", "user_id: is required");
    refused("{\"user_id\":\"u\",\"x\":1}", "x: is not a parameter of this tool");
    refused("{\"user_id\":7}", "user_id: must be a string");
    refused("{\"user_id\":\"\"}", "user_id: must be 1 to 8 characters");
    refused("{\"user_id\":\"123456789\"}", "user_id: must be 1 to 8 characters");
    refused("{\"user_id\":\"u\",\"task_id\":\"abc\"}", "task_id: must be a task id (a UUID)");
    refused("{\"user_id\":\"u\",\"status\":\"done\"}", "status: must be one of \"all\", \"pending\"");
    refused("{\"user_id\":\"u\",\"due\":3}", "due: must be a string or null");
    refused("{\"user_id\":\"u\",\"limit\":0}", "limit: must be from 1 to 200");
    refused("{\"user_id\":\"u\",\"limit\":1.5}", "limit: must be an integer");
    refused("{\"user_id\":\"u\",\"tags\":[]}", "tags: must have 1 to 2 items");
    refused("{\"user_id\":\"u\",\"tags\":[\"a\",\"b\",\"c\"]}", "tags: must have 1 to 2 items");
    refused("{\"user_id\":\"u\",\"tags\":[\"a\",\"long\"]}", "tags[1]: must be 0 to 3 characters");
    refused("{\"user_id\":\"u\",\"tags\":[\"a\",null]}", "tags[1]: must be a string");
    refused("{\"user_id\":\"u\",\"r\":[{\"at\":\"x\",\"y\":1}]}", "r[0].y: is not a parameter");
}
