/* Outgoing HTTP and SMTP: libcurl's multi interface driven by the libuv loop
 * (curl_multi_socket_action, one uv_poll_t per socket curl opens, one uv_timer_t for its
 * time-outs). Nothing blocks the loop; CURL* never leaves core/curl.c and core/curl_url.c (house
 * rule 4).
 *
 * Every transfer has a whole time-out and a bound on the answer's body; redirects are
 * never followed; proxies from the environment are ignored. Unless a request allows it,
 * the address each socket is about to connect to is checked (core/netaddr.h), so a name
 * that resolves to a loopback or private address is refused whatever DNS answers. */
#ifndef TD_CURL_H
#define TD_CURL_H
#include <stddef.h>
#include <uv.h>

struct td_curl;

struct td_curl_req {
    const char        *url;          /* http(s)://… or smtp(s)://… */
    const char        *protocols;    /* allowed schemes, "http,https" (NULL: that) */
    const char *const *headers;      /* HTTP "Name: value" lines, NULL-terminated, or NULL */
    const char        *body;         /* HTTP: POSTed when post is 1; SMTP: the message */
    size_t             body_len;
    int                post;
    const char        *mail_from;    /* SMTP: the envelope sender and one recipient */
    const char        *mail_rcpt;
    const char        *username;     /* SMTP AUTH, or NULL */
    const char        *password;
    int                timeout_ms;   /* the whole transfer; 0: 30 s */
    size_t             max_response; /* body bytes kept; a longer answer stops: -EFBIG */
    int                allow_private;/* 1: connect to any address */
};

struct td_curl_result {
    /* 0; -EACCES: every address it resolved to was refused (error says which);
     * -ETIMEDOUT; -ECONNREFUSED; -EFBIG: the answer was longer than max_response;
     * -EPROTO: the server spoke wrongly or refused the command; -EHOSTUNREACH: name not
     * resolved; -EINVAL: bad URL or scheme; -ECANCELED: td_curl_close; -EIO otherwise. */
    int         status;
    long        code;        /* the HTTP status or the last SMTP reply code; 0: none */
    const char *body;        /* the answer's body (at most max_response bytes) */
    size_t      body_len;
    const char *error;       /* one human line when status is not 0, else "" */
};

/* Called once per transfer, on the loop; r and what it points to live only for the call. */
typedef void (*td_curl_cb)(const struct td_curl_result *r, void *arg);

/* A client on loop. 0 or -ENOMEM. */
int  td_curl_new(uv_loop_t *loop, struct td_curl **out);
/* Starts a transfer (the request is copied). 0, or a negative code and cb is not called. */
int  td_curl_send(struct td_curl *c, const struct td_curl_req *req, td_curl_cb cb, void *arg);
/* Transfers in flight. */
size_t td_curl_active(const struct td_curl *c);
/* Ends every transfer (their callbacks run now with -ECANCELED), closes the handles; the
 * client is freed once they are closed (the loop must run). NULL is fine. */
void td_curl_close(struct td_curl *c);

/* Checks a URL's syntax: one of the schemes in protocols ("http,https"), a host, at most
 * 2048 bytes, no user name or password in it. 0, or -EINVAL with the reason in why. */
int  td_curl_url_check(const char *url, const char *protocols, char *why, size_t whylen);

#endif
