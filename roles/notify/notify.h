/* The notify role (`todod notify`): consumes task-events into durable reminder rows
 * (proto/sql/0008_reminders.sql, todod_notify_schedule) and fires each row at its instant
 * from one libuv timer armed at the earliest scheduled instant (todod_notify_fire):
 * state sent, the todo.reminder.due event on topic reminders, an in_app notification;
 * webhook and email reminders become deliveries that deliver.c sends. */
#ifndef TD_ROLE_NOTIFY_H
#define TD_ROLE_NOTIFY_H
#include <uv.h>
#include "core/consume.h"
#include "core/svc.h"
#include "roles/notify/deliver.h"

#define NOTIFY_GROUP "todod-notify"
#define NOTIFY_FIRE_BATCH 100      /* rows per fire statement; more: fire again at once */
#define NOTIFY_LATE_MS 5000        /* fired further behind its instant than this: late */
#define NOTIFY_RETRY_MS 1000       /* the fire statement failed: try again after this */
#define NOTIFY_BUSY_MS 100         /* due rows held by another replica: look again after */
/* The longest the timer sleeps: rows another replica scheduled (its consumer arms only its
 * own timer) are found within this when that replica is gone. One cheap query a period. */
#define NOTIFY_RECHECK_MS 30000

/* The role's settings block (notify_settings). */
struct notify_conf {
    int horizon_ms;   /* --reminder-horizon: older instants are recorded as missed */
    /* The webhook and email channels (deliver.h). */
    int   webhook_allow_private;   /* --webhook-allow-private */
    int   delivery_timeout_ms;     /* one attempt, whole */
    int   retry_initial_ms;        /* the backoff after the first failed attempt */
    int   retry_max_ms;            /* its cap */
    int   max_attempts;
    char *smtp_url;                /* owned; NULL: the email channel is not configured */
    char *smtp_from;
    char *smtp_user;
    char *smtp_password;           /* from --smtp-password-file */
};
extern const struct td_settings_group notify_settings;

/* "Now" in Unix milliseconds. Tests may point it elsewhere before the role starts;
 * NULL means the real clock (CLOCK_REALTIME). */
extern long long (*notify_clock)(void);
long long notify_now_ms(void);

struct notify_call;

struct notify {
    struct td_svc      *svc;
    const struct notify_conf *conf;
    uv_timer_t         *timer;      /* owned; closed by fini, freed in its close callback */
    long long           armed_at;   /* Unix ms the timer is armed for; 0: not armed */
    int                 firing;     /* a fire statement is in flight */
    long long           pending;    /* an instant learnt while firing (0: none) */
    int                 stopping;   /* fini ran: re-arm nothing */
    struct td_consume   calls;      /* schedule statements in flight (core/consume.h) */
    long long           fired;      /* reminders fired by this process (tests, metrics) */
    struct notify_deliver deliver;  /* the webhook and email deliveries (deliver.c) */
};

/* Arms the timer for at (Unix ms) unless it is armed earlier already. */
void notify_arm(struct notify *n, long long at);

#endif
