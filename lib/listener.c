/*
 * Listening sockets on the event loop (see listener.h).
 *
 * Out of descriptors, accept(2) fails while the connection stays in the
 * backlog, so a level-triggered listener would be woken again at once:
 * every listener of the process is taken off the loop instead.  The
 * connections waiting meanwhile are not lost, they wait in the backlog;
 * the first session that ends (listener_fd_freed) puts the listeners
 * back, and a timer does so too in case what frees descriptors is not a
 * session (a spool file closed, a channel dropped).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "listener.h"
#include "log.h"

#define ACCEPT_BURST		64	/* connections taken per wake-up */
#define PAUSE_FALLBACK_SEC	1
#define PAUSE_LOG_INTERVAL	60	/* s between two warnings */

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	int			 fd;
	struct event		 ev;
	int			 started;
	listener_cb		 cb;
	void			*arg;
};

static TAILQ_HEAD(, listener)	 listeners =
    TAILQ_HEAD_INITIALIZER(listeners);
static struct event		 resume_ev;
static int			 resume_ev_set;
static int			 paused;
static int			 all_started;
static time_t			 last_log;
static unsigned int		 pauses_unlogged;

static void	listener_accept(int, short, void *);
static void	listener_pause(int);
static void	listener_resume(int, short, void *);

struct listener *
listener_new(int fd, listener_cb cb, void *arg)
{
	struct listener	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("listener_new");
	l->fd = fd;
	l->cb = cb;
	l->arg = arg;
	event_set(&l->ev, fd, EV_READ | EV_PERSIST, listener_accept, l);
	TAILQ_INSERT_TAIL(&listeners, l, entry);
	if (!resume_ev_set) {
		evtimer_set(&resume_ev, listener_resume, NULL);
		resume_ev_set = 1;
	}
	if (all_started)
		listener_start(l);
	return l;
}

void
listener_start(struct listener *l)
{
	if (l->started)
		return;
	l->started = 1;
	if (!paused && event_add(&l->ev, NULL) == -1)
		fatal("listener: event_add");
}

void
listener_start_all(void)
{
	struct listener	*l;

	all_started = 1;
	TAILQ_FOREACH(l, &listeners, entry)
		listener_start(l);
	log_info("ready to accept connections");
}

void
listener_fd_freed(void)
{
	if (paused)
		listener_resume(-1, 0, NULL);
}

static void
listener_accept(int fd, short ev, void *arg)
{
	struct listener		*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 s, n;

	for (n = 0; n < ACCEPT_BURST && !paused; n++) {
		sslen = sizeof(ss);
		s = accept4(fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s != -1) {
			l->cb(s, &ss, sslen, l->arg);
			continue;
		}
		switch (errno) {
		case EAGAIN:
		case EINTR:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			listener_pause(errno);
			return;
		default:
			log_warn("accept");
			return;
		}
	}
}

/* Out of resources: stop accepting until a session ends. */
static void
listener_pause(int error)
{
	struct timeval	 tv = { PAUSE_FALLBACK_SEC, 0 };
	struct listener	*l;
	time_t		 now = time(NULL);
	char		 more[64] = "";

	if (paused)
		return;
	paused = 1;
	TAILQ_FOREACH(l, &listeners, entry)
		if (l->started)
			event_del(&l->ev);
	evtimer_add(&resume_ev, &tv);
	/* Each session that ends resumes, and may pause again: log less. */
	pauses_unlogged++;
	if (now - last_log >= PAUSE_LOG_INTERVAL) {
		if (pauses_unlogged > 1)
			snprintf(more, sizeof(more), " (%u pauses since the "
			    "last warning)", pauses_unlogged);
		log_warnx("accept: %s: new connections wait until a session "
		    "ends%s", strerror(error), more);
		last_log = now;
		pauses_unlogged = 0;
	}
}

static void
listener_resume(int fd, short ev, void *arg)
{
	struct listener	*l;

	if (!paused)
		return;
	paused = 0;
	evtimer_del(&resume_ev);
	TAILQ_FOREACH(l, &listeners, entry)
		if (l->started && event_add(&l->ev, NULL) == -1)
			fatal("listener: event_add");
}

void
listener_check_fd_limit(const char *what, unsigned int sessions,
    unsigned int per_session, unsigned int reserve)
{
	struct rlimit	 rl;
	unsigned long long need;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	need = (unsigned long long)sessions * per_session + reserve;
	if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
		log_warnx("%u %s sessions need up to %llu descriptors but the "
		    "limit (RLIMIT_NOFILE) is %llu: raise it (LimitNOFILE= "
		    "in the service unit) or lower \"limit sessions\"; "
		    "beyond it new connections wait", sessions, what, need,
		    (unsigned long long)rl.rlim_cur);
}
