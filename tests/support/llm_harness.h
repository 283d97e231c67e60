/* A scripted OpenAI-compatible chat-completions server for the chat's LLM tests: a real
 * socket server on a thread of the test that answers request i with answers[min(i, n-1)]
 * (status, body, after delay_ms) and keeps each request's Authorization header and body. */
#ifndef TD_TEST_LLM_HARNESS_H
#define TD_TEST_LLM_HARNESS_H
#include <pthread.h>
#include <stdatomic.h>

#define TD_TEST_LLM_MAX 16

struct td_test_llm_answer {
    int         status;
    int         delay_ms;
    const char *body;       /* owned by the test */
};

struct td_test_llm {
    int                       port;
    int                       fd;
    pthread_t                 thread;
    atomic_int                stop;
    struct td_test_llm_answer answers[TD_TEST_LLM_MAX];
    int                       nanswers;
    pthread_mutex_t           lock;
    int                       count;                  /* requests received */
    char                     *bodies[TD_TEST_LLM_MAX];   /* malloc'd */
    char                     *auth[TD_TEST_LLM_MAX];     /* Authorization value or NULL */
};

/* Starts answering on 127.0.0.1 (a free port); set answers/nanswers before. */
void td_test_llm_start(struct td_test_llm *s);
int  td_test_llm_count(struct td_test_llm *s);
void td_test_llm_stop(struct td_test_llm *s);

#endif
