/*
 * tsamba-authd: start-up.  Reads the configuration (and the MariaDB
 * connection file), creates auth.sock and authd.control.sock and opens
 * the ban directory as root, then gives up root for the auth user.  It
 * chroots into the empty directory only when every table is on MariaDB
 * over TCP; a file table or a database socket must stay reachable by
 * path (the file backend reads its tables again when they change).
 * Then it loads the tables, checks the queries, starts the worker pool
 * and serves until SIGTERM.  SIGHUP re-reads every file table.
 */

#include <sys/types.h>

#include <event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "conf.h"
#include "daemon.h"
#include "privdrop.h"
#include "stats.h"
#include "authd.h"

static struct authd	 authd_state;
struct authd		*authd = &authd_state;

/* File tables are checked for changes once a second. */
static void
on_refresh(int fd, short ev, void *arg)
{
	struct event	*ev_refresh = arg;
	struct timeval	 tv = { 1, 0 };

	file_refresh(0);
	evtimer_add(ev_refresh, &tv);
}

static void
on_signal(int sig, short ev, void *arg)
{
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reading the tables again");
		file_refresh(1);
		stats_reloaded();
		break;
	case SIGINT:
	case SIGTERM:
		log_info("exiting on signal %d", sig);
		event_loopexit(NULL);
		break;
	}
}

/* Mailboxes without ids in the users table belong to the vmail user. */
static void
vmail_resolve(const struct conf *conf)
{
	if (priv_lookup(conf->user_vmail, &authd->vmail_uid,
	    &authd->vmail_gid) == 0)
		return;
	if (geteuid() == 0)
		fatalx("user %s does not exist: create it (useradd --system "
		    "--no-create-home --shell /usr/sbin/nologin %s) or set "
		    "\"user vmail\"", conf->user_vmail, conf->user_vmail);
	authd->vmail_uid = getuid();
	authd->vmail_gid = getgid();
	log_info("user %s does not exist: mailboxes belong to uid %d",
	    conf->user_vmail, (int)authd->vmail_uid);
}

int
main(int argc, char *argv[])
{
	static struct conf	 conf;
	static const int	 sigs[] = { SIGHUP, SIGINT, SIGTERM };
	struct event		 ev_sigs[3], ev_refresh;
	struct timeval		 tv = { 1, 0 };
	struct daemon_opts	 opts;

	daemon_getopt(argc, argv, "tsamba-authd", &opts);

	/* Start-up problems go to the terminal until we are a daemon. */
	log_init(1, "tsamba-authd");
	log_setverbose(opts.verbose);
	log_procname("authd");

	if (conf_parse(opts.conffile, &conf) == -1)
		exit(1);
	authd->conf = &conf;
	authd->nworkers = 4;
	if (table_config(&conf) == -1)
		exit(1);
	if (opts.noaction) {
		if (table_init(&conf) == -1)
			exit(1);
		lookup_init();
		lookup_postmaster_check();
		table_free();
		printf("configuration OK\n");
		exit(0);
	}
	/* In the foreground, every line from here on carries its time. */
	if (opts.debug)
		log_init_daemon(1, "tsamba-authd");

	role_init(&conf);
	vmail_resolve(&conf);
	server_listen(&conf);
	authd_control_listen(&conf);
	stats_open(conf.rundir, STATS_AUTHD, NULL, 0);
	ban_init(&conf);
	if (table_all_mysql_tcp(&conf))
		priv_drop(conf.user_auth, conf.chroot, "authd");
	else
		priv_drop(conf.user_auth, NULL, "authd");
	/* After the drop: a table the auth user cannot read fails now. */
	if (table_init(&conf) == -1)
		fatalx("cannot load the tables");
	lookup_init();
	lookup_postmaster_check();

	if (!opts.debug) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		stats_setpid();
	}
	log_init_daemon(opts.debug, "tsamba-authd");

	event_init();
	daemon_signals(ev_sigs, sigs, 3, on_signal);
	evtimer_set(&ev_refresh, on_refresh, &ev_refresh);
	evtimer_add(&ev_refresh, &tv);
	ban_start();
	worker_start(authd->nworkers);
	server_start();
	authd_control_start();

	event_dispatch();

	worker_stop();
	server_shutdown();
	authd_control_shutdown();
	table_free();
	conf_clear(&conf);
	return 0;
}
