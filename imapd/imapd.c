/*
 * tsamba-imapd: the parent process.  It keeps root and reads no network
 * input: it parses the configuration, checks each pki apart from itself,
 * binds the IMAP and POP3 listeners, forks the key process and the login
 * process, hands the key process the private key files and the login
 * process the certificate files (again on SIGHUP, sessions in progress
 * keep their context), connects the login process to authd, and starts
 * a mail process for each session that logged in (imapd_mail.c), and
 * serves tsambactl's who and kick (imapd_control.c).
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
#include "log.h"
#include "pki.h"
#include "privdrop.h"
#include "proto.h"
#include "stats.h"
#include "tcp_listen.h"
#include "unixsock.h"
#include "imapd.h"
#include "mime.h"

#define LISTEN_BACKLOG	511

struct conf		*imapd_conf;

static void	 parent_bind(void);
static void	 parent_login(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	 parent_child_down(struct channel *, void *);
static void	 parent_connect(struct msg_imap_connect *);
static void	 parent_sig(int, short, void *);

static const struct channel_type login_types[] = {
	{ IMSG_IMAP_CONNECT, 0 },
	{ IMSG_IMAP_MAIL_START, 0 },
	{ 0, 0 }
};
static const struct channel_type authd_types[] = {
	{ IMSG_AUTH_REDEEM_RESULT, CHANNEL_ANSWER },
	{ 0, 0 }
};
static const struct channel_cbs login_cbs = {
	.dispatch = parent_login,
	.down = parent_child_down,
};
/* authd may come and go: the channel reconnects by itself. */
static const struct channel_cbs authd_cbs = { 0 };

/* Written per session: mapped apart, see parent_channels(). */
static struct channel	*login_ch, *authd_ch;
static struct channel	 keys_ch;
static pid_t		 login_pid, keys_pid;
static void	 parent_channels(void);
static int	 parent_send_cert(const struct conf_pki *, int);
static int	 parent_send_ready(void);
static struct engine_tls tls = { .keys = &keys_ch,
	.send_cert = parent_send_cert, .send_ready = parent_send_ready };
static uid_t		 login_uid;
static gid_t		 login_gid;
/* The listening sockets, in list order: imap, then pop3. */
static int		*lfds;
static size_t		 nimap, npop3;

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct event		 ev_sigs[4];
	struct daemon_opts	 opts;
	struct msg_imap_listener l;
	char			 path[PATH_MAX];
	int			 sp[2], kp[2], ek[2];
	size_t			 i;

	daemon_getopt(argc, argv, "tsamba-imapd", &opts);

	log_init(1, "tsamba-imapd");
	log_setverbose(opts.verbose);
	if ((imapd_conf = calloc(1, sizeof(*imapd_conf))) == NULL)
		err(1, "calloc");
	if (conf_parse(opts.conffile, imapd_conf) == -1)
		exit(1);
	if (opts.noaction) {
		if (pki_check_all(imapd_conf) == -1)
			exit(1);
		printf("configuration OK\n");
		exit(0);
	}
	if (TAILQ_EMPTY(&imapd_conf->imap_listens) &&
	    TAILQ_EMPTY(&imapd_conf->pop3_listens))
		fatalx("%s: no imap listen or pop3 listen statement",
		    opts.conffile);
	tls.conf = imapd_conf;
	if (engine_tls_check(&tls) == -1)
		fatalx("%s: unusable pki, not starting", opts.conffile);

	parent_bind();

	log_init(opts.debug, "tsamba-imapd");
	log_setverbose(opts.verbose);
	if (!opts.debug && daemon(1, 0) == -1)
		fatal("daemon");
	signal(SIGPIPE, SIG_IGN);
	/* Mapped before the forks: the login process counts there too. */
	stats_open(imapd_conf->rundir, STATS_IMAPD, NULL, 0);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, kp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ek) == -1)
		fatal("socketpair");
	/* The key process, as in smtpd: the keys live there only. */
	switch (keys_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		close(sp[1]);
		close(kp[0]);
		close(ek[0]);
		for (i = 0; i < nimap + npop3; i++)
			close(lfds[i]);
		keyop_server_main(kp[1], ek[1], imapd_conf->user_imap,
		    imapd_conf->chroot, "imap keys");
		/* NOTREACHED */
	}
	close(kp[1]);
	close(ek[1]);
	switch (login_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		close(kp[0]);
		for (i = 0; i < nimap + npop3; i++)
			close(lfds[i]);
		login_main(sp[1], ek[0]);
		/* NOTREACHED */
	}
	close(sp[1]);
	close(ek[0]);
	log_procname("parent");
	if (priv_lookup(imapd_conf->user_imap, &login_uid, &login_gid) == -1)
		login_uid = login_gid = 0;	/* not root: as ourselves */

	event_init();
	daemon_signals(ev_sigs, sigs, 4, parent_sig);

	parent_channels();
	channel_init(login_ch, "imap login", "imap parent", login_types,
	    &login_cbs, NULL);
	channel_init(authd_ch, "authd", "imap parent", authd_types,
	    &authd_cbs, NULL);
	channel_attach(login_ch, sp[0]);
	engine_tls_attach(&tls, kp[0], "imap parent", parent_child_down);
	conf_sockpath(imapd_conf, "auth.sock", path, sizeof(path));
	channel_start(authd_ch, path);
	mail_procs_init(login_ch, authd_ch);
	/* Shared by the mail processes forked from here (mime_decode.c). */
	mime_charsets_preload();
	imapd_control_listen();

	for (i = 0; i < nimap + npop3; i++) {
		l.proto = i < nimap ? PROTO_IMAP : PROTO_POP3;
		l.index = i < nimap ? i : i - nimap;
		if (channel_send(login_ch,
		    msg_imap_listener_pack(&l, lfds[i])) == -1)
			fatalx("cannot queue LISTENER");
	}
	free(lfds);
	engine_tls_load(&tls, 1);

	event_dispatch();
	fatalx("event loop ended");
}

static void
parent_bind_list(struct conf_listen_list *list, const char *what,
    size_t *n)
{
	struct conf_listen	*cl;
	size_t			 total = nimap + npop3;

	TAILQ_FOREACH(cl, list, entry) {
		if ((cl->flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE |
		    LISTEN_IMPLICIT)) &&
		    conf_pki_find(imapd_conf, cl->pki) == NULL)
			fatalx("%s listen on %s port %u: TLS needs a known pki",
			    what, cl->addr, cl->port);
		if ((lfds = reallocarray(lfds, total + 1,
		    sizeof(*lfds))) == NULL)
			fatal("reallocarray");
		lfds[total++] = tcp_listen(cl, LISTEN_BACKLOG, 0, what);
		log_debug("%s listening on %s port %u", what, cl->addr,
		    cl->port);
		(*n)++;
	}
}

static void
parent_bind(void)
{
	parent_bind_list(&imapd_conf->imap_listens, "IMAP", &nimap);
	parent_bind_list(&imapd_conf->pop3_listens, "POP3", &npop3);
}

static int
parent_send_cert(const struct conf_pki *pki, int fd)
{
	struct msg_imap_tls_config	 m = { .pki = pki->name };

	return channel_send(login_ch, msg_imap_tls_config_pack(&m, fd));
}

static int
parent_send_ready(void)
{
	return channel_send(login_ch, msg_imap_ready_pack(
	    &(struct msg_imap_ready){}, -1));
}

/* Fail-stop: the login or the key process gone, or broke the protocol. */
static void
parent_child_down(struct channel *ch, void *arg)
{
	fatalx("%s went away", ch->name);
}

static void
parent_stop(int sig)
{
	log_info("exiting on signal %d", sig);
	signal(SIGCHLD, SIG_DFL);
	imapd_control_shutdown();
	/* The sessions' BYE first, through the login process. */
	mail_procs_stop();
	if (login_pid > 0)
		kill(login_pid, SIGTERM);
	if (keys_pid > 0)
		kill(keys_pid, SIGTERM);
	exit(0);
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
			if (mail_procs_reaped(pid, status))
				continue;
			if (pid != login_pid && pid != keys_pid)
				continue;
			if (WIFSIGNALED(status))
				fatalx("%s killed by signal %d",
				    pid == login_pid ? "imap login" :
				    "key process", WTERMSIG(status));
			fatalx("%s exited with status %d",
			    pid == login_pid ? "imap login" : "key process",
			    WEXITSTATUS(status));
		}
		break;
	default:
		parent_stop(sig);
	}
}

static void
parent_login(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	switch (imsg->hdr.type) {
	case IMSG_IMAP_CONNECT:
		parent_connect(&m->imap_connect);
		break;
	case IMSG_IMAP_MAIL_START:
		mail_procs_start(imsg, &m->imap_mail_start);
		break;
	}
}

/* The login process, in its empty chroot, needs authd. */
static void
parent_connect(struct msg_imap_connect *m)
{
	struct msg_imap_connected	 a = { .id = m->id, .which = m->which };
	char				 path[PATH_MAX];
	int				 fd;

	if (m->which != CONNECT_AUTHD)
		fatalx("CONNECT to unknown target %u", m->which);
	conf_sockpath(imapd_conf, "auth.sock", path, sizeof(path));
	if ((fd = unixsock_connect_as(path, 0, login_uid, login_gid)) == -1)
		log_debug("connect %s: %s", path, strerror(errno));
	a.failed = fd == -1;
	if (channel_send(login_ch, msg_imap_connected_pack(&a, fd)) == -1)
		fatalx("cannot queue CONNECTED");
}

/*
 * The parent writes its channels for every session it starts (the
 * redeem, MAIL_STARTED).  In pages that a fork would share, each write
 * left the last mail process forked a private copy of the page; the
 * mail processes never use these channels, so their pages are not
 * inherited at all (Linux's MADV_DONTFORK; elsewhere they are, as
 * before).  Called after the key and login processes are forked.
 */
static void
parent_channels(void)
{
	struct channel	*ch;
	size_t		 len = 2 * sizeof(*ch);

	if ((ch = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		fatal("mmap");
#ifdef MADV_DONTFORK
	if (madvise(ch, len, MADV_DONTFORK) == -1)
		fatal("madvise");
#endif
	login_ch = &ch[0];
	authd_ch = &ch[1];
}
