/*
 * tsamba-metricsd: the Prometheus endpoint of the suite.  As root it
 * binds the "metrics listen" addresses and opens the stats directory
 * (<rundir>/stats, made by the daemons), then chroots into that
 * directory and drops to its own user ("user metrics", _tsambamet):
 * all it can see afterwards are the stats files, read-only.  It reads
 * them on each scrape and never writes to a daemon nor waits for one.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "privdrop.h"
#include "stats.h"
#include "tcp_listen.h"
#include "metricsd.h"

#define LISTEN_BACKLOG	64

static void
metricsd_sig(int sig, short ev, void *arg)
{
	log_info("exiting on signal %d", sig);
	exit(0);
}

static void
metricsd_accept(int fd, struct sockaddr_storage *ss, socklen_t sslen,
    void *arg)
{
	http_accept(fd);
}

/*
 * The stats directory, made here too (as the daemons make it) so that
 * metricsd may start first; its fd stays valid across the chroot.
 */
static int
open_statsdir(const struct conf *conf, char *path, size_t pathsz)
{
	int	 fd;

	if (snprintf(path, pathsz, "%s/%s", conf->rundir, STATS_DIR) >=
	    (int)pathsz)
		fatalx("rundir too long");
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("%s", path);
	return fd;
}

int
main(int argc, char *argv[])
{
	static struct conf	 conf;
	static const int	 sigs[] = { SIGTERM, SIGINT };
	struct event		 ev_sigs[2];
	struct daemon_opts	 opts;
	struct conf_listen	*cl;
	struct listener		*l;
	char			 statsdir[PATH_MAX];
	int			*fds, dirfd;
	size_t			 n = 0, i;

	daemon_getopt(argc, argv, "tsamba-metricsd", &opts);
	log_init(1, "tsamba-metricsd");
	log_setverbose(opts.verbose);
	if (conf_parse(opts.conffile, &conf) == -1)
		exit(1);
	if (TAILQ_EMPTY(&conf.metrics_listens))
		fatalx("%s: no \"metrics listen on\" statement",
		    opts.conffile);
	if (opts.noaction) {
		printf("configuration OK\n");
		exit(0);
	}

	TAILQ_FOREACH(cl, &conf.metrics_listens, entry)
		n++;
	if ((fds = calloc(n, sizeof(*fds))) == NULL)
		err(1, "calloc");
	i = 0;
	TAILQ_FOREACH(cl, &conf.metrics_listens, entry)
		fds[i++] = tcp_listen(cl, LISTEN_BACKLOG, SOCK_NONBLOCK,
		    "metrics");
	dirfd = open_statsdir(&conf, statsdir, sizeof(statsdir));

	log_init(opts.debug, "tsamba-metricsd");
	log_setverbose(opts.verbose);
	if (!opts.debug && daemon(0, 0) == -1)
		fatal("daemon");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	priv_drop(conf.user_metrics, statsdir, "metricsd");

	event_init();
	daemon_signals(ev_sigs, sigs, 2, metricsd_sig);
	http_init(dirfd);
	for (i = 0; i < n; i++) {
		l = listener_new(fds[i], metricsd_accept, NULL);
		listener_start(l);
	}
	free(fds);
	cl = TAILQ_FIRST(&conf.metrics_listens);
	log_info("started, metrics on %s port %u", cl->addr, cl->port);
	event_dispatch();
	fatalx("event loop ended");
}
