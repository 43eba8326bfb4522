/*
 * The bounded wait before exit (drain.h): the owed count is checked
 * when the caller says something changed and, in case it does not, by
 * a short timer, until it is zero or the deadline has passed.
 */

#include <sys/types.h>
#include <sys/time.h>

#include <event.h>
#include <stdlib.h>
#include <time.h>

#include "drain.h"
#include "log.h"

/* How often the count is looked at without being told. */
#define DRAIN_POLL_USEC		10000

static int		 active, exit_status;
static const char	*drain_what;
static drain_pending_cb	 drain_pending;
static drain_done_cb	 drain_done;
static struct timespec	 deadline;
static struct event	 ev_poll;

static void	drain_poll(int, short, void *);

static void
drain_finish(void)
{
	evtimer_del(&ev_poll);
	if (drain_done != NULL)
		drain_done(exit_status);
	exit(exit_status);
}

static int
drain_expired(void)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec || (now.tv_sec ==
	    deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

void
drain_start(const char *what, drain_pending_cb pending, int sec,
    drain_done_cb done, int status)
{
	unsigned int	 n;

	if (!active) {
		active = 1;
		drain_what = what;
		drain_pending = pending;
		drain_done = done;
		exit_status = status;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += sec;
		evtimer_set(&ev_poll, drain_poll, NULL);
		if ((n = pending()) > 0)
			log_info("exiting once %u %s are answered", n, what);
	}
	drain_check();
}

int
drain_active(void)
{
	return active;
}

void
drain_check(void)
{
	struct timeval	 tv = { 0, DRAIN_POLL_USEC };
	unsigned int	 n;

	if (!active)
		return;
	if ((n = drain_pending()) == 0)
		drain_finish();
	if (drain_expired()) {
		log_warnx("exiting with %u %s unanswered", n, drain_what);
		drain_finish();
	}
	evtimer_add(&ev_poll, &tv);
}

static void
drain_poll(int fd, short ev, void *arg)
{
	drain_check();
}
