/*
 * The smtp engine: the unprivileged, chrooted process that holds every
 * SMTP session.  It takes its listening sockets and certificates from
 * the parent (never a private key: each key operation of a handshake is
 * asked of the key process, keyop.h), accepts connections, and keeps
 * the channels to authd and
 * the queue (connected by the parent, since the chroot is empty),
 * reconnecting with backoff whenever one breaks.
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

#include "conf.h"
#include "daemon.h"
#include "fileio.h"
#include "imsg.h"
#include "keyop.h"
#include "listener.h"
#include "log.h"
#include "pki.h"
#include "privdrop.h"
#include "proto.h"
#include "smtpd.h"

#define CHAN_BACKOFF_MIN	100	/* msec */
#define CHAN_BACKOFF_MAX	10000

enum chan_state {
	CHAN_DOWN = 0,
	CHAN_CONNECTING,	/* asked the parent */
	CHAN_UP,
};

struct smtp_channel {
	int			 which;
	const char		*name;
	enum chan_state		 state;
	int			 hello;		/* peer's HELLO in */
	struct imsgev		 iev;
	struct event		 retry;
	int			 backoff;	/* msec */
};

static void	engine_sig(int, short, void *);
static void	engine_parent(struct imsgev *, struct imsg *, void *);
static void	engine_listener(struct imsg *);
static void	engine_tls_config(struct imsg *);
static void	engine_connected(struct imsg *);
static void	engine_ready(void);
static void	engine_accept(int, struct sockaddr_storage *, socklen_t,
		    void *);
static void	chan_connect(struct smtp_channel *);
static void	chan_retry(int, short, void *);
static void	chan_lost(struct smtp_channel *, const char *);
static void	chan_dispatch(struct imsgev *, struct imsg *, void *);
static struct smtp_channel *chan_get(int);

static struct imsgev	 parent_iev;
static struct smtp_channel channels[] = {
	{ .which = CONNECT_AUTHD, .name = "authd" },
	{ .which = CONNECT_QUEUE, .name = "queue" },
};
static TAILQ_HEAD(, smtp_listener) listeners =
    TAILQ_HEAD_INITIALIZER(listeners);
static int		 ready;
static uint64_t		 next_id = 1;

void
engine_main(int parent_fd, int key_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct event	 ev_sigs[3];
	size_t		 i;

	log_procname("smtp");
	/* libtls and OpenSSL read their files before the chroot. */
	if (tls_init() == -1)
		fatalx("tls_init");
	/* Before any TLS context exists: their keys are the key process'. */
	if (keyop_client_init(key_fd) == -1)
		fatalx("cannot set up the key process client");
	priv_drop(smtpd_conf->user_smtpd, smtpd_conf->chroot, "smtp");
	/* Every exit, fatal or asked for, sends the replies owed first. */
	if (atexit(smtp_session_flush_all) != 0)
		fatalx("atexit");

	event_init();
	daemon_signals(ev_sigs, sigs, 3, engine_sig);

	if (fcntl(parent_fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	imsgev_init(&parent_iev, parent_fd, engine_parent, NULL);
	if (imsg_send_hello(&parent_iev.ibuf, "smtp engine") == -1)
		fatalx("hello to parent");
	imsgev_update(&parent_iev);

	for (i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
		channels[i].iev.ibuf.fd = -1;
		channels[i].backoff = CHAN_BACKOFF_MIN;
		evtimer_set(&channels[i].retry, chan_retry, &channels[i]);
		chan_connect(&channels[i]);
	}

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
	exit(0);
}

uint64_t
engine_new_id(void)
{
	return next_id++;
}

/* Messages from the parent: any surprise is a bug, so stop. */
static void
engine_parent(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	static int	 hello;

	if (imsg == NULL)
		fatalx("parent went away");
	if (!hello) {
		if (imsg_check_hello(imsg, "smtp engine") == -1)
			fatalx("bad hello from the parent");
		hello = 1;
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_SMTP_LISTENER:
		engine_listener(imsg);
		break;
	case IMSG_SMTP_TLS_CONFIG:
		engine_tls_config(imsg);
		break;
	case IMSG_SMTP_CONNECTED:
		engine_connected(imsg);
		break;
	case IMSG_SMTP_READY:
		if (imsg_get_end(imsg) == -1)
			fatalx("malformed READY");
		engine_ready();
		break;
	default:
		fatalx("unexpected imsg %u from the parent", imsg->hdr.type);
	}
}

static void
engine_listener(struct imsg *imsg)
{
	struct smtp_listener	*l;
	struct conf_listen	*cl;
	uint32_t		 index, i = 0;

	if (imsg_get_u32(imsg, &index) == -1 || imsg_get_end(imsg) == -1 ||
	    imsg->fd == -1)
		fatalx("malformed LISTENER");
	TAILQ_FOREACH(cl, &smtpd_conf->listens, entry)
		if (i++ == index)
			break;
	if (cl == NULL)
		fatalx("LISTENER for unknown index %u", index);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	l->cl = cl;
	if (fcntl(imsg->fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	l->listener = listener_new(imsg->fd, engine_accept, l);
	TAILQ_INSERT_TAIL(&listeners, l, entry);
	if (ready)
		listener_start(l->listener);
}

static void
engine_tls_config(struct imsg *imsg)
{
	char		 name[CONF_NAME_MAX];
	char		*cert;
	size_t		 certlen;

	if (imsg_get_str(imsg, name, sizeof(name)) == -1 ||
	    imsg_get_end(imsg) == -1 || imsg->fd == -1)
		fatalx("malformed TLS_CONFIG");
	if (fileio_read_fd(imsg->fd, PKI_CHAIN_MAX, &cert, &certlen) == -1) {
		log_warn("pki %s: reading the certificate", name);
		cert = NULL;
	}
	close(imsg->fd);
	imsg->fd = -1;
	if (cert == NULL || tls_ctx_load(name, cert, certlen) == -1)
		log_warnx("pki %s: new certificate refused, the previous "
		    "one stays in use", name);
	else
		log_info("pki %s: certificate loaded", name);
	free(cert);
}

static void
engine_ready(void)
{
	struct smtp_listener	*l;

	ready = 1;
	TAILQ_FOREACH(l, &listeners, entry)
		listener_start(l->listener);
	log_info("ready to accept connections");
}

static void
engine_accept(int fd, struct sockaddr_storage *ss, socklen_t sslen,
    void *arg)
{
	smtp_session_new(fd, arg, ss, sslen);
}

static struct smtp_channel *
chan_get(int which)
{
	size_t	 i;

	for (i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
		if (channels[i].which == which)
			return &channels[i];
	return NULL;
}

struct imsgev *
engine_channel(int which)
{
	struct smtp_channel	*ch;

	if ((ch = chan_get(which)) == NULL || ch->state != CHAN_UP)
		return NULL;
	return &ch->iev;
}

void
engine_send_rollback(const char *msgid)
{
	struct imsgev	*iev;
	struct ibuf	*b;

	if ((iev = engine_channel(CONNECT_QUEUE)) == NULL)
		return;
	if ((b = imsg_create(IMSG_QUEUE_MSG_ROLLBACK, 0, -1)) == NULL)
		return;
	ibuf_add_u64(b, engine_new_id());
	ibuf_add_str(b, msgid);
	if (b->error) {
		ibuf_free(b);
		return;
	}
	(void)imsgev_send(iev, b);
}

/* Ask the parent to connect us to a UNIX-socket milter (its index). */
void
engine_connect_milter(uint64_t id, uint32_t index)
{
	struct ibuf	*b;

	if ((b = imsg_create(IMSG_SMTP_CONNECT, 0, -1)) == NULL)
		fatal("imsg_create");
	ibuf_add_u64(b, id);
	ibuf_add_u8(b, CONNECT_MILTER);
	ibuf_add_u32(b, index);
	if (b->error || imsgev_send(&parent_iev, b) == -1)
		fatalx("cannot queue CONNECT");
}

/* Ask the parent to connect us to authd or the queue. */
static void
chan_connect(struct smtp_channel *ch)
{
	struct ibuf	*b;

	ch->state = CHAN_CONNECTING;
	if ((b = imsg_create(IMSG_SMTP_CONNECT, 0, -1)) == NULL)
		fatal("imsg_create");
	ibuf_add_u64(b, engine_new_id());
	ibuf_add_u8(b, ch->which);
	if (b->error || imsgev_send(&parent_iev, b) == -1)
		fatalx("cannot queue CONNECT");
}

static void
chan_retry(int fd, short ev, void *arg)
{
	chan_connect(arg);
}

static void
chan_schedule(struct smtp_channel *ch)
{
	struct timeval	 tv;

	ch->state = CHAN_DOWN;
	tv.tv_sec = ch->backoff / 1000;
	tv.tv_usec = (ch->backoff % 1000) * 1000;
	evtimer_add(&ch->retry, &tv);
	ch->backoff *= 2;
	if (ch->backoff > CHAN_BACKOFF_MAX)
		ch->backoff = CHAN_BACKOFF_MAX;
}

static void
engine_connected(struct imsg *imsg)
{
	struct smtp_channel	*ch;
	uint64_t		 id;
	uint8_t			 which, status;

	if (imsg_get_u64(imsg, &id) == -1 || imsg_get_u8(imsg, &which) == -1 ||
	    imsg_get_u8(imsg, &status) == -1 || imsg_get_end(imsg) == -1 ||
	    (status == 0 && imsg->fd == -1))
		fatalx("malformed CONNECTED");
	if (which == CONNECT_MILTER) {
		milter_connected(id, status == 0 ? imsg->fd : -1);
		if (status != 0 && imsg->fd != -1)
			close(imsg->fd);
		return;
	}
	if ((ch = chan_get(which)) == NULL || ch->state != CHAN_CONNECTING)
		fatalx("malformed CONNECTED");
	if (status != 0) {
		if (imsg->fd != -1)
			close(imsg->fd);
		log_debug("%s unreachable, retry in %d ms", ch->name,
		    ch->backoff);
		chan_schedule(ch);
		return;
	}
	if (fcntl(imsg->fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	imsgev_init(&ch->iev, imsg->fd, chan_dispatch, ch);
	ch->hello = 0;
	ch->state = CHAN_UP;
	if (imsg_send_hello(&ch->iev.ibuf, "smtp") == -1) {
		chan_lost(ch, "cannot send hello");
		return;
	}
	imsgev_update(&ch->iev);
}

/* Fail what waits on the channel, then reconnect. */
static void
chan_lost(struct smtp_channel *ch, const char *why)
{
	log_warnx("channel to %s lost: %s", ch->name, why);
	imsgev_clear(&ch->iev);
	chan_schedule(ch);
	smtp_session_fail_channel(ch->which);
}

static void
chan_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	struct smtp_channel	*ch = arg;
	int			 rv = -1;

	if (imsg == NULL) {
		chan_lost(ch, "connection closed");
		return;
	}
	if (!ch->hello) {
		if (imsg_check_hello(imsg, "smtp") == -1) {
			if (imsg->fd != -1)
				close(imsg->fd);
			chan_lost(ch, "bad hello");
			return;
		}
		ch->hello = 1;
		ch->backoff = CHAN_BACKOFF_MIN;
		log_debug("channel to %s up", ch->name);
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_AUTH_RCPT_RESULT:
		if (ch->which == CONNECT_AUTHD)
			rv = smtp_session_rcpt_result(imsg);
		break;
	case IMSG_AUTH_BAN_RESULT:
		if (ch->which == CONNECT_AUTHD)
			rv = smtp_session_ban_result(imsg);
		break;
	case IMSG_AUTH_LOGIN_RESULT:
		if (ch->which == CONNECT_AUTHD)
			rv = smtp_session_login_result(imsg);
		break;
	case IMSG_AUTH_SENDER_RESULT:
		if (ch->which == CONNECT_AUTHD)
			rv = smtp_session_sender_result(imsg);
		break;
	case IMSG_QUEUE_MSG_CREATED:
		if (ch->which == CONNECT_QUEUE) {
			rv = smtp_session_msg_created(imsg);
			imsg->fd = -1;		/* taken or closed */
		}
		break;
	case IMSG_QUEUE_MSG_COMMITTED:
		if (ch->which == CONNECT_QUEUE)
			rv = smtp_session_msg_committed(imsg);
		break;
	default:
		break;
	}
	if (imsg->fd != -1)
		close(imsg->fd);
	/*
	 * Fail-stop for the channel, not the engine: the sessions of
	 * every other client go on while the channel is rebuilt.
	 */
	if (rv == -1)
		chan_lost(ch, "malformed or unexpected message");
}
