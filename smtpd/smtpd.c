/*
 * tsamba-smtpd: the parent process.  It keeps root and reads no network
 * input: it parses the configuration, checks each pki (in a child, so
 * that no key byte enters its own memory), binds the listening sockets,
 * forks the key process and the smtp engine, hands the key process the
 * private key files and the engine the certificate files (again on
 * SIGHUP), and connects the engine to authd and the queue on request.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
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
#include "engine_tls.h"
#include "imsg.h"
#include "keyop.h"
#include "listener.h"
#include "log.h"
#include "pki.h"
#include "privdrop.h"
#include "proto.h"
#include "stats.h"
#include "tcp_listen.h"
#include "unixsock.h"
#include "smtpd.h"

#define LISTEN_BACKLOG	511

struct conf		*smtpd_conf;

static int	*parent_bind(struct conf *, size_t *);
static int	 parent_wants_lookup(void);
static void	 parent_dispatch(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	 parent_child_down(struct channel *, void *);
static void	 parent_connect(struct msg_smtp_connect *);
static void	 parent_sig(int, short, void *);
static void	 parent_stats_open(void);

static const struct channel_type engine_types[] = {
	{ IMSG_SMTP_CONNECT, 0 },
	{ 0, 0 }
};
static const struct channel_cbs engine_cbs = {
	.dispatch = parent_dispatch,
	.down = parent_child_down,
};

static struct channel	 engine_ch, keys_ch;
static pid_t		 engine_pid, keys_pid, lookup_pid;
static int	 parent_send_cert(const struct conf_pki *, int);
static int	 parent_send_ready(void);
static struct engine_tls tls = { .keys = &keys_ch,
	.send_cert = parent_send_cert, .send_ready = parent_send_ready };
/* authd and the queue tell the engine's connections by this uid. */
static uid_t		 engine_uid;
static gid_t		 engine_gid;

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct event		 ev_sigs[4];
	struct daemon_opts	 opts;
	struct msg_smtp_listener l;
	int			*fds, sp[2], kp[2], ek[2], lk[2];
	size_t			 i, nfds;

	daemon_getopt(argc, argv, "tsamba-smtpd", &opts);

	log_init(1, "tsamba-smtpd");
	log_setverbose(opts.verbose);
	if ((smtpd_conf = calloc(1, sizeof(*smtpd_conf))) == NULL)
		err(1, "calloc");
	if (conf_parse(opts.conffile, smtpd_conf) == -1)
		exit(1);
	if (opts.noaction) {
		if (pki_check_all(smtpd_conf) == -1)
			exit(1);
		printf("configuration OK\n");
		exit(0);
	}
	if (TAILQ_EMPTY(&smtpd_conf->listens))
		fatalx("%s: no SMTP listen statement", opts.conffile);
	/* A TLS listener never starts without a usable certificate. */
	tls.conf = smtpd_conf;
	if (engine_tls_check(&tls) == -1)
		fatalx("%s: unusable pki, not starting", opts.conffile);

	fds = parent_bind(smtpd_conf, &nfds);

	log_init_daemon(opts.debug, "tsamba-smtpd");
	log_setverbose(opts.verbose);
	if (!opts.debug && daemon(1, 0) == -1)
		fatal("daemon");
	signal(SIGPIPE, SIG_IGN);
	/* The engine inherits the limit: socket, spool file, milter each. */
	if (smtpd_conf->max_sessions != 0)
		listener_check_fd_limit("SMTP", smtpd_conf->max_sessions,
		    SMTP_SESSION_FDS, LISTENER_FDS_RESERVED + nfds);
	parent_stats_open();

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, kp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ek) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, lk) == -1)
		fatal("socketpair");
	/*
	 * The key process: the private keys live there and nowhere else
	 * (keyop.h).  Same unprivileged user and chroot as the engine, but
	 * not dumpable, so the engine's uid cannot read its memory.
	 */
	switch (keys_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		close(sp[1]);
		close(kp[0]);
		close(ek[0]);
		close(lk[0]);
		close(lk[1]);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		keyop_server_main(kp[1], ek[1], smtpd_conf->user_smtpd,
		    smtpd_conf->chroot, "smtp keys");
		/* NOTREACHED */
	}
	close(kp[1]);
	close(ek[1]);
	/*
	 * The lookup process (smtp_lookup.c): the resolver of the inbound
	 * checks, set up with root's view of the files, then the engine's
	 * user in the empty chroot.  The engine asks it over lk.  Only
	 * when a listener checks anything: otherwise nothing changes.
	 */
	if (!parent_wants_lookup()) {
		close(lk[0]);
		close(lk[1]);
		lk[0] = lk[1] = -1;
	} else switch (lookup_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		close(sp[1]);
		close(kp[0]);
		close(ek[0]);
		close(lk[0]);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		lookup_main(lk[1]);
		/* NOTREACHED */
	}
	if (lk[1] != -1)
		close(lk[1]);
	switch (engine_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		close(kp[0]);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		engine_main(sp[1], ek[0], lk[0]);
		/* NOTREACHED */
	}
	close(sp[1]);
	close(ek[0]);
	if (lk[0] != -1)
		close(lk[0]);
	log_procname("parent");
	if (priv_lookup(smtpd_conf->user_smtpd, &engine_uid, &engine_gid) ==
	    -1)
		engine_uid = engine_gid = 0;	/* not root: as ourselves */

	event_init();
	daemon_signals(ev_sigs, sigs, 4, parent_sig);

	channel_init(&engine_ch, "smtp engine", "smtp parent", engine_types,
	    &engine_cbs, NULL);
	channel_attach(&engine_ch, sp[0]);
	engine_tls_attach(&tls, kp[0], "smtp parent", parent_child_down);
	/* The imsg code closes our copy of each fd once it is sent. */
	for (i = 0; i < nfds; i++) {
		l.index = i;
		if (channel_send(&engine_ch,
		    msg_smtp_listener_pack(&l, fds[i])) == -1)
			fatalx("cannot queue LISTENER");
	}
	free(fds);
	/* READY follows the last certificate (engine_tls_key_loaded). */
	engine_tls_load(&tls, 1);

	event_dispatch();
	fatalx("event loop ended");
}

/* Does any listener check SPF, DKIM, DMARC, DNS lists, iprev, greylist? */
static int
parent_wants_lookup(void)
{
	struct conf_listen	*cl;

	TAILQ_FOREACH(cl, &smtpd_conf->listens, entry)
		if (cl->flags & (LISTEN_CHECKS | LISTEN_DNSBL |
		    LISTEN_GREYLIST | LISTEN_IPREV))
			return 1;
	return 0;
}

/* One listening socket per listen statement, in the order of the list. */
static int *
parent_bind(struct conf *conf, size_t *nfds)
{
	struct conf_listen	*cl;
	int			*fds;
	size_t			 n = 0;

	TAILQ_FOREACH(cl, &conf->listens, entry)
		n++;
	if ((fds = calloc(n, sizeof(*fds))) == NULL)
		fatal("calloc");
	n = 0;
	TAILQ_FOREACH(cl, &conf->listens, entry) {
		if ((cl->flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE |
		    LISTEN_SMTPS)) && conf_pki_find(conf, cl->pki) == NULL)
			fatalx("listen on %s port %u: TLS needs a known pki",
			    cl->addr, cl->port);
		fds[n++] = tcp_listen(cl, LISTEN_BACKLOG, 0, "SMTP");
		log_debug("listening on %s port %u", cl->addr, cl->port);
	}
	*nfds = n;
	return fds;
}

static int
parent_send_cert(const struct conf_pki *pki, int fd)
{
	struct msg_smtp_tls_config	 m = { .pki = pki->name };

	return channel_send(&engine_ch, msg_smtp_tls_config_pack(&m, fd));
}

static int
parent_send_ready(void)
{
	return channel_send(&engine_ch, msg_smtp_ready_pack(
	    &(struct msg_smtp_ready){}, -1));
}

/* Fail-stop: a child gone, or one that broke the protocol. */
static void
parent_child_down(struct channel *ch, void *arg)
{
	fatalx("%s went away", ch->name);
}

static const char *
child_name(pid_t pid)
{
	if (pid == engine_pid)
		return "smtp engine";
	if (pid == keys_pid)
		return "key process";
	return "lookup process";
}

static void
parent_sig(int sig, short ev, void *arg)
{
	pid_t	 pid;
	int	 status;

	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading certificates");
		engine_tls_load(&tls, 0);
		stats_reloaded();
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != engine_pid && pid != keys_pid &&
			    pid != lookup_pid)
				continue;
			if (WIFSIGNALED(status))
				fatalx("%s killed by signal %d",
				    child_name(pid), WTERMSIG(status));
			fatalx("%s exited with status %d", child_name(pid),
			    WEXITSTATUS(status));
		}
		break;
	default:
		log_info("exiting on signal %d", sig);
		signal(SIGCHLD, SIG_DFL);
		if (engine_pid > 0)
			kill(engine_pid, SIGTERM);
		if (keys_pid > 0)
			kill(keys_pid, SIGTERM);
		if (lookup_pid > 0)
			kill(lookup_pid, SIGTERM);
		exit(0);
	}
}

static void
parent_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	parent_connect(&m->smtp_connect);
}

/* The engine, in its empty chroot, needs authd, the queue or a milter. */
static void
parent_connect(struct msg_smtp_connect *m)
{
	struct msg_smtp_connected	 a = { .id = m->id, .which = m->which };
	struct conf_milter		*cm;
	struct sockaddr_un		*sun;
	char				 path[PATH_MAX];
	uint32_t			 i = 0;
	uint8_t				 which = m->which;
	int				 fd;

	switch (which) {
	case CONNECT_MILTER:
		/* Only a UNIX-socket milter of the config, by its index. */
		TAILQ_FOREACH(cm, &smtpd_conf->milters, entry)
			if (i++ == m->index)
				break;
		if (cm == NULL || cm->ss.ss_family != AF_UNIX)
			fatalx("CONNECT to unknown milter %u", m->index);
		sun = (struct sockaddr_un *)&cm->ss;
		strlcpy(path, sun->sun_path, sizeof(path));
		break;
	case CONNECT_AUTHD:
		conf_sockpath(smtpd_conf, "auth.sock", path, sizeof(path));
		break;
	case CONNECT_QUEUE:
		conf_sockpath(smtpd_conf, "queue.sock", path, sizeof(path));
		break;
	default:
		fatalx("CONNECT to unknown target %u", which);
	}
	if ((fd = unixsock_connect_as(path, 0, engine_uid, engine_gid)) ==
	    -1)
		log_debug("connect %s: %s", path, strerror(errno));
	a.failed = fd == -1;
	if (channel_send(&engine_ch, msg_smtp_connected_pack(&a, fd)) == -1)
		fatalx("cannot queue CONNECTED");
}

/*
 * The stats file, before the children are forked so that they share
 * it.  Each listener is named for its kind and port ("smtp:25",
 * "submission:587", "smtps:465"); two listeners that would share a
 * name get their address in it too.
 */
static void
parent_stats_open(void)
{
	struct conf_listen	*cl, *o;
	char			 names[STATS_LISTENERS][STATS_LABEL_MAX];
	const char		*ptrs[STATS_LISTENERS], *kind;
	size_t			 n = 0, i;
	int			 dup;

	TAILQ_FOREACH(cl, &smtpd_conf->listens, entry) {
		if (n == STATS_LISTENERS)
			break;
		kind = (cl->flags & LISTEN_SMTPS) ? "smtps" :
		    (cl->flags & LISTEN_AUTH) ? "submission" : "smtp";
		dup = 0;
		TAILQ_FOREACH(o, &smtpd_conf->listens, entry)
			if (o != cl && o->port == cl->port)
				dup = 1;
		/* A long address only makes a shorter name. */
		if ((dup ? snprintf(names[n], sizeof(names[n]), "%s:%s:%u",
		    kind, cl->addr, cl->port) : snprintf(names[n],
		    sizeof(names[n]), "%s:%u", kind, cl->port)) >=
		    (int)sizeof(names[n]))
			log_debug("stats: listener name %s cut", names[n]);
		n++;
	}
	for (i = 0; i < n; i++)
		ptrs[i] = names[i];
	stats_open(smtpd_conf->rundir, STATS_SMTPD, ptrs, n);
}
