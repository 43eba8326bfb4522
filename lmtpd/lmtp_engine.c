/*
 * The lmtp engine process: unprivileged and chrooted, it accepts LMTP
 * connections on the listeners the parent passes, and carries the
 * sessions' requests to authd (LOOKUP_USER) and to the writers (DELIVER,
 * through the parent).  Each request has a u64 id; the answer finds its
 * session through the id, and a session that went away leaves an orphan
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

#include "daemon.h"
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

struct request {
	RB_ENTRY(request)	 tree;
	TAILQ_ENTRY(request)	 wait;		/* for the authd channel */
	uint64_t		 id;
	enum request_kind	 kind;
	struct lmtp_session	*session;	/* NULL once orphaned */
	size_t			 rcpt;
	int			 waiting;	/* in auth_waiting */
	char			 mailbox[ADDR_MAX];
};

RB_HEAD(request_tree, request);

enum auth_state {
	AUTH_DOWN,
	AUTH_CONNECTING,
	AUTH_UP,
};

static int	request_cmp(struct request *, struct request *);
RB_PROTOTYPE(request_tree, request, tree, request_cmp)

static struct request_tree	 requests = RB_INITIALIZER(&requests);
static TAILQ_HEAD(, request)	 auth_waiting =
    TAILQ_HEAD_INITIALIZER(auth_waiting);
static struct imsgev		 parent_iev;
static struct imsgev		 auth_iev;
static enum auth_state		 auth_state = AUTH_DOWN;
static int			 auth_hello;
static uint64_t			 next_id = 1;
static unsigned int		 nsessions;
static struct event		 ev_sigs[2];

static void	engine_sig(int, short, void *);
static void	engine_dispatch_parent(struct imsgev *, struct imsg *,
		    void *);
static void	engine_listener(int);
static void	engine_accept(int, struct sockaddr_storage *, socklen_t,
		    void *);
static void	auth_connect(void);
static void	auth_connected(struct imsg *);
static void	auth_dispatch(struct imsgev *, struct imsg *, void *);
static void	auth_lost(void);
static void	auth_send(struct request *);
static void	auth_result(struct imsg *);
static void	deliver_result(struct imsg *);
static struct request *request_new(struct lmtp_session *, int);
static struct request *request_find(uint64_t);
static void	request_free(struct request *);

static int
request_cmp(struct request *a, struct request *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE(request_tree, request, tree, request_cmp)

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

	imsgev_init(&parent_iev, fd, engine_dispatch_parent, NULL);
	if (imsg_send_hello(&parent_iev.ibuf, "lmtp engine") == -1)
		fatalx("hello to parent");
	auth_connect();
	imsgev_update(&parent_iev);

	event_dispatch();
	exit(0);
}

static void
engine_sig(int sig, short event, void *arg)
{
	exit(0);
}

static void
engine_dispatch_parent(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	static int	 hello;

	if (imsg == NULL)
		fatalx("parent gone");
	if (!hello) {
		if (imsg_check_hello(imsg, "lmtp") == -1)
			exit(1);
		hello = 1;
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_LMTP_LISTENER:
		if (imsg->fd == -1 || imsg_get_end(imsg) == -1)
			fatalx("malformed LISTENER from parent");
		engine_listener(imsg->fd);
		break;
	case IMSG_LMTP_CONNECTED:
		auth_connected(imsg);
		break;
	case IMSG_LMTP_DELIVERED:
		deliver_result(imsg);
		break;
	default:
		fatalx("unexpected imsg type %u from parent", imsg->hdr.type);
	}
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
peer_allowed(int s)
{
	static const char	 refused[] =
	    "421 4.7.0 Not allowed to deliver here\r\n";
	struct ucred		 cred;

	if (unixsock_peer_check(s, lmtp_allowed, nlmtp_allowed, "lmtp.sock",
	    "deliver mail", &cred) == 0)
		return 1;
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

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr,
		    peer, sizeof(peer));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr,
		    peer, sizeof(peer));
	else {
		strlcpy(peer, "local", sizeof(peer));
		if (!peer_allowed(s))
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
	lmtp_session_new(s, peer);
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
	r->id = next_id++;
	r->kind = kind;
	r->session = s;
	RB_INSERT(request_tree, &requests, r);
	return r;
}

static struct request *
request_find(uint64_t id)
{
	struct request	 key;

	key.id = id;
	return RB_FIND(request_tree, &requests, &key);
}

static void
request_free(struct request *r)
{
	RB_REMOVE(request_tree, &requests, r);
	free(r);
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
	if (auth_state == AUTH_UP) {
		auth_send(r);
		return r;
	}
	TAILQ_INSERT_TAIL(&auth_waiting, r, wait);
	r->waiting = 1;
	if (auth_state == AUTH_DOWN)
		auth_connect();
	return r;
}

static void
auth_connect(void)
{
	struct ibuf	*b;

	auth_state = AUTH_CONNECTING;
	if ((b = imsg_create(IMSG_LMTP_CONNECT, 0, -1)) == NULL ||
	    ibuf_add_u64(b, next_id++) == -1 ||
	    ibuf_add_u8(b, CONNECT_AUTHD) == -1 ||
	    imsgev_send(&parent_iev, b) == -1)
		fatalx("CONNECT to parent");
}

static void
auth_connected(struct imsg *imsg)
{
	struct request	*r;
	uint64_t	 id;
	uint8_t		 which, failed;

	if (imsg_get_u64(imsg, &id) == -1 || imsg_get_u8(imsg, &which) == -1 ||
	    imsg_get_u8(imsg, &failed) == -1 || imsg_get_end(imsg) == -1 ||
	    which != CONNECT_AUTHD || (!failed && imsg->fd == -1))
		fatalx("malformed CONNECTED from parent");
	if (auth_state != AUTH_CONNECTING)
		fatalx("CONNECTED without a CONNECT");
	if (failed) {
		if (imsg->fd != -1)
			close(imsg->fd);
		log_warnx("authd unreachable");
		auth_lost();
		return;
	}
	imsgev_init(&auth_iev, imsg->fd, auth_dispatch, NULL);
	auth_hello = 0;
	if (imsg_send_hello(&auth_iev.ibuf, "lmtp engine") == -1)
		fatalx("hello to authd");
	auth_state = AUTH_UP;
	while ((r = TAILQ_FIRST(&auth_waiting)) != NULL) {
		TAILQ_REMOVE(&auth_waiting, r, wait);
		r->waiting = 0;
		auth_send(r);
	}
	imsgev_update(&auth_iev);
	log_debug("connected to authd");
}

static void
auth_send(struct request *r)
{
	struct ibuf	*b;

	if ((b = imsg_create(IMSG_AUTH_LOOKUP_USER, 0, -1)) == NULL ||
	    ibuf_add_u64(b, r->id) == -1 ||
	    ibuf_add_str(b, r->mailbox) == -1 ||
	    imsg_close(&auth_iev.ibuf, b) == -1)
		fatalx("LOOKUP_USER to authd");
	imsgev_update(&auth_iev);
}

static void
auth_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	if (imsg == NULL) {
		log_warnx("lost the authd channel");
		imsgev_clear(&auth_iev);
		auth_lost();
		return;
	}
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
		goto bad;
	}
	if (!auth_hello) {
		if (imsg_check_hello(imsg, "lmtp") == -1)
			goto bad;
		auth_hello = 1;
		return;
	}
	if (imsg->hdr.type != IMSG_AUTH_USER_RESULT)
		goto bad;
	auth_result(imsg);
	return;
 bad:
	/* Fail-stop for this channel: drop it, reconnect on demand. */
	log_warnx("malformed imsg from authd, dropping the channel");
	imsgev_clear(&auth_iev);
	auth_lost();
}

/*
 * Without authd no recipient can be checked: every lookup in flight or
 * waiting gets a temporary failure, and the next one reconnects.
 */
static void
auth_lost(void)
{
	TAILQ_HEAD(, request)	 failed = TAILQ_HEAD_INITIALIZER(failed);
	struct request		*r, *next;

	/* Collect first: the answers may start new lookups. */
	auth_state = AUTH_DOWN;
	TAILQ_CONCAT(&failed, &auth_waiting, wait);
	for (r = RB_MIN(request_tree, &requests); r != NULL; r = next) {
		next = RB_NEXT(request_tree, &requests, r);
		if (r->kind == REQ_LOOKUP && !r->waiting)
			TAILQ_INSERT_TAIL(&failed, r, wait);
	}
	while ((r = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, r, wait);
		if (r->session != NULL)
			lmtp_session_lookup_done(r->session, LOOKUP_TEMPFAIL,
			    "", 0, 0, 0);
		request_free(r);
	}
}

static void
auth_result(struct imsg *imsg)
{
	char		 maildir[PATH_MAX];
	struct request	*r;
	uint64_t	 id, quota;
	uint32_t	 uid, gid;
	uint8_t		 status;

	if (imsg_get_u64(imsg, &id) == -1 ||
	    imsg_get_u8(imsg, &status) == -1 ||
	    imsg_get_str(imsg, maildir, sizeof(maildir)) == -1 ||
	    imsg_get_u32(imsg, &uid) == -1 || imsg_get_u32(imsg, &gid) == -1 ||
	    imsg_get_u64(imsg, &quota) == -1 || imsg_get_end(imsg) == -1 ||
	    (r = request_find(id)) == NULL || r->kind != REQ_LOOKUP) {
		log_warnx("malformed USER_RESULT from authd");
		imsgev_clear(&auth_iev);
		auth_lost();
		return;
	}
	if (r->session != NULL)
		lmtp_session_lookup_done(r->session, status, maildir, uid, gid,
		    quota);
	request_free(r);
}

/* Deliveries, through the parent to a writer */

struct request *
engine_deliver(struct lmtp_session *s, size_t rcpt, int fd,
    const char *maildir, uint32_t uid, uint32_t gid, uint64_t quota,
    const char *prefix)
{
	struct request	*r;
	struct ibuf	*b;

	if ((r = request_new(s, REQ_DELIVER)) == NULL) {
		close(fd);
		return NULL;
	}
	r->rcpt = rcpt;
	if ((b = imsg_create(IMSG_LMTP_DELIVER, 0, fd)) == NULL) {
		close(fd);
		request_free(r);
		return NULL;
	}
	if (ibuf_add_u64(b, r->id) == -1 || ibuf_add_str(b, maildir) == -1 ||
	    ibuf_add_u32(b, uid) == -1 || ibuf_add_u32(b, gid) == -1 ||
	    ibuf_add_u64(b, quota) == -1 || ibuf_add_str(b, prefix) == -1 ||
	    imsgev_send(&parent_iev, b) == -1) {
		request_free(r);
		return NULL;
	}
	return r;
}

static void
deliver_result(struct imsg *imsg)
{
	char		 text[LMTP_REPLY_MAX];
	struct request	*r;
	uint64_t	 id;
	uint8_t		 status;

	if (imsg->fd != -1 || imsg_get_u64(imsg, &id) == -1 ||
	    imsg_get_u8(imsg, &status) == -1 ||
	    imsg_get_str(imsg, text, sizeof(text)) == -1 ||
	    imsg_get_end(imsg) == -1 ||
	    (r = request_find(id)) == NULL || r->kind != REQ_DELIVER)
		fatalx("malformed DELIVERED from parent");
	if (r->session != NULL)
		lmtp_session_delivered(r->session, r->rcpt, status, text);
	request_free(r);
}
