/*
 * The schedule: every queued message lives here in memory, in a tree by
 * id and, while it has something to do, in a tree by the time of that
 * (the next try of a recipient, the delay notice, or its expiry).  Due
 * local recipients go to an LMTP session, due remote ones to the mta,
 * one transfer per destination domain (or one for all when a relay host
 * is set).  The results come back to scheduler_done() and
 * scheduler_transfer_done(), which log them, bounce failures, update
 * the envelope and retry the rest with a backoff that doubles from
 * retry-min up to retry-max.  The spool stays the truth: this is
 * rebuilt from queue/ at start.
 *
 * A message whose remote recipients wait for a connection slot (mta
 * max-connections, max-connections-per-domain) is "blocked": it sits on
 * a list that a finished transfer looks at first, and in the time tree
 * a little later, as a safety net.
 *
 * A message whose due local recipients find every LMTP session busy
 * waits in a FIFO, not on a timer: each session that becomes free takes
 * the first one at once (scheduler_lmtp_ready()), so delivery runs at
 * the speed of the LMTP server, in the order the messages came.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "esc.h"
#include "log.h"
#include "queue.h"

#define SCHED_BLOCKED_SEC	30
#define SCHED_AGAIN_SEC		1
#define DEST_RELAY		"[relay]"

RB_HEAD(msg_byid, msg);
RB_HEAD(msg_bytime, msg);
TAILQ_HEAD(msg_list, msg);

static int	msg_id_cmp(struct msg *, struct msg *);
static int	msg_time_cmp(struct msg *, struct msg *);
RB_PROTOTYPE(msg_byid, msg, byid, msg_id_cmp);
RB_PROTOTYPE(msg_bytime, msg, bytime, msg_time_cmp);

static struct msg_byid		 byid = RB_INITIALIZER(&byid);
static struct msg_bytime	 bytime = RB_INITIALIZER(&bytime);
static struct msg_list		 blocked = TAILQ_HEAD_INITIALIZER(blocked);
static struct msg_list		 lmtp_wait = TAILQ_HEAD_INITIALIZER(lmtp_wait);
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

/* The domain of a remote recipient, or the relay host for all of them. */
static const char *
rcpt_dest(const struct rcpt *r)
{
	const char	*at;

	if (queue_conf->relay.host[0] != '\0')
		return DEST_RELAY;
	if ((at = strrchr(r->addr, '@')) == NULL)
		return "";
	return at + 1;
}

static int
rcpt_busy(const struct rcpt *r)
{
	return r->inflight || r->transfer != NULL;
}

static time_t
expiry(const struct msg *m)
{
	return m->env.created + (time_t)queue_conf->queue_lifetime;
}

/*
 * A delay notice says why the message waits, so it goes out only once a
 * recipient still pending has been tried and deferred: a message that is
 * merely slow to get its first try (a busy host) has nothing to report.
 */
static int
wants_delay_notice(const struct msg *m)
{
	const struct rcpt	*r;

	if (m->env.warned || m->env.sender[0] == '\0' ||
	    queue_conf->queue_delay_warn >= queue_conf->queue_lifetime)
		return 0;
	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING && r->tries > 0)
			return 1;
	return 0;
}

/*
 * When this message needs attention next, counting only recipients
 * that are not being delivered right now; 0 if nothing is to be done
 * until a delivery under way reports back.
 */
static time_t
msg_wake(struct msg *m)
{
	struct rcpt	*r;
	time_t		 wake, warn;
	int		 waiting = 0;

	if (m->env.held)
		return 0;
	wake = expiry(m);
	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		if (r->state != RCPT_PENDING || rcpt_busy(r))
			continue;
		waiting = 1;
		/* Those wait for a session, not for a time. */
		if (m->lmtp_waiting && (r->flags & RCPT_LOCAL))
			continue;
		if (r->next_try < wake)
			wake = r->next_try;
	}
	if (!waiting)
		return 0;
	if (wants_delay_notice(m)) {
		warn = m->env.created + queue_conf->queue_delay_warn;
		if (warn < wake)
			wake = warn;
	}
	if (m->blocked && wake < time(NULL) + SCHED_BLOCKED_SEC)
		wake = time(NULL) + SCHED_BLOCKED_SEC;
	return wake > 0 ? wake : 1;
}

static void
msg_unblock(struct msg *m)
{
	if (m->blocked) {
		TAILQ_REMOVE(&blocked, m, blocked_entry);
		m->blocked = 0;
	}
}

static void
msg_lmtp_unwait(struct msg *m)
{
	if (m->lmtp_waiting) {
		TAILQ_REMOVE(&lmtp_wait, m, lmtp_entry);
		m->lmtp_waiting = 0;
	}
}

static void
msg_schedule(struct msg *m)
{
	if (m->scheduled) {
		RB_REMOVE(msg_bytime, &bytime, m);
		m->scheduled = 0;
	}
	if ((m->wake = msg_wake(m)) == 0)
		return;
	RB_INSERT(msg_bytime, &bytime, m);
	m->scheduled = 1;
}

static void
msg_free(struct msg *m)
{
	qstats_removed(m);
	if (m->scheduled)
		RB_REMOVE(msg_bytime, &bytime, m);
	msg_unblock(m);
	msg_lmtp_unwait(m);
	RB_REMOVE(msg_byid, &byid, m);
	dkim_forget(m);
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
	env->prefix = NULL;	/* moved */
	TAILQ_INIT(&m->env.rcpts);
	while ((r = TAILQ_FIRST(&env->rcpts)) != NULL) {
		TAILQ_REMOVE(&env->rcpts, r, entry);
		r->inflight = 0;
		r->transfer = NULL;
		r->mta_status = -1;
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
	qstats_added(m);
	if (m->env.held)
		log_info("%s: on hold", m->env.id);
	msg_schedule(m);
	scheduler_kick();
}

static unsigned int
backoff(unsigned int tries)
{
	unsigned int	 delay = queue_conf->queue_retry_min;

	if (delay == 0)
		delay = 1;
	while (tries > 1 && --tries > 0 && delay < queue_conf->queue_retry_max)
		delay *= 2;
	if (delay > queue_conf->queue_retry_max)
		delay = queue_conf->queue_retry_max;
	return delay;
}

static void
log_result(struct msg *m, struct rcpt *r, const char *status, time_t now)
{
	log_info("%s: to=<%s> status=%s relay=%s delay=%llds tries=%u "
	    "reply=%s", m->env.id, r->addr, status,
	    (r->flags & RCPT_LOCAL) ? "lmtp" :
	    r->relay[0] != '\0' ? r->relay : "smtp",
	    (long long)(now - m->env.created), r->tries, r->error);
	qstats_result(m, r, status, now);
}

/*
 * Report newly failed recipients to the sender.  -1 if the bounce could
 * not be stored: the caller then keeps those recipients for later.
 *
 * Failures of a message from the null sender (a bounce, a delay notice,
 * a remote DSN) are never bounced: that could loop.  Neither are they
 * dropped: the message is kept on hold with the reply, for the
 * administrator to look at (tsambactl queue show), release or delete.
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
	if (m->env.sender[0] == '\0') {
		log_warnx("%s: no bounce for the null sender, %d recipient%s "
		    "undeliverable: message kept on hold", m->env.id, nfailed,
		    nfailed > 1 ? "s" : "");
		TAILQ_FOREACH(r, &m->env.rcpts, entry)
			if (r->state == RCPT_FAILED && !r->bounced)
				r->state = RCPT_PENDING;
		m->env.held = 1;
		return 0;
	}
	if (bounce_create(&m->env, reason) == -1)
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

/* A recipient that will not be tried again: expired. */
static void
rcpt_expire(struct msg *m, struct rcpt *r, time_t now)
{
	char	 last[REPLY_MAX - 100];

	strlcpy(last, r->error, sizeof(last));
	snprintf(r->error, sizeof(r->error),
	    "%s message expired after %u s in the queue%s%s",
	    esc_code(ESC_TEMPFAIL, ESC_DELIVERY_TIME_EXPIRED),
	    queue_conf->queue_lifetime, last[0] ? "; last reply: " : "",
	    last);
	r->state = RCPT_FAILED;
	qstats_result(m, r, "expired", now);
	log_info("%s: to=<%s> status=expired delay=%llds tries=%u reply=%s",
	    m->env.id, r->addr, (long long)(now - m->env.created), r->tries,
	    r->error);
}

void
scheduler_done(struct msg *m)
{
	struct rcpt	*r;
	time_t		 now = time(NULL);
	int		 expired = 0;

	m->inflight = 0;
	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		if (!r->inflight)
			continue;
		r->inflight = 0;
		r->tries++;
		if (r->reply >= 200 && r->reply < 300) {
			r->state = RCPT_DONE;
			log_result(m, r, "sent", now);
		} else if (r->reply >= 500 && r->reply < 600 &&
		    (r->flags & RCPT_FALLBACK)) {
			/* Not one of ours after all: send it out. */
			r->flags &= ~(RCPT_LOCAL | RCPT_FALLBACK);
			r->next_try = now;
			log_result(m, r, "redirected", now);
		} else if (r->reply >= 500 && r->reply < 600) {
			r->state = RCPT_FAILED;
			log_result(m, r, "bounced", now);
		} else if (now >= expiry(m) && !m->grace) {
			rcpt_expire(m, r, now);
			expired = 1;
		} else {
			r->next_try = now + backoff(r->tries);
			log_result(m, r, "deferred", now);
		}
	}
	msg_settle(m, expired ? "expired" : NULL);
	scheduler_kick();
}

void
scheduler_transfer_done(struct msg *m, struct rcpt **rcpts, size_t n)
{
	struct rcpt	*r;
	time_t		 now = time(NULL);
	size_t		 i;
	int		 expired = 0;

	if (m->ntransfers > 0)
		m->ntransfers--;
	for (i = 0; i < n; i++) {
		r = rcpts[i];
		r->transfer = NULL;
		r->tries++;
		switch (r->mta_status) {
		case MTA_OK:
			r->state = RCPT_DONE;
			log_result(m, r, "sent", now);
			break;
		case MTA_PERMFAIL:
			r->state = RCPT_FAILED;
			log_result(m, r, "bounced", now);
			break;
		default:
			if (now >= expiry(m) && !m->grace) {
				rcpt_expire(m, r, now);
				expired = 1;
				break;
			}
			r->next_try = now + backoff(r->tries);
			log_result(m, r, "deferred", now);
			break;
		}
		r->mta_status = -1;
	}
	msg_settle(m, expired ? "expired" : NULL);
	scheduler_kick();
}

static void
msg_expire(struct msg *m)
{
	struct rcpt	*r;
	time_t		 now = time(NULL);

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING && !rcpt_busy(r))
			rcpt_expire(m, r, now);
	msg_settle(m, "expired");
}

/*
 * The delay notice, once per message (the envelope remembers it across
 * restarts).  A notice that cannot be stored is tried again later.
 */
static void
msg_delay_notice(struct msg *m, time_t now)
{
	if (!wants_delay_notice(m) ||
	    now < m->env.created + (time_t)queue_conf->queue_delay_warn)
		return;
	if (bounce_delay(&m->env) == -1) {
		log_warnx("%s: delay notice not stored, tried again later",
		    m->env.id);
		return;
	}
	m->env.warned = 1;
	if (spool_update(&m->env) == -1)
		log_warnx("%s: envelope update failed", m->env.id);
}

/* Mark the due local recipients; how many there are. */
static int
msg_select_local(struct msg *m, time_t now)
{
	struct rcpt	*r;
	int		 n = 0;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING && (r->flags & RCPT_LOCAL) &&
		    !rcpt_busy(r) && r->next_try <= now) {
			r->inflight = 1;
			r->reply = 0;
			n++;
		}
	return n;
}

static void
msg_unselect_local(struct msg *m)
{
	struct rcpt	*r;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		r->inflight = 0;
}

/*
 * Give the due local recipients to an LMTP session.  -1 if all are
 * busy: the message then waits at the tail of the FIFO (or stays at
 * its place there) for the next session that frees up.
 */
static int
msg_start_local(struct msg *m, time_t now)
{
	if (m->inflight || msg_select_local(m, now) == 0) {
		msg_lmtp_unwait(m);
		return 0;
	}
	m->inflight = 1;
	if (lmtp_deliver(m) == -1) {
		m->inflight = 0;
		msg_unselect_local(m);
		if (!m->lmtp_waiting) {
			TAILQ_INSERT_TAIL(&lmtp_wait, m, lmtp_entry);
			m->lmtp_waiting = 1;
		}
		return -1;
	}
	msg_lmtp_unwait(m);
	return 0;
}

/* Whether m has local recipients due now that no session carries. */
static int
msg_local_due(struct msg *m, time_t now)
{
	struct rcpt	*r;

	if (m->inflight || m->env.held)
		return 0;
	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING && (r->flags & RCPT_LOCAL) &&
		    !rcpt_busy(r) && r->next_try <= now)
			return 1;
	return 0;
}

static int
rcpt_due_remote(const struct rcpt *r, time_t now)
{
	return r->state == RCPT_PENDING && !(r->flags & RCPT_LOCAL) &&
	    !rcpt_busy(r) && r->next_try <= now;
}

/*
 * Hand the due remote recipients to the mta, one transfer per
 * destination.  -1 if some of them wait for a connection slot.
 */
static int
msg_start_remote(struct msg *m, time_t now)
{
	struct rcpt	*r, *o, **list = NULL;
	const char	*dest;
	size_t		 n, cap = 0;
	int		 taken, waiting = 0;

	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		while (rcpt_due_remote(r, now)) {
			dest = rcpt_dest(r);
			if (!transfer_slot_free(dest)) {
				waiting = 1;
				break;
			}
			n = 0;
			for (o = r; o != NULL; o = TAILQ_NEXT(o, entry)) {
				if (!rcpt_due_remote(o, now) ||
				    strcasecmp(rcpt_dest(o), dest) != 0)
					continue;
				if (n == cap) {
					cap = cap ? cap * 2 : 16;
					list = reallocarray(list, cap,
					    sizeof(*list));
					if (list == NULL)
						fatal("msg_start_remote");
				}
				list[n++] = o;
			}
			if ((taken = transfer_start(m, dest, list, n)) == -1) {
				/* Retried later, like any temporary error. */
				for (; n > 0; n--) {
					list[n - 1]->tries++;
					list[n - 1]->next_try = now +
					    backoff(list[n - 1]->tries);
				}
				break;
			}
			m->ntransfers++;
		}
	}
	free(list);
	return waiting ? -1 : 0;
}

static void
scheduler_run(int fd, short ev, void *arg)
{
	struct msg	*m;
	struct timeval	 tv = { 0, 0 };
	time_t		 now = time(NULL);
	int		 lmtp_busy = 0;

	/* Sessions free first go to those that waited longest. */
	scheduler_lmtp_ready();
	if (!TAILQ_EMPTY(&lmtp_wait))
		lmtp_busy = 1;
	while ((m = RB_MIN(msg_bytime, &bytime)) != NULL && m->wake <= now) {
		RB_REMOVE(msg_bytime, &bytime, m);
		m->scheduled = 0;
		msg_unblock(m);
		if (now >= expiry(m) && !m->grace) {
			msg_expire(m);
			continue;
		}
		msg_delay_notice(m, now);
		/* One in the FIFO keeps its place there. */
		if (m->lmtp_waiting)
			;
		else if (lmtp_busy) {
			if (msg_local_due(m, now)) {
				TAILQ_INSERT_TAIL(&lmtp_wait, m, lmtp_entry);
				m->lmtp_waiting = 1;
			}
		} else if (msg_start_local(m, now) == -1)
			lmtp_busy = 1;
		if (msg_start_remote(m, now) == -1) {
			m->blocked = 1;
			TAILQ_INSERT_TAIL(&blocked, m, blocked_entry);
		}
		/* A released message keeps its one try until it had it. */
		if (!m->lmtp_waiting)
			m->grace = 0;
		msg_schedule(m);
		/*
		 * Nothing more can be done now (a notice that could not be
		 * stored, a released message waiting for a session past its
		 * lifetime): look again later rather than spin.
		 */
		if (m->scheduled && m->wake <= now) {
			RB_REMOVE(msg_bytime, &bytime, m);
			m->wake = now + SCHED_AGAIN_SEC;
			RB_INSERT(msg_bytime, &bytime, m);
		}
	}
	if ((m = RB_MIN(msg_bytime, &bytime)) != NULL) {
		tv.tv_sec = m->wake > now ? m->wake - now : 0;
		evtimer_add(&sched_ev, &tv);
	}
}

/*
 * A transfer ended: its slot goes to the first blocked message that
 * waits for that destination, or, the overall limit being shared, to
 * the first blocked message of all.
 */
void
scheduler_unblock(const char *dest)
{
	struct msg	*m;
	struct rcpt	*r;
	time_t		 now = time(NULL);

	TAILQ_FOREACH(m, &blocked, blocked_entry) {
		TAILQ_FOREACH(r, &m->env.rcpts, entry)
			if (rcpt_due_remote(r, now) &&
			    strcasecmp(rcpt_dest(r), dest) == 0)
				break;
		if (r != NULL)
			break;
	}
	if (m == NULL)
		m = TAILQ_FIRST(&blocked);
	if (m == NULL)
		return;
	msg_unblock(m);
	msg_schedule(m);
	scheduler_kick();
}

/*
 * An LMTP session is free, or one more may be opened: hand out the
 * waiting messages, oldest first, until the sessions are busy again.
 */
void
scheduler_lmtp_ready(void)
{
	struct msg	*m;
	time_t		 now = time(NULL);

	while ((m = TAILQ_FIRST(&lmtp_wait)) != NULL) {
		if (msg_start_local(m, now) == -1)
			break;
		/* Out of the FIFO: its time in the tree may change. */
		m->grace = 0;
		msg_schedule(m);
	}
}

/* The control socket's view and operations. */

struct msg *
scheduler_find(const char *id)
{
	struct msg	 key;

	if (strlcpy(key.env.id, id, sizeof(key.env.id)) >=
	    sizeof(key.env.id))
		return NULL;
	return RB_FIND(msg_byid, &byid, &key);
}

void
scheduler_foreach(void (*fn)(struct msg *, void *), void *arg)
{
	struct msg	*m, *next;

	RB_FOREACH_SAFE(m, msg_byid, &byid, next)
		fn(m, arg);
}

/* The earliest next try of a waiting recipient; 0 if none. */
time_t
scheduler_next_try(struct msg *m)
{
	struct rcpt	*r;
	time_t		 t = 0;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING && !rcpt_busy(r) &&
		    (t == 0 || r->next_try < t))
			t = r->next_try > 0 ? r->next_try : 1;
	return t;
}

/*
 * Make the waiting recipients of m (in domain, if given) due now.  A held
 * message gets its retry times reset too, so that a release tries it at
 * once, but it is not scheduled: 1 if m was scheduled, 0 if not.
 */
static int
msg_flush(struct msg *m, const char *domain, int *held)
{
	struct rcpt	*r;
	const char	*at;
	int		 n = 0;

	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		if (r->state != RCPT_PENDING || rcpt_busy(r))
			continue;
		at = strrchr(r->addr, '@');
		if (domain != NULL &&
		    (at == NULL || strcasecmp(at + 1, domain) != 0))
			continue;
		r->next_try = 0;
		n++;
	}
	if (n == 0)
		return 0;
	if (m->env.held) {
		(*held)++;
		return 0;
	}
	msg_schedule(m);
	return 1;
}

/*
 * "" all, a message id, or a recipient domain: how many were made due;
 * *held counts those that matched but stay on hold.
 */
int
scheduler_flush(const char *what, int *held)
{
	struct msg	*m, *next;
	int		 n = 0;

	*held = 0;
	if ((m = scheduler_find(what)) != NULL)
		n = msg_flush(m, NULL, held);
	else
		RB_FOREACH_SAFE(m, msg_byid, &byid, next)
			n += msg_flush(m, what[0] != '\0' ? what : NULL,
			    held);
	if (n > 0)
		scheduler_kick();
	return n;
}

int
scheduler_hold(struct msg *m, int hold, char *err, size_t errsz)
{
	struct rcpt	*r;

	if (m->env.held == hold) {
		snprintf(err, errsz, "%s is %s on hold", m->env.id,
		    hold ? "already" : "not");
		return -1;
	}
	m->env.held = hold;
	if (spool_update(&m->env) == -1) {
		m->env.held = !hold;
		snprintf(err, errsz, "cannot update the envelope");
		return -1;
	}
	if (hold) {
		log_info("%s: put on hold", m->env.id);
		msg_unblock(m);
		msg_lmtp_unwait(m);
	} else {
		/* Released: try at once, even if it is past its lifetime. */
		log_info("%s: released", m->env.id);
		TAILQ_FOREACH(r, &m->env.rcpts, entry)
			if (r->state == RCPT_PENDING && !rcpt_busy(r))
				r->next_try = 0;
		m->grace = 1;
	}
	msg_schedule(m);
	scheduler_kick();
	return 0;
}

/*
 * Remove a message at the administrator's request.  Its undelivered
 * recipients are bounced unless silent.  A message being delivered
 * right now cannot be removed: the delivery would report to nothing.
 */
int
scheduler_delete(struct msg *m, int silent, char *err, size_t errsz)
{
	struct rcpt	*r;
	int		 failed = 0;

	if (m->inflight || m->ntransfers > 0) {
		snprintf(err, errsz, "%s is being delivered; hold it and try "
		    "again", m->env.id);
		return -1;
	}
	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		if (r->state != RCPT_PENDING)
			continue;
		r->state = RCPT_FAILED;
		snprintf(r->error, sizeof(r->error), "%s message deleted "
		    "from the queue by the administrator",
		    esc_code(ESC_PERMFAIL, ESC_OTHER_STATUS));
		log_info("%s: to=<%s> status=deleted", m->env.id, r->addr);
		if (silent || m->env.sender[0] == '\0')
			r->bounced = 1;
		failed = 1;
	}
	if (failed && !silent && m->env.sender[0] != '\0' &&
	    bounce_create(&m->env, NULL) == -1) {
		TAILQ_FOREACH(r, &m->env.rcpts, entry)
			if (r->state == RCPT_FAILED && !r->bounced)
				r->state = RCPT_PENDING;
		snprintf(err, errsz, "cannot store the bounce; not deleted");
		return -1;
	}
	log_info("%s: deleted by the administrator%s", m->env.id,
	    silent ? " (no bounce)" : "");
	spool_remove(m->env.id);
	msg_free(m);
	return 0;
}
