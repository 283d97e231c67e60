/* libcurl multi on the libuv loop (core/curl.h). The pattern of curl's multi-uv example:
 * curl says through its socket callback which sockets to watch for what (a uv_poll_t each,
 * freed in its close callback) and through its timer callback when to call it back (one
 * uv_timer_t); both call curl_multi_socket_action, then finished transfers are read with
 * curl_multi_info_read and answered. */
#include "core/curl.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/curl_internal.h"
#include "core/netaddr.h"

struct sock {
    uv_poll_t       poll;
    curl_socket_t   fd;
    struct td_curl *c;
    struct sock    *next, *prev;   /* the client's open polls */
};

struct xfer {
    struct td_curl    *c;
    CURL              *easy;
    struct xfer       *next, *prev;
    struct curl_slist *headers;
    struct curl_slist *rcpt;
    char              *body;       /* owned copy of the request's body */
    size_t             body_len, sent;
    char              *answer;     /* what came back, at most max bytes */
    size_t             answer_len, max;
    int                too_big;
    int                refused;
    int                allow_private;
    char               refusal[160];
    char               errbuf[CURL_ERROR_SIZE];
    td_curl_cb         cb;
    void              *arg;
};

struct td_curl {
    uv_loop_t   *loop;
    CURLM       *multi;
    uv_timer_t   timer;
    struct xfer *xfers;
    struct sock *socks;
    size_t       active;
    int          handles;    /* open uv handles (the timer, the polls) */
    int          closing;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int td_curl_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_rc == CURLE_OK ? 0 : -EIO;
}

static void maybe_free(struct td_curl *c)
{
    if (c->closing && c->handles == 0)
        free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct td_curl *c;
    if (h->type == UV_POLL) {
        struct sock *k = h->data;
        c = k->c;
        free(k);
    } else {
        c = h->data;
    }
    c->handles--;
    maybe_free(c);
}

/* ---------- one transfer ---------- */

static void xfer_free(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->rcpt);
    free(x->body);
    free(x->answer);
    free(x);
}

static void xfer_unlink(struct xfer *x)
{
    struct td_curl *c = x->c;
    if (x->prev)
        x->prev->next = x->next;
    else
        c->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    c->active--;
    curl_multi_remove_handle(c->multi, x->easy);
}

static int status_of(struct xfer *x, CURLcode rc, long code)
{
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_WRITE_ERROR:
        return x->too_big ? -EFBIG : -EIO;
    case CURLE_COULDNT_CONNECT:
        return x->refused ? -EACCES : -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return -EINVAL;
    case CURLE_RECV_ERROR:
        return code >= 400 ? -EPROTO : -EIO;   /* SMTP: a refused command */
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_GOT_NOTHING:
    case CURLE_LOGIN_DENIED:
    case CURLE_UPLOAD_FAILED:
    case CURLE_QUOTE_ERROR:
        return -EPROTO;
    default:
        return -EIO;
    }
}

static void xfer_finish(struct xfer *x, CURLcode rc)
{
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    struct td_curl_result r = {
        .status = status_of(x, rc, code), .code = code,
        .body = x->answer ? x->answer : "", .body_len = x->answer_len, .error = "",
    };
    char line[400];
    if (r.status == -EACCES) {
        snprintf(line, sizeof line, "refused to connect to a %s", x->refusal);
        r.error = line;
    } else if (r.status == -EFBIG) {
        snprintf(line, sizeof line, "the answer is longer than %zu bytes", x->max);
        r.error = line;
    } else if (r.status) {
        snprintf(line, sizeof line, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        r.error = line;
    }
    xfer_unlink(x);
    x->cb(&r, x->arg);
    xfer_free(x);
}

static void read_done(struct td_curl *c)
{
    CURLMsg *m;
    int left;
    while (!c->closing && (m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result;
        if (x)
            xfer_finish(x, rc);   /* m is invalid from here on */
    }
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    if (x->answer_len + len > x->max) {
        x->too_big = 1;
        return 0;   /* CURLE_WRITE_ERROR ends the transfer */
    }
    char *grown = realloc(x->answer, x->answer_len + len + 1);
    if (!grown)
        return 0;
    memcpy(grown + x->answer_len, data, len);
    x->answer = grown;
    x->answer_len += len;
    x->answer[x->answer_len] = '\0';
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n, left = x->body_len - x->sent;
    if (len > left)
        len = left;
    memcpy(buf, x->body + x->sent, len);
    x->sent += len;
    return len;
}

/* Before each connect: the address it is about to reach (after DNS, for every address
 * tried, and for a redirect if one were followed). */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = arg;
    char why[128];
    if (!x->allow_private && purpose == CURLSOCKTYPE_IPCXN &&
        td_netaddr_private(&a->addr, a->addrlen, why, sizeof why) != 0) {
        x->refused = 1;
        snprintf(x->refusal, sizeof x->refusal, "%s", why);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---------- the multi on the loop ---------- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *k = p->data;
    struct td_curl *c = k->c;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(c->multi, k->fd, flags, &running);
    read_done(c);
}

static void on_timer(uv_timer_t *t)
{
    struct td_curl *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    read_done(c);
}

static void sock_close(struct td_curl *c, struct sock *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        c->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, on_handle_closed);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct td_curl *c = userp;
    struct sock *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            if (!c->closing)
                curl_multi_assign(c->multi, fd, NULL);
            sock_close(c, k);
        }
        return 0;
    }
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k || uv_poll_init_socket(c->loop, &k->poll, fd)) {
            free(k);
            return -1;
        }
        k->fd = fd;
        k->c = c;
        k->poll.data = k;
        k->next = c->socks;
        if (c->socks)
            c->socks->prev = k;
        c->socks = k;
        c->handles++;
        curl_multi_assign(c->multi, fd, k);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&k->poll, events, on_poll) ? -1 : 0;
}

static int on_timeout_change(CURLM *multi, long ms, void *userp)
{
    (void)multi;
    struct td_curl *c = userp;
    if (ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
    return 0;
}

int td_curl_new(uv_loop_t *loop, struct td_curl **out)
{
    *out = NULL;
    if (td_curl_global_init())
        return -EIO;
    struct td_curl *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return -ENOMEM;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles = 1;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timeout_change);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    *out = c;
    return 0;
}

size_t td_curl_active(const struct td_curl *c)
{
    return c ? c->active : 0;
}

static int set_options(struct xfer *x, const struct td_curl_req *req)
{
    CURL *e = x->easy;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                            req->protocols ? req->protocols : "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, x) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                            (long)(req->timeout_ms > 0 ? req->timeout_ms : 30000)) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "todod/" TODOD_VERSION) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x) != CURLE_OK;
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *l = curl_slist_append(x->headers, *h);
        if (!l)
            return -ENOMEM;
        x->headers = l;
    }
    if (x->headers)
        bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers) != CURLE_OK;
    if (req->mail_rcpt) {   /* SMTP: the body is the message, uploaded */
        x->rcpt = curl_slist_append(NULL, req->mail_rcpt);
        if (!x->rcpt)
            return -ENOMEM;
        bad |= curl_easy_setopt(e, CURLOPT_MAIL_FROM, req->mail_from ? req->mail_from : "")
               != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, x->rcpt) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_READDATA, x) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len) != CURLE_OK;
    } else if (req->post) {
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len)
               != CURLE_OK;
    }
    if (req->username) {
        bad |= curl_easy_setopt(e, CURLOPT_USERNAME, req->username) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_PASSWORD, req->password ? req->password : "")
               != CURLE_OK;
    }
    return bad ? -EINVAL : 0;
}

int td_curl_send(struct td_curl *c, const struct td_curl_req *req, td_curl_cb cb, void *arg)
{
    if (!c || c->closing || !req || !req->url || !cb)
        return -EINVAL;
    struct xfer *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->c = c;
    x->cb = cb;
    x->arg = arg;
    x->max = req->max_response;
    x->allow_private = req->allow_private;
    x->body_len = req->body ? req->body_len : 0;
    x->body = malloc(x->body_len + 1);
    x->easy = curl_easy_init();
    if (!x->body || !x->easy) {
        xfer_free(x);
        return -ENOMEM;
    }
    if (x->body_len)
        memcpy(x->body, req->body, x->body_len);
    x->body[x->body_len] = '\0';
    int rc = set_options(x, req);
    if (rc) {
        xfer_free(x);
        return rc;
    }
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        xfer_free(x);
        return -EIO;
    }
    x->next = c->xfers;
    if (c->xfers)
        c->xfers->prev = x;
    c->xfers = x;
    c->active++;
    return 0;
}

void td_curl_close(struct td_curl *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    while (c->xfers) {
        struct xfer *x = c->xfers;
        xfer_unlink(x);
        struct td_curl_result r = {.status = -ECANCELED, .body = "", .error = "cancelled"};
        x->cb(&r, x->arg);
        xfer_free(x);
    }
    curl_multi_cleanup(c->multi);   /* closes pooled connections: their polls close */
    c->multi = NULL;
    while (c->socks)   /* any poll curl did not say to remove */
        sock_close(c, c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}
