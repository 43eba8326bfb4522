/*
 * Start-up shared by the daemons (see daemon.h), so that every one of
 * them reads the same options and treats signals the same way.
 */

#include <sys/types.h>

#include <event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"

static void __attribute__((__noreturn__))
daemon_usage(const char *progname)
{
	fprintf(stderr, "usage: %s [-dnv] [-f file]\n", progname);
	exit(1);
}

void
daemon_getopt(int argc, char *argv[], const char *progname,
    struct daemon_opts *opts)
{
	int	 ch;

	opts->conffile = TSAMBA_CONF;
	opts->debug = opts->noaction = opts->verbose = 0;
	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
			opts->debug = 1;
			break;
		case 'f':
			opts->conffile = optarg;
			break;
		case 'n':
			opts->noaction = 1;
			break;
		case 'v':
			opts->verbose++;
			break;
		default:
			daemon_usage(progname);
		}
	}
	if (optind != argc)
		daemon_usage(progname);
}

void
daemon_signals(struct event *evs, const int *sigs, size_t nsigs,
    void (*cb)(int, short, void *))
{
	size_t	 i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nsigs; i++) {
		signal_set(&evs[i], sigs[i], cb, NULL);
		if (signal_add(&evs[i], NULL) == -1)
			fatal("signal_add");
	}
}
