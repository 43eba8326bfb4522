/*
 * Unit tests for lib/listener.c: connections are handed over; out of
 * descriptors the listener stops accepting (the connections wait in the
 * backlog) and takes them up again as soon as a session says it freed
 * one, or by itself after the fallback delay.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "unit.h"

#define NCLIENTS	8

static int	 accepted[NCLIENTS];
static int	 naccepted;

static void
on_accept(int fd, struct sockaddr_storage *ss, socklen_t sslen, void *arg)
{
	int	*calls = arg;

	(*calls)++;
	if (naccepted < NCLIENTS)
		accepted[naccepted++] = fd;
	else
		close(fd);
}

static int
listen_local(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof(*sin);
	int		 fd;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1)
		fatal("listen");
	return fd;
}

/* Turn the loop until nothing is left to do now. */
static void
spin(void)
{
	int	 i;

	for (i = 0; i < 10; i++)
		event_loop(EVLOOP_NONBLOCK);
}

/* Turn the loop until n connections are accepted, for at most secs. */
static int
wait_accepted(int n, int secs)
{
	time_t	 end = time(NULL) + secs + 1;

	while (naccepted < n && time(NULL) <= end)
		event_loop(EVLOOP_ONCE);
	return naccepted >= n;
}

static void
test_emfile(void)
{
	struct sockaddr_in	 sin;
	struct listener		*l;
	struct rlimit		 rl, low;
	int			 lfd, clients[NCLIENTS], i, top = 0, calls = 0;

	lfd = listen_local(&sin);
	l = listener_new(lfd, on_accept, &calls);
	/* Not started: nothing is accepted. */
	for (i = 0; i < NCLIENTS; i++) {
		if ((clients[i] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(clients[i], (struct sockaddr *)&sin,
		    sizeof(sin)) == -1)
			fatal("connect");
		if (clients[i] > top)
			top = clients[i];
	}
	spin();
	CHECK(naccepted == 0);

	/* Room for three more descriptors only. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	low = rl;
	low.rlim_cur = top + 1 + 3;
	if (setrlimit(RLIMIT_NOFILE, &low) == -1)
		fatal("setrlimit");
	listener_start(l);
	spin();
	CHECKF(naccepted == 3, "%d accepted", naccepted);
	/* Paused: the loop is not woken by the waiting connections. */
	calls = 0;
	spin();
	CHECK(calls == 0 && naccepted == 3);

	/* A session ends: the next connection is taken at once. */
	close(accepted[--naccepted]);
	listener_fd_freed();
	spin();
	CHECKF(naccepted == 3 && calls == 1, "%d accepted, %d calls",
	    naccepted, calls);

	/* Descriptors freed elsewhere: the fallback timer resumes. */
	close(accepted[--naccepted]);
	CHECK(wait_accepted(3, 3));
	CHECK(calls == 2);

	/* Room again: every connection left is taken. */
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("setrlimit");
	listener_fd_freed();
	CHECKF(wait_accepted(NCLIENTS - 2, 3), "%d accepted", naccepted);

	for (i = 0; i < naccepted; i++)
		close(accepted[i]);
	for (i = 0; i < NCLIENTS; i++)
		close(clients[i]);
	close(lfd);
}

static void
test_fd_limit(void)
{
	struct rlimit	 rl, before;

	if (getrlimit(RLIMIT_NOFILE, &before) == -1)
		fatal("getrlimit");
	rl = before;
	if (rl.rlim_max > 64)
		rl.rlim_cur = 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("setrlimit");
	/* The soft limit goes up to the hard one. */
	listener_check_fd_limit("test", 10, 2, 32);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK(rl.rlim_cur == rl.rlim_max);
}

int
main(void)
{
	log_init(1, "test_listener");
	event_init();
	test_emfile();
	test_fd_limit();
	return unit_done("test_listener");
}
