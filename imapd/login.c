/*
 * The imap login process: it drops to its own user in the empty chroot
 * and serves every IMAP and POP3 connection until it authenticated.
 * From the parent it gets the listening sockets, the certificate chains
 * (the private keys stay in the key process), and its channel to authd;
 * it asks the parent for a mail process once authd said yes.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "daemon.h"
#include "imsg.h"
#include "keyop.h"
#include "listener.h"
#include "log.h"
#include "privdrop.h"
#include "tls_ctx.h"
#include "imapd.h"

static void	login_parent_msg(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	login_parent_down(struct channel *, void *);
static void	login_connect(struct channel *, void *);
static void	login_late(struct channel *, struct imsg *, union imsg_msg *,
		    void *);
static void	login_sig(int, short, void *);
static void	login_accept(int, struct sockaddr_storage *, socklen_t,
		    void *);

static const struct channel_type parent_types[] = {
	{ IMSG_IMAP_LISTENER, 0 },
	{ IMSG_IMAP_TLS_CONFIG, 0 },
	{ IMSG_IMAP_CONNECTED, 0 },
	{ IMSG_IMAP_READY, 0 },
	{ IMSG_IMAP_MAIL_STARTED, CHANNEL_ANSWER },
	{ 0, 0 }
};
static const struct channel_type authd_types[] = {
	{ IMSG_AUTH_BAN_RESULT, CHANNEL_ANSWER },
	{ IMSG_AUTH_LOGIN_RESULT, CHANNEL_ANSWER },
	{ 0, 0 }
};
static const struct channel_cbs parent_cbs = {
	.dispatch = login_parent_msg,
	.down = login_parent_down,
};
static const struct channel_cbs authd_cbs = {
	.dispatch = login_late,
	.connect = login_connect,
};

static struct channel	 parent_ch, authd_ch;

struct channel *
login_authd(void)
{
	return channel_up(&authd_ch) ? &authd_ch : NULL;
}

struct channel *
login_parent(void)
{
	return &parent_ch;
}

void
login_main(int parent_fd, int key_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	static const struct conf_listen_list *lists[2];
	struct event	 ev_sigs[3];

	log_procname("imap login");
	if (tls_init() == -1)
		fatalx("tls_init");
	if (keyop_client_init(key_fd) == -1)
		fatalx("cannot set up the key process client");
	priv_drop(imapd_conf->user_imap, imapd_conf->chroot, "imap login");
	lists[0] = &imapd_conf->imap_listens;
	lists[1] = &imapd_conf->pop3_listens;
	tls_ctx_init(lists, 2, imapd_conf->tls_ciphers);
	listener_check_fd_limit("IMAP/POP3", imapd_conf->imap_max_sessions,
	    3, LISTENER_FDS_RESERVED);

	event_init();
	daemon_signals(ev_sigs, sigs, 3, login_sig);
	channel_init(&parent_ch, "parent", "imap login", parent_types,
	    &parent_cbs, NULL);
	channel_init(&authd_ch, "authd", "imap login", authd_types,
	    &authd_cbs, NULL);
	channel_attach(&parent_ch, parent_fd);
	channel_start(&authd_ch, NULL);

	event_dispatch();
	fatalx("event loop ended");
}

static void
login_sig(int sig, short ev, void *arg)
{
	if (sig == SIGHUP)
		return;		/* the parent reloads */
	login_shutdown();
	exit(0);
}

static void
login_listener(struct imsg *imsg, struct msg_imap_listener *m)
{
	struct conf_listen_list	*list;
	struct login_listener	*l;
	struct conf_listen	*cl;
	uint32_t		 i = 0;

	if (imsg->fd == -1)
		fatalx("LISTENER without a socket");
	list = m->proto == PROTO_IMAP ? &imapd_conf->imap_listens :
	    &imapd_conf->pop3_listens;
	TAILQ_FOREACH(cl, list, entry)
		if (i++ == m->index)
			break;
	if (cl == NULL)
		fatalx("LISTENER for unknown index %u", m->index);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	l->cl = cl;
	l->proto = m->proto;
	if (fcntl(imsg->fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	l->listener = listener_new(imsg->fd, login_accept, l);
	imsg->fd = -1;
}

static void
login_tls_config(struct imsg *imsg, struct msg_imap_tls_config *m)
{
	if (imsg->fd == -1)
		fatalx("TLS_CONFIG without a file");
	tls_ctx_load_fd(m->pki, imsg->fd);
	imsg->fd = -1;
}

static void
login_connected(struct imsg *imsg, struct msg_imap_connected *m)
{
	if (m->which != CONNECT_AUTHD || authd_ch.state != CHANNEL_CONNECTING ||
	    (m->failed == 0 && imsg->fd == -1))
		fatalx("unexpected CONNECTED");
	if (m->failed) {
		channel_connect_failed(&authd_ch);
		return;
	}
	channel_attach(&authd_ch, imsg->fd);
	imsg->fd = -1;
}

static void
login_parent_msg(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	switch (imsg->hdr.type) {
	case IMSG_IMAP_LISTENER:
		login_listener(imsg, &m->imap_listener);
		break;
	case IMSG_IMAP_TLS_CONFIG:
		login_tls_config(imsg, &m->imap_tls_config);
		break;
	case IMSG_IMAP_CONNECTED:
		login_connected(imsg, &m->imap_connected);
		break;
	case IMSG_IMAP_READY:
		listener_start_all();
		break;
	case IMSG_IMAP_MAIL_STARTED:
		/* Its session is gone; the mail process sees EOF. */
		break;
	}
}

/* The parent stopped (or died): the clients hear it, then fail-stop. */
static void
login_parent_down(struct channel *ch, void *arg)
{
	login_shutdown();
	fatalx("parent went away");
}

static void
login_connect(struct channel *ch, void *arg)
{
	struct msg_imap_connect	 m = { .id = 0, .which = CONNECT_AUTHD };

	if (channel_send(&parent_ch, msg_imap_connect_pack(&m, -1)) == -1)
		fatalx("cannot queue CONNECT");
}

/* A LOGIN answer whose session left: nothing to give back. */
static void
login_late(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
}

static void
login_accept(int fd, struct sockaddr_storage *ss, socklen_t sslen,
    void *arg)
{
	login_session_new(fd, arg, ss, sslen);
}
