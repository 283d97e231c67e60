/* A raw RFC 6455 client over a blocking TCP socket, for tests that need every byte under
 * control: unmasked and oversized frames, bad Origin, a client that stops reading. */
#ifndef TD_TEST_WS_HARNESS_H
#define TD_TEST_WS_HARNESS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct td_test_ws {
    int     fd;
    int     status;        /* the handshake answer's status (101 when upgraded) */
    int     accept_ok;     /* Sec-WebSocket-Accept matched the key sent */
    char   *head;          /* the answer's head, malloc'd */
    char   *body;          /* a refused handshake's body, malloc'd ("" when none) */
    char   *in;            /* bytes read past what was parsed */
    size_t  inlen, incap;
    int     close_code;    /* from the server's close frame; 1006 without one; 0 open */
    int     auto_pong;     /* answer pings (default 1) */
    int     pings;         /* pings seen */
};

/* Connects to 127.0.0.1:port, sends GET path with the WebSocket headers (plus extra
 * "Name: value" lines, NULL-terminated, may be NULL) and reads the answer's head (and a
 * refusal's body). rcvbuf > 0 sets SO_RCVBUF first (a slow client). Returns the status,
 * -1 when nothing came. */
int  td_test_ws_open(struct td_test_ws *ws, int port, const char *path,
                     const char *const *headers, int rcvbuf);
/* One frame, FIN set; masked as a client must, or not. */
int  td_test_ws_send(struct td_test_ws *ws, int opcode, const void *data, size_t len, int masked);
/* A frame header announcing len payload bytes (no payload). */
int  td_test_ws_send_header(struct td_test_ws *ws, int opcode, uint64_t len, int masked);
/* The next frame: returns its opcode and payload (malloc'd, NUL-terminated), -1 on timeout,
 * -2 when the socket closed. Pings are answered when auto_pong (and returned too). */
int  td_test_ws_recv(struct td_test_ws *ws, int timeout_ms, char **payload, size_t *len);
/* The next text message as JSON, skipping control frames; NULL on timeout or close
 * (close_code says which). */
json_t *td_test_ws_next(struct td_test_ws *ws, int timeout_ms);
/* Reads until the server's close frame (answering it) or the socket closes; returns the
 * close code, 1006 when the socket closed without one, -1 on timeout. Text is skipped. */
int  td_test_ws_wait_close(struct td_test_ws *ws, int timeout_ms);
void td_test_ws_free(struct td_test_ws *ws);

#endif
