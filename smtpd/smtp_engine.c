/*
 * The smtp engine: the unprivileged, chrooted process that holds every
 * SMTP session.  It takes its listening sockets and certificates from
 * the parent (never a private key: each key operation of a handshake is
 * asked of the key process, keyop.h), accepts connections, and keeps
 * the channels to authd and
 * the queue (connected by the parent, since the chroot is empty),
 * reconnecting with backoff whenever one breaks.  The parent connects
 * the UNIX-socket milters the same way (smtp_milter.c).
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
#include <time.h>
#include <tls.h>
#include <unistd.h>

#include "conf.h"
#include "channel.h"
#include "daemon.h"
#include "drain.h"
#include "imsg.h"
#include "keyop.h"
#include "listener.h"
#include "stats.h"
#include "log.h"
#include "tls_ctx.h"
#include "privdrop.h"
#include "proto.h"
#include "smtpd.h"

static void	engine_sig(int, short, void *);
static void	engine_parent(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	engine_parent_down(struct channel *, void *);
static void	engine_listener(struct imsg *, struct msg_smtp_listener *);
static void	engine_tls_config(struct imsg *, struct msg_smtp_tls_config *);
static void	engine_connected(struct imsg *, struct msg_smtp_connected *);
static void	engine_accept(int, struct sockaddr_storage *, socklen_t,
		    void *);
static void	engine_connect(struct channel *, void *);
static void	engine_late(struct channel *, struct imsg *, union imsg_msg *,
		    void *);
static void	engine_lookup_late(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	engine_lookup_down(struct channel *, void *);
static void	engine_drain(int);

static const struct channel_type parent_types[] = {
	{ IMSG_SMTP_LISTENER, 0 },
	{ IMSG_SMTP_TLS_CONFIG, 0 },
	{ IMSG_SMTP_CONNECTED, 0 },
	{ IMSG_SMTP_READY, 0 },
	{ 0, 0 }
};
static const struct channel_type authd_types[] = {
	{ IMSG_AUTH_RCPT_RESULT, CHANNEL_ANSWER },
	{ IMSG_AUTH_BAN_RESULT, CHANNEL_ANSWER },
	{ IMSG_AUTH_LOGIN_RESULT, CHANNEL_ANSWER },
	{ IMSG_AUTH_SENDER_RESULT, CHANNEL_ANSWER },
	{ 0, 0 }
};
static const struct channel_type queue_types[] = {
	{ IMSG_QUEUE_MSG_CREATED, CHANNEL_ANSWER },
	{ IMSG_QUEUE_MSG_COMMITTED, CHANNEL_ANSWER },
	{ 0, 0 }
};
static const struct channel_type lookup_types[] = {
	{ IMSG_LKA_DNS_ANSWER, CHANNEL_ANSWER },
	{ IMSG_LKA_GREY_RESULT, CHANNEL_ANSWER },
	{ 0, 0 }
};
static const struct channel_cbs parent_cbs = {
	.dispatch = engine_parent,
	.down = engine_parent_down,
};
/* authd and queue: the parent connects them (our chroot is empty). */
static const struct channel_cbs peer_cbs = {
	.dispatch = engine_late,
	.connect = engine_connect,
};

/* A late answer (its check gone) is dropped; the process must stay. */
static const struct channel_cbs lookup_cbs = {
	.dispatch = engine_lookup_late,
	.down = engine_lookup_down,
};

static struct channel	 parent_ch, authd_ch, queue_ch, lookup_ch;

void
engine_main(int parent_fd, int key_fd, int lookup_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	static const struct conf_listen_list *tls_lists[1];
	struct event	 ev_sigs[3];

	log_procname("smtp");
	/* libtls and OpenSSL read their files before the chroot. */
	if (tls_init() == -1)
		fatalx("tls_init");
	/* Before any TLS context exists: their keys are the key process'. */
	if (keyop_client_init(key_fd) == -1)
		fatalx("cannot set up the key process client");
	/* The Public Suffix List is read before the chroot. */
	check_init();
	priv_drop(smtpd_conf->user_smtpd, smtpd_conf->chroot, "smtp");
	tls_lists[0] = &smtpd_conf->listens;
	tls_ctx_init(tls_lists, 1, smtpd_conf->tls_ciphers);
	/* Every exit, fatal or asked for, sends the replies owed first. */
	if (atexit(smtp_session_flush_all) != 0)
		fatalx("atexit");

	event_init();
	daemon_signals(ev_sigs, sigs, 3, engine_sig);

	channel_init(&parent_ch, "parent", "smtp engine", parent_types,
	    &parent_cbs, NULL);
	channel_attach(&parent_ch, parent_fd);
	channel_init(&authd_ch, "authd", "smtp", authd_types, &peer_cbs,
	    NULL);
	channel_init(&queue_ch, "queue", "smtp", queue_types, &peer_cbs,
	    NULL);
	channel_start(&authd_ch, NULL);
	channel_start(&queue_ch, NULL);
	channel_init(&lookup_ch, "lookup", "smtp engine", lookup_types,
	    &lookup_cbs, NULL);
	/* No lookup process when no listener checks anything. */
	if (lookup_fd != -1)
		channel_attach(&lookup_ch, lookup_fd);

	event_dispatch();
	fatalx("event loop ended");
}

static void
engine_sig(int sig, short ev, void *arg)
{
	/* The parent reloads on SIGHUP and tells us. */
	if (sig == SIGHUP)
		return;
	log_debug("engine exiting on signal %d", sig);
	engine_drain(0);
}

/*
 * Going down (SIGTERM, or the parent gone): a commit the queue has
 * under way is waited for, at most SMTP_EXIT_COMMIT_SEC, so that its
 * 250 reaches the client (atexit() writes it out).  Exiting before
 * the answer would leave the message queued and its client told
 * nothing: it sends the message again, a duplicate.  No new client
 * is taken meanwhile.
 */
static void
engine_drain(int status)
{
	drain_start("commits", smtp_session_commits, SMTP_EXIT_COMMIT_SEC,
	    NULL, status);
}

/* Messages from the parent: any surprise is a bug, so stop. */
static void
engine_parent(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	switch (imsg->hdr.type) {
	case IMSG_SMTP_LISTENER:
		engine_listener(imsg, &m->smtp_listener);
		break;
	case IMSG_SMTP_TLS_CONFIG:
		engine_tls_config(imsg, &m->smtp_tls_config);
		break;
	case IMSG_SMTP_CONNECTED:
		engine_connected(imsg, &m->smtp_connected);
		break;
	case IMSG_SMTP_READY:
		listener_start_all();
		break;
	}
}

static void
engine_parent_down(struct channel *ch, void *arg)
{
	/*
	 * Fail-stop, after the commits under way: the parent may have
	 * gone on SIGTERM before ours came.
	 */
	log_warnx("parent went away");
	engine_drain(1);
}

static void
engine_listener(struct imsg *imsg, struct msg_smtp_listener *m)
{
	struct smtp_listener	*l;
	struct conf_listen	*cl;
	uint32_t		 i = 0;

	if (imsg->fd == -1)
		fatalx("LISTENER without a socket");
	TAILQ_FOREACH(cl, &smtpd_conf->listens, entry)
		if (i++ == m->index)
			break;
	if (cl == NULL)
		fatalx("LISTENER for unknown index %u", m->index);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	l->cl = cl;
	l->slot = stats_listener_slot(m->index);
	if (fcntl(imsg->fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	l->listener = listener_new(imsg->fd, engine_accept, l);
	imsg->fd = -1;
}

static void
engine_tls_config(struct imsg *imsg, struct msg_smtp_tls_config *m)
{
	if (imsg->fd == -1)
		fatalx("TLS_CONFIG without a file");
	tls_ctx_load_fd(m->pki, imsg->fd);
	imsg->fd = -1;
}

static void
engine_accept(int fd, struct sockaddr_storage *ss, socklen_t sslen,
    void *arg)
{
	if (drain_active()) {
		close(fd);
		return;
	}
	smtp_session_new(fd, arg, ss, sslen);
}

struct channel *
engine_channel(int which)
{
	struct channel	*ch;

	ch = which == CONNECT_AUTHD ? &authd_ch : &queue_ch;
	return channel_up(ch) ? ch : NULL;
}

int
engine_send(int which, struct ibuf *b)
{
	struct channel	*ch;

	if ((ch = engine_channel(which)) == NULL) {
		ibuf_free(b);
		return -1;
	}
	return channel_send(ch, b);
}

void
engine_send_rollback(const char *msgid)
{
	struct msg_queue_msg_rollback	 m = { .id = 0, .msgid = msgid };

	/* No answer is due: the id is not a request's. */
	(void)engine_send(CONNECT_QUEUE, msg_queue_msg_rollback_pack(&m, -1));
}

/* An answer whose session is gone: a spool file it got goes back. */
static void
engine_late(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	if (imsg->hdr.type == IMSG_QUEUE_MSG_CREATED &&
	    m->queue_msg_created.status == QUEUE_OK &&
	    m->queue_msg_created.msgid[0] != '\0')
		engine_send_rollback(m->queue_msg_created.msgid);
}

struct channel *
engine_lookup_channel(void)
{
	return channel_up(&lookup_ch) ? &lookup_ch : NULL;
}

static void
engine_lookup_late(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
}

/* The lookup process is the parent's child: it is gone for good. */
static void
engine_lookup_down(struct channel *ch, void *arg)
{
	fatalx("lookup process went away");
}

/*
 * Ask the parent to connect us to a UNIX-socket milter (its index among
 * the milter statements): milter_connected(id, ...) follows.
 */
void
engine_connect_milter(uint64_t id, uint32_t index)
{
	struct msg_smtp_connect	 m = {
		.id = id, .which = CONNECT_MILTER, .index = index,
	};

	if (channel_send(&parent_ch, msg_smtp_connect_pack(&m, -1)) == -1)
		fatalx("cannot queue CONNECT");
}

/* Ask the parent to connect us to authd or the queue. */
static void
engine_connect(struct channel *ch, void *arg)
{
	struct msg_smtp_connect	 m = { .id = 0 };

	m.which = ch == &authd_ch ? CONNECT_AUTHD : CONNECT_QUEUE;
	if (channel_send(&parent_ch, msg_smtp_connect_pack(&m, -1)) == -1)
		fatalx("cannot queue CONNECT");
}

static void
engine_connected(struct imsg *imsg, struct msg_smtp_connected *m)
{
	struct channel	*ch;

	if (m->failed == 0 && imsg->fd == -1)
		fatalx("CONNECTED without a socket");
	if (m->which == CONNECT_MILTER) {
		/* Taken when connected; else the channel closes it. */
		if (m->failed)
			milter_connected(m->id, -1);
		else {
			milter_connected(m->id, imsg->fd);
			imsg->fd = -1;
		}
		return;
	}
	if (m->which != CONNECT_AUTHD && m->which != CONNECT_QUEUE)
		fatalx("CONNECTED for unknown target %u", m->which);
	ch = m->which == CONNECT_AUTHD ? &authd_ch : &queue_ch;
	if (ch->state != CHANNEL_CONNECTING ||
	    (m->failed == 0 && imsg->fd == -1))
		fatalx("unexpected CONNECTED");
	if (m->failed) {
		channel_connect_failed(ch);
		return;
	}
	channel_attach(ch, imsg->fd);
	imsg->fd = -1;
}
