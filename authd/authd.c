/*
 * tsamba-authd: start-up.  Reads the configuration, creates auth.sock
 * as root, gives up root for the auth user (without a chroot: the file
 * backend reads its tables again when they change), loads the tables
 * and serves until SIGTERM.  SIGHUP re-reads every table.
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
#include "privdrop.h"
#include "authd.h"

static struct authd	 authd_state;
struct authd		*authd = &authd_state;

static void
usage(void)
{
	fprintf(stderr, "usage: tsamba-authd [-dnv] [-f file]\n");
	exit(1);
}

static void
on_signal(int sig, short ev, void *arg)
{
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reading the tables again");
		file_refresh(1);
		break;
	case SIGINT:
	case SIGTERM:
		log_info("exiting on signal %d", sig);
		event_loopexit(NULL);
		break;
	}
}

/* The uids that may ask besides root and ourselves. */
static void
peers_resolve(const struct conf *conf)
{
	const char	*users[] = { conf->user_smtpd, conf->user_queue };
	uid_t		 uid;
	gid_t		 gid;
	size_t		 i;

	authd->npeer_uids = 0;
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if (priv_lookup(users[i], &uid, &gid) == -1) {
			log_debug("user %s does not exist: it may not ask",
			    users[i]);
			continue;
		}
		authd->peer_uids[authd->npeer_uids++] = uid;
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
	struct event		 ev_hup, ev_int, ev_term;
	const char		*conffile = TSAMBA_CONF;
	int			 ch, debug = 0, noaction = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();

	/* Start-up problems go to the terminal until we are a daemon. */
	log_init(1, "tsamba-authd");
	log_setverbose(verbose);
	log_procname("authd");

	if (conf_parse(conffile, &conf) == -1)
		exit(1);
	authd->conf = &conf;
	if (noaction) {
		if (file_init(&conf) == -1)
			exit(1);
		file_free();
		printf("configuration OK\n");
		exit(0);
	}

	peers_resolve(&conf);
	vmail_resolve(&conf);
	server_listen(&conf);
	priv_drop(conf.user_auth, NULL, "authd");
	/* After the drop: a table the auth user cannot read fails now. */
	if (file_init(&conf) == -1)
		fatalx("cannot load the tables");

	if (!debug) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(0, "tsamba-authd");
	}

	event_init();
	signal(SIGPIPE, SIG_IGN);
	signal_set(&ev_hup, SIGHUP, on_signal, NULL);
	signal_set(&ev_int, SIGINT, on_signal, NULL);
	signal_set(&ev_term, SIGTERM, on_signal, NULL);
	signal_add(&ev_hup, NULL);
	signal_add(&ev_int, NULL);
	signal_add(&ev_term, NULL);
	server_start();

	event_dispatch();

	server_shutdown();
	file_free();
	conf_clear(&conf);
	return 0;
}
