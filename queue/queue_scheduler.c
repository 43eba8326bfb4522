/*
 * The schedule: every queued message lives here in memory, in a tree by
 * id and, while it has something to do, in a tree by the time of that
 * (the next try of a local recipient, or its expiry).  Due messages go
 * to an LMTP session; the results come back to scheduler_done(), which
 * logs them, bounces failures, updates the envelope and retries the rest
 * with a backoff that doubles from retry-min up to retry-max.  The spool
 * stays the truth: this is rebuilt from queue/ at start.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "queue.h"

#define SCHED_SAFETY_SEC	5

RB_HEAD(msg_byid, msg);
RB_HEAD(msg_bytime, msg);

static int	msg_id_cmp(struct msg *, struct msg *);
static int	msg_time_cmp(struct msg *, struct msg *);
RB_PROTOTYPE(msg_byid, msg, byid, msg_id_cmp);
RB_PROTOTYPE(msg_bytime, msg, bytime, msg_time_cmp);

static struct msg_byid		 byid = RB_INITIALIZER(&byid);
static struct msg_bytime	 bytime = RB_INITIALIZER(&bytime);
static struct event		 sched_ev;
static size_t			 nmsgs;

static int
msg_id_cmp(struct msg *a, struct msg *b)
{
	return strcmp(a->env.id, b->env.id);
}

static int
msg_time_cmp(struct msg *a, struct msg *b)
{
	if (a->wake != b->wake)
		return a->wake < b->wake ? -1 : 1;
	return strcmp(a->env.id, b->env.id);
}

RB_GENERATE(msg_byid, msg, byid, msg_id_cmp);
RB_GENERATE(msg_bytime, msg, bytime, msg_time_cmp);

static void	scheduler_run(int, short, void *);

void
scheduler_init(void)
{
	evtimer_set(&sched_ev, scheduler_run, NULL);
}

size_t
scheduler_count(void)
{
	return nmsgs;
}

void
scheduler_kick(void)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_del(&sched_ev);
	evtimer_add(&sched_ev, &tv);
}

static time_t
expiry(const struct msg *m)
{
	return m->env.created + (time_t)queue_conf->queue_lifetime;
}

/* When this message needs attention next; 0 if it has nothing pending. */
static time_t
msg_wake(struct msg *m)
{
	struct rcpt	*r;
	time_t		 wake;
	int		 pending = 0;

	wake = expiry(m);

	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		if (r->state != RCPT_PENDING)
			continue;
		pending = 1;
		if (!(r->flags & RCPT_LOCAL)) {
			if (!m->remote_logged)
				log_info("%s: to=<%s> status=deferred "
				    "reply=remote delivery not available yet",
				    m->env.id, r->addr);
			continue;
		}
		if (r->next_try < wake)
			wake = r->next_try;
	}
	m->remote_logged = 1;
	if (!pending)
		return 0;
	return wake > 0 ? wake : 1;
}

static void
msg_schedule(struct msg *m)
{
	if (m->scheduled) {
		RB_REMOVE(msg_bytime, &bytime, m);
		m->scheduled = 0;
	}
	if (m->inflight || (m->wake = msg_wake(m)) == 0)
		return;
	RB_INSERT(msg_bytime, &bytime, m);
	m->scheduled = 1;
}

static void
msg_free(struct msg *m)
{
	if (m->scheduled)
		RB_REMOVE(msg_bytime, &bytime, m);
	RB_REMOVE(msg_byid, &byid, m);
	envelope_clear(&m->env);
	free(m);
	nmsgs--;
}

/* Takes the envelope's contents; env is left empty. */
void
scheduler_add(struct envelope *env)
{
	struct msg	*m;
	struct rcpt	*r;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("scheduler_add");
	m->env = *env;
	TAILQ_INIT(&m->env.rcpts);
	while ((r = TAILQ_FIRST(&env->rcpts)) != NULL) {
		TAILQ_REMOVE(&env->rcpts, r, entry);
		r->inflight = 0;
		r->bounced = (r->state == RCPT_FAILED);
		TAILQ_INSERT_TAIL(&m->env.rcpts, r, entry);
	}
	env->nrcpts = 0;
	if (RB_INSERT(msg_byid, &byid, m) != NULL) {
		log_warnx("%s: already scheduled", m->env.id);
		envelope_clear(&m->env);
		free(m);
		return;
	}
	nmsgs++;
	msg_schedule(m);
	scheduler_kick();
}

static unsigned int
backoff(unsigned int tries)
{
	unsigned int	 delay = queue_conf->queue_retry_min;

	if (delay == 0)
		delay = 1;
	while (--tries > 0 && delay < queue_conf->queue_retry_max)
		delay *= 2;
	if (delay > queue_conf->queue_retry_max)
		delay = queue_conf->queue_retry_max;
	return delay;
}

static void
log_result(struct msg *m, struct rcpt *r, const char *status, time_t now)
{
	log_info("%s: to=<%s> status=%s relay=lmtp delay=%llds tries=%u "
	    "reply=%s", m->env.id, r->addr, status,
	    (long long)(now - m->env.created), r->tries, r->error);
}

/*
 * Report newly failed recipients to the sender.  -1 if the bounce could
 * not be stored: the caller then keeps those recipients for later.
 */
static int
msg_bounce(struct msg *m, const char *reason)
{
	struct rcpt	*r;
	int		 nfailed = 0;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_FAILED && !r->bounced)
			nfailed++;
	if (nfailed == 0)
		return 0;
	if (m->env.sender[0] == '\0')
		log_info("%s: no bounce for the null sender, %d recipient%s "
		    "dropped", m->env.id, nfailed, nfailed > 1 ? "s" : "");
	else if (bounce_create(&m->env, reason) == -1)
		return -1;
	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_FAILED)
			r->bounced = 1;
	return 0;
}

/* Undo failures whose bounce could not be written: retry them later. */
static void
msg_unfail(struct msg *m, time_t now)
{
	struct rcpt	*r;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_FAILED && !r->bounced) {
			r->state = RCPT_PENDING;
			r->next_try = now + backoff(r->tries + 1);
		}
}

/* Persist the new state, or remove the message when nothing is left. */
static void
msg_settle(struct msg *m, const char *reason)
{
	struct rcpt	*r;
	time_t		 now = time(NULL);
	int		 pending = 0;

	if (msg_bounce(m, reason) == -1) {
		log_warnx("%s: bounce not stored, failures kept for later",
		    m->env.id);
		msg_unfail(m, now);
	}
	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING)
			pending = 1;
	if (!pending) {
		log_info("%s: removed", m->env.id);
		spool_remove(m->env.id);
		msg_free(m);
		return;
	}
	/* On failure the old envelope stays: a retry delivers again. */
	if (spool_update(&m->env) == -1)
		log_warnx("%s: envelope update failed", m->env.id);
	msg_schedule(m);
}

void
scheduler_done(struct msg *m)
{
	struct rcpt	*r;
	time_t		 now = time(NULL);

	m->inflight = 0;
	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		if (!r->inflight)
			continue;
		r->inflight = 0;
		r->tries++;
		if (r->reply >= 200 && r->reply < 300) {
			r->state = RCPT_DONE;
			log_result(m, r, "sent", now);
		} else if (r->reply >= 500 && r->reply < 600) {
			r->state = RCPT_FAILED;
			log_result(m, r, "bounced", now);
		} else {
			r->next_try = now + backoff(r->tries);
			log_result(m, r, "deferred", now);
		}
	}
	msg_settle(m, NULL);
	scheduler_kick();
}

static void
msg_expire(struct msg *m)
{
	struct rcpt	*r;
	char		 last[REPLY_MAX - 100];

	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		if (r->state != RCPT_PENDING)
			continue;
		strlcpy(last, r->error, sizeof(last));
		snprintf(r->error, sizeof(r->error),
		    "4.4.7 message expired after %u s in the queue%s%s",
		    queue_conf->queue_lifetime, last[0] ? "; last reply: " :
		    "", last);
		r->state = RCPT_FAILED;
		log_info("%s: to=<%s> status=expired delay=%llds tries=%u "
		    "reply=%s", m->env.id, r->addr,
		    (long long)(time(NULL) - m->env.created), r->tries,
		    r->error);
	}
	msg_settle(m, "expired");
}

/* Mark the due local recipients; how many there are. */
static int
msg_select(struct msg *m, time_t now)
{
	struct rcpt	*r;
	int		 n = 0;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING && (r->flags & RCPT_LOCAL) &&
		    r->next_try <= now) {
			r->inflight = 1;
			r->reply = 0;
			n++;
		}
	return n;
}

static void
msg_unselect(struct msg *m)
{
	struct rcpt	*r;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		r->inflight = 0;
}

static void
scheduler_run(int fd, short ev, void *arg)
{
	struct msg	*m;
	struct timeval	 tv = { 0, 0 };
	time_t		 now = time(NULL);

	while ((m = RB_MIN(msg_bytime, &bytime)) != NULL && m->wake <= now) {
		RB_REMOVE(msg_bytime, &bytime, m);
		m->scheduled = 0;
		if (now >= expiry(m)) {
			msg_expire(m);
			continue;
		}
		if (msg_select(m, now) == 0) {
			msg_schedule(m);
			continue;
		}
		m->inflight = 1;
		if (lmtp_deliver(m) == -1) {
			/* All sessions busy: one that frees up kicks us. */
			m->inflight = 0;
			msg_unselect(m);
			RB_INSERT(msg_bytime, &bytime, m);
			m->scheduled = 1;
			tv.tv_sec = SCHED_SAFETY_SEC;
			evtimer_add(&sched_ev, &tv);
			return;
		}
	}
	if (m != NULL) {
		tv.tv_sec = m->wake - now;
		evtimer_add(&sched_ev, &tv);
	}
}
