#include "core/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonw.h"

const char *td_http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Unknown";
    }
}

/* Header names and values must not smuggle CR/LF into the answer. */
static int header_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

int td_http_add_header(struct td_http_req *req, const char *name, const char *value)
{
    if (!header_safe(name) || !header_safe(value) || !*name)
        return -EINVAL;
    return td_buf_printf(&req->resp_headers, "%s: %s\r\n", name, value);
}

int td_http_serialize(struct td_http_req *req, int status, const char *content_type,
                      const char *body, size_t len, int keep_alive, const char *date)
{
    struct td_buf *o = &req->out;
    td_buf_reset(o);
    int rc = td_buf_reserve(o, 416 + td_cors_head_bytes(req) + req->resp_headers.len +
                               (req->is_head ? 0 : len));
    if (rc)
        return rc;
    /* nosniff on every answer, the server's own problems too: a browser must never run
     * a body as another type than the one declared; and no page of ours tells another
     * site which URL linked to it. Literals, so nothing is allocated. */
    td_buf_printf(o, "HTTP/1.1 %d %s\r\nDate: %s\r\nX-Request-ID: %s\r\n"
                  "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n",
                  status, td_http_status_text(status), date, req->request_id);
    /* 1xx, 204 and 304 carry no body and no Content-Length. */
    int bodyless = status == 204 || status == 304 || (status >= 100 && status < 200);
    if (!bodyless) {
        if (content_type)
            td_buf_printf(o, "Content-Type: %s\r\n", content_type);
        td_buf_printf(o, "Content-Length: %zu\r\n", len);
    }
    if (!keep_alive)
        td_buf_puts(o, "Connection: close\r\n");
    else if (req->http10)
        td_buf_puts(o, "Connection: keep-alive\r\n");
    td_cors_write(req, o);
    if (req->resp_headers.len)
        td_buf_append(o, req->resp_headers.data, req->resp_headers.len);
    td_buf_append(o, "\r\n", 2);
    if (!bodyless && !req->is_head && len)
        td_buf_append(o, body, len);
    return o->data ? 0 : -ENOMEM;
}

void td_http_respond(struct td_http_req *req, int status, const char *content_type,
                     const char *body, size_t len)
{
    if (req->answered)
        return;   /* a second answer is a handler bug; the first one stands */
    req->answered = 1;
    req->status = status;
    if (td_http_serialize(req, status, content_type, body, len,
                          td_http_conn_keep_alive(req), td_http_date(req->conn)) != 0)
        req->close_after = 1;   /* out of memory: drop the connection after this */
    td_http_conn_answered(req);
}

void td_http_respond_buf(struct td_http_req *req, int status, const char *content_type,
                         struct td_buf *body)
{
    td_http_respond(req, status, content_type, body->data ? body->data : "", body->len);
    td_buf_free(body);
}

void td_http_problem(struct td_http_req *req, int status, const char *slug, const char *title,
                     const char *detail, const char *extra_json)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "{\"type\":");
    td_buf_puts(&b, "\"" TD_PROBLEM_BASE);
    td_buf_puts(&b, slug);   /* slugs are our own constants: [a-z-] */
    td_buf_printf(&b, "\",\"title\":");
    td_jsonw_str(&b, title, (size_t)-1);
    td_buf_printf(&b, ",\"status\":%d", status);
    if (detail) {
        td_buf_puts(&b, ",\"detail\":");
        td_jsonw_str(&b, detail, (size_t)-1);
    }
    td_buf_puts(&b, ",\"instance\":");
    td_jsonw_str(&b, td_http_path(req), (size_t)-1);
    td_buf_puts(&b, ",\"request_id\":");
    td_jsonw_str(&b, req->request_id, (size_t)-1);
    if (extra_json && *extra_json) {
        td_buf_append(&b, ",", 1);
        td_buf_puts(&b, extra_json);
    }
    td_buf_puts(&b, "}");
    td_http_respond_buf(req, status, "application/problem+json", &b);
}
