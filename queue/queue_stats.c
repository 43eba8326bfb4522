/*
 * The queue's figures for the stats file (lib/stats.h): what became of
 * each recipient, how long it waited, how many messages are queued and
 * since when the oldest one waits.  The scheduler calls one function
 * per event; the oldest message is found again at most once a second,
 * so that a long queue delivered in order costs no scan per message.
 */

#include <sys/types.h>
#include <sys/time.h>

#include <event.h>
#include <string.h>
#include <time.h>

#include "stats.h"
#include "queue.h"

#define OLDEST_RESCAN_SEC	1

static struct event	 rescan_ev;
static int		 rescan_set, rescan_armed;
static time_t		 oldest;	/* created of the oldest, 0 = none */

static void
oldest_visit(struct msg *m, void *arg)
{
	time_t	*t = arg;

	if (*t == 0 || m->env.created < *t)
		*t = m->env.created;
}

static void
oldest_rescan(int fd, short ev, void *arg)
{
	time_t	 t = 0;

	rescan_armed = 0;
	scheduler_foreach(oldest_visit, &t);
	oldest = t;
	stats_set(ST_QUEUE_OLDEST, 0, oldest);
}

void
qstats_added(const struct msg *m)
{
	stats_set(ST_QUEUE_MESSAGES, 0, scheduler_count());
	if (oldest == 0 || m->env.created < oldest) {
		oldest = m->env.created;
		stats_set(ST_QUEUE_OLDEST, 0, oldest);
	}
}

/* Called before m leaves the schedule. */
void
qstats_removed(const struct msg *m)
{
	struct timeval	 tv = { OLDEST_RESCAN_SEC, 0 };
	size_t		 n = scheduler_count();

	stats_set(ST_QUEUE_MESSAGES, 0, n > 0 ? n - 1 : 0);
	if (n <= 1) {
		oldest = 0;	/* the last one: no scan needed */
		stats_set(ST_QUEUE_OLDEST, 0, 0);
		return;
	}
	if (m->env.created > oldest || rescan_armed)
		return;
	if (!rescan_set) {
		evtimer_set(&rescan_ev, oldest_rescan, NULL);
		rescan_set = 1;
	}
	evtimer_add(&rescan_ev, &tv);
	rescan_armed = 1;
}

/* One recipient's result, as log_result() writes it in the log. */
void
qstats_result(const struct msg *m, const struct rcpt *r, const char *status,
    time_t now)
{
	unsigned int	 via = (r->flags & RCPT_LOCAL) ? 0 : 1;
	time_t		 waited = now - m->env.created;

	if (strcmp(status, "sent") == 0) {
		stats_inc(ST_QUEUE_DELIVERED, via);
		stats_observe(ST_QUEUE_DELIVERY_TIME, 0,
		    waited > 0 ? (uint64_t)waited * 1000000 : 0);
	} else if (strcmp(status, "deferred") == 0)
		stats_inc(ST_QUEUE_DEFERRED, via);
	else if (strcmp(status, "bounced") == 0)
		stats_inc(ST_QUEUE_FAILED, via);
	else if (strcmp(status, "expired") == 0)
		stats_inc(ST_QUEUE_EXPIRED, 0);
}
