/* The tool layer: every task action as a named tool with a JSON Schema for its input,
 * run over the same operations as REST (api.h's api_op_*), so events, audit, recurrence,
 * reminders and sync follow. MCP (mcp.c) and later chat and the LLM backend are front-ends
 * of it; none has task logic of its own. */
#ifndef TD_ROLE_API_TOOLS_H
#define TD_ROLE_API_TOOLS_H
#include <stddef.h>
#include <jansson.h>

#include "roles/api/api.h"

/* result: on success the tool's answer (an object, or an array for list_tasks and
 * search_tasks); on failure (is_error 1) {"error": slug, "status": HTTP-like status,
 * "message": text, "errors"?: [{"field","message"}]}. Borrowed: valid during the call. */
typedef void (*api_tool_done_fn)(json_t *result, int is_error, void *arg);

struct api_tool_run;
struct api_tool {
    const char *name;
    const char *description;
    const char *input_schema;   /* JSON Schema (draft 2020-12 subset, see api_schema_check) */
    void      (*run)(struct api_tool_run *run);
};

/* The tools, in a fixed order; *n set to their number. */
const struct api_tool *api_tools(size_t *n);
/* The tool's input schema parsed (borrowed), or NULL for an unknown name. */
json_t *api_tool_schema(struct api *api, const char *name);

/* Where a tool call comes from, for the events it causes (either may be NULL). */
struct api_tool_origin {
    const char *traceparent;
    const char *request_id;
};

/* Runs tool name for subject (the authenticated user) with args (borrowed; a JSON object).
 * The arguments are checked against the tool's schema, and a user_id argument must equal
 * subject: anything else is a tool error, never served. done runs exactly once, maybe
 * before this returns. */
void api_tools_call(struct api *api, const char *subject, const char *name, json_t *args,
                    const struct api_tool_origin *origin, api_tool_done_fn done, void *arg);

/* Parses every tool's schema (api_init) and frees them (api_fini). */
int  api_tools_init(struct api *api);
void api_tools_fini(struct api *api);

/* Checks value against schema: type (one name or a list), properties, required,
 * additionalProperties false, enum, minLength/maxLength (code points), minItems/maxItems,
 * items, minimum/maximum, format "uuid". 0, or -EINVAL with one line in err naming the
 * member ("tags[2]: must be at most 50 characters"). */
int api_schema_check(const json_t *schema, const json_t *value, char *err, size_t errlen);

#endif
