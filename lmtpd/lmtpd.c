/*
 * tsamba-lmtpd parent: reads the configuration, binds the LMTP sockets,
 * forks the engine and hands it the listeners, connects to authd on the
 * engine's behalf, and relays deliveries to the writers (writers.c).  It
 * stays root to spawn writers as any mailbox owner, so it never parses
 * LMTP itself: it only looks at ids and routing fields of imsgs.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "daemon.h"
#include "drain.h"
#include "imsg.h"
#include "listener.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "tcp_listen.h"
#include "unixsock.h"
#include "stats.h"
#include "lmtpd.h"

struct conf		*conf;
uid_t			 lmtp_allowed[CONF_ALLOW_MAX + 1];
size_t			 nlmtp_allowed;
uid_t			 lmtp_queue_uid = (uid_t)-1;

static struct conf	 lmtpd_conf;
static struct channel	 engine_ch;
static pid_t		 engine_pid = -1;
static int		 engine_gone;	/* its channel, while stopping */
static uid_t		 sock_uid;	/* owner of the LMTP socket */
static gid_t		 sock_gid;
static int		 has_allow_gid;
static uid_t		 engine_uid;	/* authd knows the engine by it */
static gid_t		 engine_gid;
static struct event	 ev_sigs[4];

static void	allowed_resolve(void);
static void	send_listeners(void);
static void	parent_dispatch_engine(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	parent_engine_down(struct channel *, void *);
static void	parent_connect(struct msg_lmtp_connect *);

static const struct channel_type engine_types[] = {
	{ IMSG_LMTP_CONNECT, 0 },
	{ IMSG_LMTP_DELIVER, 0 },
	{ 0, 0 }
};
static const struct channel_cbs engine_cbs = {
	.dispatch = parent_dispatch_engine,
	.down = parent_engine_down,
};
static void	parent_sig(int, short, void *);
static void	parent_stop(void);
static void	parent_shutdown(int) __attribute__((__noreturn__));

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGCHLD, SIGHUP };
	struct daemon_opts	 opts;
	struct conf_listen	*l;
	int			 sp[2], nlisten = 1;	/* lmtp.sock */
	struct stat		 st;

	daemon_getopt(argc, argv, "tsamba-lmtpd", &opts);

	log_init(1, "tsamba-lmtpd");
	if (conf_parse(opts.conffile, &lmtpd_conf) == -1)
		exit(1);
	conf = &lmtpd_conf;
	if (opts.noaction) {
		printf("configuration OK\n");
		exit(0);
	}

	log_init_daemon(opts.debug, "tsamba-lmtpd");
	log_setverbose(opts.verbose);
	log_procname("parent");

	/* Writers chroot there: a missing mail root is a set-up error. */
	if (stat(conf->mailroot, &st) == -1)
		fatal("mail root %s", conf->mailroot);
	if (!S_ISDIR(st.st_mode))
		fatalx("mail root %s is not a directory", conf->mailroot);

	if (!opts.debug && daemon(0, 0) == -1)
		fatal("daemon");
	/* The engine inherits the limit: its socket and a body file each. */
	TAILQ_FOREACH(l, &conf->lmtp_listens, entry)
		nlisten++;
	listener_check_fd_limit("LMTP", conf->max_sessions, LMTP_SESSION_FDS,
	    LISTENER_FDS_RESERVED + nlisten);

	allowed_resolve();
	writers_init();
	stats_open(conf->rundir, STATS_LMTPD, NULL, 0);

	/* The engine is forked before any socket exists: it inherits none. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == -1)
		fatal("socketpair");
	switch (engine_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		engine_main(sp[1]);
	default:
		break;
	}
	close(sp[1]);
	if (priv_lookup(conf->user_lmtpd, &engine_uid, &engine_gid) == -1)
		engine_uid = engine_gid = 0;	/* not root: as ourselves */

	event_init();
	daemon_signals(ev_sigs, sigs, 4, parent_sig);

	channel_init(&engine_ch, "engine", "lmtpd parent", engine_types,
	    &engine_cbs, NULL);
	channel_attach(&engine_ch, sp[0]);
	send_listeners();

	log_info("started, LMTP on %s", conf->lmtp_socket);
	event_dispatch();
	parent_shutdown(1);
}

/*
 * The queue and the users of "allow", by uid.  A user that does not
 * exist cannot connect either: warned about, not fatal, so that lmtpd
 * may start before Postfix is installed.  Its group is the socket's.
 */
static void
allowed_resolve(void)
{
	uid_t	 uid;
	gid_t	 gid;
	size_t	 i;

	if (priv_lookup(conf->user_queue, &uid, &gid) == 0) {
		lmtp_allowed[nlmtp_allowed++] = uid;
		lmtp_queue_uid = uid;
		sock_uid = uid;
		sock_gid = gid;
	} else if (geteuid() == 0)
		log_warnx("user %s does not exist: the queue cannot deliver",
		    conf->user_queue);
	for (i = 0; i < conf->nlmtp_allow; i++) {
		if (priv_lookup(conf->lmtp_allow[i], &uid, &gid) == -1) {
			log_warnx("lmtp allow: user %s does not exist",
			    conf->lmtp_allow[i]);
			continue;
		}
		if (!has_allow_gid) {
			sock_gid = gid;
			has_allow_gid = 1;
		} else if (gid != sock_gid)
			log_warnx("lmtp allow: %s reaches %s only if it is "
			    "in group %u", conf->lmtp_allow[i],
			    conf->lmtp_socket, (unsigned)sock_gid);
		lmtp_allowed[nlmtp_allowed++] = uid;
	}
}

/*
 * The LMTP socket for the local clients: not writable by the world.  It
 * belongs to the queue user and the group of the first "allow" user, so
 * the file mode lets them in; the real gate is the engine's SO_PEERCRED
 * check, which also turns away anyone else who shares that group.
 */
static int
lmtp_socket_listen(void)
{
	int	 fd;

	fd = unixsock_listen(conf->lmtp_socket, has_allow_gid ? 0660 : 0600,
	    128, SOCK_NONBLOCK);
	if (geteuid() == 0 && chown(conf->lmtp_socket, sock_uid, sock_gid) ==
	    -1)
		fatal("chown %s", conf->lmtp_socket);
	return fd;
}

static void
send_listeners(void)
{
	struct conf_listen	*l;
	int			 fd;

	fd = lmtp_socket_listen();
	parent_send_engine(msg_lmtp_listener_pack(
	    &(struct msg_lmtp_listener){}, fd));
	TAILQ_FOREACH(l, &conf->lmtp_listens, entry) {
		fd = tcp_listen(l, 128, SOCK_NONBLOCK, "LMTP");
		parent_send_engine(msg_lmtp_listener_pack(
		    &(struct msg_lmtp_listener){}, fd));
		log_info("LMTP on %s port %u", l->addr, l->port);
	}
}

void
parent_send_engine(struct ibuf *b)
{
	/* Stopping, the engine exits on its own deadline: nobody to tell. */
	if (engine_gone) {
		ibuf_free(b);
		return;
	}
	if (channel_send(&engine_ch, b) == -1)
		fatalx("imsg to engine");
}

static void
parent_dispatch_engine(struct channel *ch, struct imsg *imsg,
    union imsg_msg *m, void *arg)
{
	switch (imsg->hdr.type) {
	case IMSG_LMTP_CONNECT:
		parent_connect(&m->lmtp_connect);
		break;
	case IMSG_LMTP_DELIVER:
		writers_deliver(imsg, &m->lmtp_deliver);
		break;
	}
}

/* The engine gone, or one that broke the protocol: fail-stop. */
static void
parent_engine_down(struct channel *ch, void *arg)
{
	if (drain_active()) {
		engine_gone = 1;
		drain_check();
		return;
	}
	log_warnx("engine gone, exiting");
	parent_shutdown(1);
}

/* The chrooted engine cannot reach auth.sock by path: connect for it. */
static void
parent_connect(struct msg_lmtp_connect *m)
{
	struct msg_lmtp_connected	 a = { .id = m->id, .which = m->which };
	char				 path[PATH_MAX];
	uint8_t				 which = m->which;
	int				 fd = -1;

	if (which == CONNECT_AUTHD) {
		conf_sockpath(conf, "auth.sock", path, sizeof(path));
		if ((fd = unixsock_connect_as(path, 0, engine_uid,
		    engine_gid)) == -1)
			log_warn("connect %s", path);
	} else
		log_warnx("engine asked to connect to %u", which);

	a.failed = fd == -1;
	parent_send_engine(msg_lmtp_connected_pack(&a, fd));
}

static void
parent_sig(int sig, short event, void *arg)
{
	pid_t	 pid;
	int	 status;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("exiting on signal %d", sig);
		parent_stop();
		break;
	case SIGHUP:
		/* Nothing to reload: the sockets stay as they are. */
		stats_reloaded();
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == engine_pid) {
				engine_pid = -1;
				if (drain_active()) {
					log_debug("engine exited, status %d",
					    status);
					continue;
				}
				log_warnx("engine exited, status %d", status);
				parent_shutdown(1);
			}
			writers_reaped(pid);
			if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
				log_warnx("writer %d exited, status %d",
				    (int)pid, status);
		}
		drain_check();
		break;
	}
}

/* What a stopping parent waits for: the writers' answers, the engine. */
static unsigned int
parent_owed(void)
{
	return writers_pending() + (engine_pid != -1);
}

/*
 * SIGTERM: the writers answer the deliveries they have and the answers
 * go to the engine, which writes the replies out to its clients and
 * exits; then the parent exits.  No new delivery is started meanwhile
 * (writers_deliver()).  Killing the writers at once would leave a
 * message in new/ without its 250, delivered again by the retry.
 */
static void
parent_stop(void)
{
	if (drain_active())
		return;
	if (engine_pid != -1)
		kill(engine_pid, SIGTERM);
	drain_start("deliveries or processes", parent_owed,
	    LMTPD_EXIT_DRAIN_SEC + LMTP_EXIT_FLUSH_SEC + 1, parent_shutdown, 0);
}

/*
 * Stop the engine and the writers and exit.  Only a stop that was asked
 * for (SIGTERM) exits 0: losing the engine is a failure, so that the
 * service manager's Restart=on-failure starts the daemon again.
 */
static void
parent_shutdown(int status)
{
	if (engine_pid != -1)
		kill(engine_pid, SIGTERM);
	writers_kill();
	unlink(conf->lmtp_socket);
	exit(status);
}

/*
 * In a freshly forked writer: drop the parent's signal handlers (they
 * would wake the parent's event loop) and its channel to the engine.
 */
void
parent_forget(void)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	close(engine_ch.iev.ibuf.fd);
}
