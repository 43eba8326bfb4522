/*
 * What every daemon of the suite does alike at start-up: the command
 * line "tsamba-X [-dnv] [-f file]" and its signals handled from the
 * libevent loop.
 */

#ifndef TSAMBA_DAEMON_H
#define TSAMBA_DAEMON_H

#include <stddef.h>

struct event;

struct daemon_opts {
	const char	*conffile;	/* -f, else TSAMBA_CONF */
	int		 debug;		/* -d: foreground, log to stderr */
	int		 noaction;	/* -n: only check the configuration */
	int		 verbose;	/* one per -v */
};

/* Read the command line; usage on stderr and exit(1) if it is wrong. */
void	daemon_getopt(int argc, char *argv[], const char *progname,
	    struct daemon_opts *);

/*
 * After event_init(): one persistent signal event per sigs[i], stored in
 * evs[i], calling cb.  SIGPIPE is ignored: a peer that went away shows
 * as a failed write, not as a dead daemon.
 */
void	daemon_signals(struct event *evs, const int *sigs, size_t nsigs,
	    void (*cb)(int, short, void *));

#endif
