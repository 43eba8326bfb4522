/*
 * The lmtp engine process: unprivileged and chrooted, it accepts LMTP
 * connections on the listeners the parent passes, and carries the
 * sessions' requests to authd (LOOKUP_USER) and to the writers (DELIVER,
 * through the parent), each a request of its channel (lib/channel.c):
 * the answer finds its session through the id, a channel that drops
 * fails what it carried, and a session that went away leaves an orphan
 * request whose answer is dropped.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "daemon.h"
#include "drain.h"
#include "imsg.h"
#include "listener.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "unixsock.h"
#include "stats.h"
#include "lmtpd.h"

enum request_kind {
	REQ_LOOKUP,
	REQ_DELIVER,
};

/*
 * A lookup or a delivery, registered with its channel (authd, or the
 * parent for the writers) from the moment it is sent until its answer
 * or its failure; a lookup waits in auth_waiting while the authd channel
 * is being connected.
 */
struct request {
	struct channel_req	 creq;
	TAILQ_ENTRY(request)	 wait;		/* for the authd channel */
	enum request_kind	 kind;
	struct lmtp_session	*session;	/* NULL once orphaned */
	size_t			 rcpt;
	char			 mailbox[ADDR_MAX];
};

static const struct channel_type parent_types[] = {
	{ IMSG_LMTP_LISTENER, 0 },
	{ IMSG_LMTP_CONNECTED, 0 },
	{ IMSG_LMTP_DELIVERED, CHANNEL_ANSWER },
	{ 0, 0 }
};
static const struct channel_type auth_types[] = {
	{ IMSG_AUTH_USER_RESULT, CHANNEL_ANSWER },
	{ 0, 0 }
};

static void	engine_sig(int, short, void *);
static void	engine_dispatch_parent(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	engine_parent_down(struct channel *, void *);
static void	engine_listener(int);
static void	engine_accept(int, struct sockaddr_storage *, socklen_t,
		    void *);
static void	auth_connect(struct channel *, void *);
static void	auth_connected(struct imsg *, struct msg_lmtp_connected *);
static void	auth_send(struct request *);
static void	auth_fail_waiting(void);
static void	auth_result(struct channel_req *, struct imsg *,
		    union imsg_msg *);
static void	deliver_result(struct channel_req *, struct imsg *,
		    union imsg_msg *);
static struct request *request_new(struct lmtp_session *, int);

static const struct channel_cbs parent_cbs = {
	.dispatch = engine_dispatch_parent,
	.down = engine_parent_down,
};
/* The parent connects authd for us: the chroot has no auth.sock. */
static const struct channel_cbs auth_cbs = {
	.connect = auth_connect,
};

static struct channel		 parent_ch, auth_ch;
static TAILQ_HEAD(, request)	 auth_waiting =
    TAILQ_HEAD_INITIALIZER(auth_waiting);
static int			 auth_asked;	/* a CONNECT is out */
static unsigned int		 nsessions;
static struct event		 ev_sigs[2];

void
engine_main(int fd)
{
	static const int	 sigs[] = { SIGTERM, SIGINT };

	log_procname("lmtp");
	priv_drop(conf->user_lmtpd, conf->chroot, "lmtp");
	/* Every exit, fatal or asked for, sends the replies owed first. */
	if (atexit(lmtp_session_flush_all) != 0)
		fatalx("atexit");

	signal(SIGHUP, SIG_IGN);
	event_init();
	daemon_signals(ev_sigs, sigs, 2, engine_sig);

	channel_init(&parent_ch, "parent", "lmtp engine", parent_types,
	    &parent_cbs, NULL);
	channel_attach(&parent_ch, fd);
	channel_init(&auth_ch, "authd", "lmtp engine", auth_types, &auth_cbs,
	    NULL);
	channel_start(&auth_ch, NULL);

	event_dispatch();
	exit(0);
}

/* Deliveries sent to the parent and not answered yet. */
static unsigned int
engine_owed(void)
{
	return channel_req_count(&parent_ch);
}

/*
 * SIGTERM: a delivery under way may be in new/ already; its 250 is
 * waited for (the parent drains its writers too) and written out by
 * atexit() before the engine exits, else the client would deliver the
 * message again.  No new session or command is taken meanwhile.
 */
static void
engine_sig(int sig, short event, void *arg)
{
	if (drain_active())
		return;
	log_debug("engine exiting on signal %d", sig);
	lmtp_session_stop_all();
	drain_start("deliveries", engine_owed, LMTPD_EXIT_DRAIN_SEC, NULL, 0);
}

static void
engine_dispatch_parent(struct channel *ch, struct imsg *imsg,
    union imsg_msg *m, void *arg)
{
	switch (imsg->hdr.type) {
	case IMSG_LMTP_LISTENER:
		if (imsg->fd == -1)
			fatalx("LISTENER without a socket");
		engine_listener(imsg->fd);
		imsg->fd = -1;
		break;
	case IMSG_LMTP_CONNECTED:
		auth_connected(imsg, &m->lmtp_connected);
		break;
	default:
		/* A DELIVERED for no delivery: the parent is confused. */
		fatalx("unexpected %s from parent",
		    imsg_type_name(imsg->hdr.type));
	}
}

static void
engine_parent_down(struct channel *ch, void *arg)
{
	fatalx("parent gone");
}

/* Listeners */

static void
engine_listener(int fd)
{
	listener_start(listener_new(fd, engine_accept, NULL));
}

/*
 * The LMTP socket is for the queue and the users of "allow": any other
 * local user would bypass smtpd.  A refused client hears a 421 (its mail
 * stays queued on its side until the admin allows it) and is logged.
 * TCP listeners are not checked: their access is the admin's firewall.
 */
static int
peer_allowed(int s, int *from_queue)
{
	static const char	 refused[] =
	    "421 4.7.0 Not allowed to deliver here\r\n";
	struct ucred		 cred;

	if (unixsock_peer_check(s, lmtp_allowed, nlmtp_allowed, "lmtp.sock",
	    "deliver mail", &cred) == 0) {
		*from_queue = cred.uid == lmtp_queue_uid;
		return 1;
	}
	/* Best effort: the socket buffer takes this one line. */
	(void)write(s, refused, sizeof(refused) - 1);
	close(s);
	return 0;
}

static void
engine_accept(int s, struct sockaddr_storage *ss, socklen_t sslen,
    void *arg)
{
	static const char	 busy[] =
	    "421 4.3.2 Too many sessions, try later\r\n";
	char			 peer[INET6_ADDRSTRLEN + 8];
	int			 from_queue = 0;

	/* Stopping: the listeners stay open only until the exit. */
	if (drain_active()) {
		close(s);
		return;
	}
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr,
		    peer, sizeof(peer));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr,
		    peer, sizeof(peer));
	else {
		strlcpy(peer, "local", sizeof(peer));
		if (!peer_allowed(s, &from_queue))
			return;
	}

	if (nsessions >= conf->max_sessions) {
		/* Best effort: the socket buffer takes this one line. */
		(void)write(s, busy, sizeof(busy) - 1);
		close(s);
		/* The form of tsamba-lmtpd(8), LOGGING. */
		log_warnx("refuse: client=%s%s%s reply=\"%.*s\" "
		    "(session limit %u)", ss->ss_family == AF_UNIX ? "" : "[",
		    peer, ss->ss_family == AF_UNIX ? "" : "]",
		    (int)sizeof(busy) - 3, busy, conf->max_sessions);
		return;
	}
	nsessions++;
	stats_inc(ST_LMTP_CONNECTIONS, 0);
	stats_inc(ST_LMTP_SESSIONS, 0);
	lmtp_session_new(s, peer, from_queue);
}

void
engine_session_closed(void)
{
	nsessions--;
	stats_dec(ST_LMTP_SESSIONS, 0);
	/* A listener paused for want of descriptors may go on. */
	listener_fd_freed();
}

/* Requests */

static struct request *
request_new(struct lmtp_session *s, int kind)
{
	struct request	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->kind = kind;
	r->session = s;
	return r;
}

/* The session goes away: its answer, when it comes, is dropped. */
void
engine_cancel(struct request *r)
{
	if (r != NULL)
		r->session = NULL;
}

/* authd */

struct request *
engine_lookup(struct lmtp_session *s, const char *mailbox)
{
	struct request	*r;

	if ((r = request_new(s, REQ_LOOKUP)) == NULL)
		return NULL;
	strlcpy(r->mailbox, mailbox, sizeof(r->mailbox));
	if (channel_up(&auth_ch)) {
		auth_send(r);
		return r;
	}
	/* Sent once the channel is up, failed if it cannot be. */
	TAILQ_INSERT_TAIL(&auth_waiting, r, wait);
	return r;
}

static void
auth_connect(struct channel *ch, void *arg)
{
	struct msg_lmtp_connect	 m = { .id = 0, .which = CONNECT_AUTHD };

	auth_asked = 1;
	if (channel_send(&parent_ch, msg_lmtp_connect_pack(&m, -1)) == -1)
		fatalx("CONNECT to parent");
}

static void
auth_connected(struct imsg *imsg, struct msg_lmtp_connected *m)
{
	struct request	*r;

	if (m->which != CONNECT_AUTHD || (!m->failed && imsg->fd == -1))
		fatalx("malformed CONNECTED from parent");
	if (!auth_asked)
		fatalx("CONNECTED without a CONNECT");
	auth_asked = 0;
	if (m->failed) {
		log_warnx("authd unreachable");
		auth_fail_waiting();
		channel_connect_failed(&auth_ch);
		return;
	}
	channel_attach(&auth_ch, imsg->fd);
	imsg->fd = -1;
	while (channel_up(&auth_ch) &&
	    (r = TAILQ_FIRST(&auth_waiting)) != NULL) {
		TAILQ_REMOVE(&auth_waiting, r, wait);
		auth_send(r);
	}
	log_debug("connected to authd");
}

static void
lookup_failed(struct request *r)
{
	if (r->session != NULL)
		lmtp_session_lookup_done(r->session, LOOKUP_TEMPFAIL, "", 0, 0,
		    0);
	free(r);
}

/*
 * Without authd no recipient can be checked: a lookup waiting for the
 * channel gets a temporary failure (those in flight fail with the
 * channel, auth_result()).
 */
static void
auth_fail_waiting(void)
{
	TAILQ_HEAD(, request)	 failed = TAILQ_HEAD_INITIALIZER(failed);
	struct request		*r;

	/* Collect first: the answers may start new lookups. */
	TAILQ_CONCAT(&failed, &auth_waiting, wait);
	while ((r = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, r, wait);
		lookup_failed(r);
	}
}

static void
auth_send(struct request *r)
{
	struct msg_auth_lookup_user	 m = { .mailbox = r->mailbox };

	/* A hung authd fails the lookup (451) instead of holding it. */
	m.id = channel_req_add(&auth_ch, &r->creq,
	    conf->timeout_lookup * 1000, auth_result, r);
	if (channel_send(&auth_ch, msg_auth_lookup_user_pack(&m, -1)) ==
	    -1) {
		channel_req_cancel(&r->creq);
		lookup_failed(r);
	}
}

static void
auth_result(struct channel_req *cr, struct imsg *imsg, union imsg_msg *m)
{
	struct request			*r = cr->arg;
	struct msg_auth_user_result	*u;

	if (imsg == NULL) {
		lookup_failed(r);
		return;
	}
	u = &m->auth_user_result;
	if (r->session != NULL)
		lmtp_session_lookup_done(r->session, u->status, u->maildir,
		    u->uid, u->gid, u->quota);
	free(r);
}

/* Deliveries, through the parent to a writer */

struct request *
engine_deliver(struct lmtp_session *s, size_t rcpt, int fd,
    const char *maildir, uint32_t uid, uint32_t gid, uint64_t quota,
    const char *prefix)
{
	struct request		*r;
	struct ibuf		*b;
	struct msg_lmtp_deliver	 m = { .maildir = maildir, .uid = uid,
	    .gid = gid, .quota = quota, .prefix = prefix };

	if ((r = request_new(s, REQ_DELIVER)) == NULL) {
		close(fd);
		return NULL;
	}
	r->rcpt = rcpt;
	m.id = channel_req_add(&parent_ch, &r->creq, 0, deliver_result, r);
	if ((b = msg_lmtp_deliver_pack(&m, fd)) == NULL)
		close(fd);
	if (channel_send(&parent_ch, b) == -1) {
		channel_req_cancel(&r->creq);
		free(r);
		return NULL;
	}
	return r;
}

static void
deliver_result(struct channel_req *cr, struct imsg *imsg, union imsg_msg *m)
{
	struct request	*r = cr->arg;

	/* No answer: the parent is gone, and so are we (fail-stop). */
	if (imsg != NULL && r->session != NULL)
		lmtp_session_delivered(r->session, r->rcpt,
		    m->lmtp_delivered.status, m->lmtp_delivered.text);
	free(r);
}
