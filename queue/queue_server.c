/*
 * queue.sock: the smtp engines' way into the spool.  Each client is
 * checked with SO_PEERCRED (root, our own uid and the smtp engine's user
 * may ask; the smtp parent connects with the engine's uid), opens with
 * the version handshake and then asks MSG_CREATE, MSG_COMMIT and
 * MSG_ROLLBACK.  Every request here is the smtp engine's, so its role
 * table is that one check at accept: the other roles (mta, lmtp engine)
 * have uids of their own and are turned away there.  A client that
 * sends anything malformed is logged and dropped, with the files it had
 * not committed; the queue goes on serving the others.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "queue.h"
#include "unixsock.h"

#define SERVER_FLUSH_SEC	2	/* for every answer owed, at exit */

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct imsgev		 iev;
	uid_t			 uid;
	pid_t			 pid;
	int			 hello;
	int			 dead;
};

TAILQ_HEAD(client_list, client);

static struct client_list	 clients = TAILQ_HEAD_INITIALIZER(clients);
static struct client_list	 graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static struct event		 accept_ev, reap_ev;
static uid_t			 allowed_smtpd = (uid_t)-1;

static void
client_reap(int fd, short ev, void *arg)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		free(c);
	}
}

/*
 * Forget a client.  From inside its handler the imsgev still looks at
 * itself after we return, so the memory goes on the next loop turn.
 */
static void
client_close(struct client *c, int now)
{
	struct timeval	 tv = { 0, 0 };

	if (c->dead)
		return;
	c->dead = 1;
	spool_release_owner(c);
	imsgev_clear(&c->iev);
	TAILQ_REMOVE(&clients, c, entry);
	if (now) {
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	evtimer_add(&reap_ev, &tv);
}

static void
client_bad(struct client *c, const char *what)
{
	log_warnx("client uid %u pid %d: %s, closing", (unsigned)c->uid,
	    (int)c->pid, what);
	client_close(c, 0);
}

static void
send_created(struct client *c, uint64_t reqid, int status, const char *id,
    int fd)
{
	struct ibuf	*b;

	if ((b = imsg_create(IMSG_QUEUE_MSG_CREATED, 0, fd)) == NULL) {
		if (fd != -1)
			close(fd);
		client_bad(c, "cannot answer MSG_CREATE");
		return;
	}
	/* An add that fails marks b; imsgev_send() then frees it. */
	ibuf_add_u64(b, reqid);
	ibuf_add_u8(b, status);
	ibuf_add_str(b, id);
	if (imsgev_send(&c->iev, b) == -1)
		client_bad(c, "cannot answer MSG_CREATE");
}

static void
client_create(struct client *c, struct imsg *imsg)
{
	uint64_t	 reqid;
	char		 id[MSGID_LEN + 1];
	int		 fd;

	if (imsg_get_u64(imsg, &reqid) == -1 || imsg_get_end(imsg) == -1) {
		client_bad(c, "malformed MSG_CREATE");
		return;
	}
	if (spool_reserve(c, id, sizeof(id), &fd) == -1) {
		send_created(c, reqid, QUEUE_TEMPFAIL, "", -1);
		return;
	}
	log_debug("%s: created", id);
	send_created(c, reqid, QUEUE_OK, id, fd);
}

static void
commit_answer(void *arg, uint64_t reqid, int status)
{
	struct client	*c = arg;
	struct ibuf	*b;

	if ((b = imsg_create(IMSG_QUEUE_MSG_COMMITTED, 0, -1)) == NULL) {
		client_bad(c, "cannot answer MSG_COMMIT");
		return;
	}
	ibuf_add_u64(b, reqid);
	ibuf_add_u8(b, status);
	if (imsgev_send(&c->iev, b) == -1)
		client_bad(c, "cannot answer MSG_COMMIT");
}

/*
 * Read the envelope of a commit.  -1: malformed encoding (the client is
 * dropped); 1: well formed but invalid (QUEUE_INVALID); 0: fine.
 */
static int
read_commit(struct imsg *imsg, uint64_t *reqid, struct envelope *env)
{
	char		 addr[ADDR_MAX + 1], orcpt[ADDR_MAX + 1];
	uint32_t	 n, i;
	uint8_t		 flags, held = 0;
	int		 invalid = 0;

	if (imsg_get_u64(imsg, reqid) == -1 ||
	    imsg_get_str(imsg, env->id, sizeof(env->id)) == -1 ||
	    imsg_get_str(imsg, env->sender, sizeof(env->sender)) == -1 ||
	    imsg_get_str(imsg, env->helo, sizeof(env->helo)) == -1 ||
	    imsg_get_str(imsg, env->client, sizeof(env->client)) == -1 ||
	    imsg_get_u8(imsg, &env->body) == -1 ||
	    imsg_get_u8(imsg, &env->smtputf8) == -1 ||
	    imsg_get_u32(imsg, &n) == -1)
		return -1;
	if (env->body > 2 || env->smtputf8 > 1 || n == 0)
		invalid = 1;
	for (i = 0; i < n; i++) {
		if (imsg_get_str(imsg, addr, sizeof(addr)) == -1 ||
		    imsg_get_str(imsg, orcpt, sizeof(orcpt)) == -1 ||
		    imsg_get_u8(imsg, &flags) == -1)
			return -1;
		if (addr[0] == '\0')
			invalid = 1;
		else if (envelope_add_rcpt(env, addr, orcpt, flags) == NULL)
			invalid = 1;
	}
	/* The SMTP AUTH user came later: an older engine leaves it out. */
	if (imsg->rpos < imsg->len &&
	    imsg_get_str(imsg, env->auth, sizeof(env->auth)) == -1)
		return -1;
	/* On hold (a milter's quarantine): an older engine leaves it out. */
	if (imsg->rpos < imsg->len && imsg_get_u8(imsg, &held) == -1)
		return -1;
	if (held > 1)
		invalid = 1;
	env->held = held;
	if (imsg_get_end(imsg) == -1)
		return -1;
	return invalid;
}

static void
client_commit(struct client *c, struct imsg *imsg)
{
	struct envelope	 env;
	uint64_t	 reqid = 0;
	int		 rv;

	envelope_init(&env);
	if ((rv = read_commit(imsg, &reqid, &env)) == -1) {
		envelope_clear(&env);
		client_bad(c, "malformed MSG_COMMIT");
		return;
	}
	if (rv == 1) {
		log_warnx("%s: invalid envelope refused", env.id);
		envelope_clear(&env);
		commit_answer(c, reqid, QUEUE_INVALID);
		return;
	}
	spool_commit(c, &env, reqid, commit_answer, c);
}

static void
client_rollback(struct client *c, struct imsg *imsg)
{
	uint64_t	 reqid;
	char		 id[MSGID_LEN + 1];

	if (imsg_get_u64(imsg, &reqid) == -1 ||
	    imsg_get_str(imsg, id, sizeof(id)) == -1 ||
	    imsg_get_end(imsg) == -1) {
		client_bad(c, "malformed MSG_ROLLBACK");
		return;
	}
	spool_release(c, id);
}

static void
client_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	struct client	*c = arg;

	if (imsg == NULL) {
		log_debug("client uid %u pid %d gone", (unsigned)c->uid,
		    (int)c->pid);
		client_close(c, 1);
		return;
	}
	if (c->dead)
		return;
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
		client_bad(c, "unexpected file descriptor");
		return;
	}
	if (!c->hello) {
		if (imsg_check_hello(imsg, "queue.sock") == -1) {
			client_bad(c, "no valid hello");
			return;
		}
		c->hello = 1;
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_QUEUE_MSG_CREATE:
		client_create(c, imsg);
		break;
	case IMSG_QUEUE_MSG_COMMIT:
		client_commit(c, imsg);
		break;
	case IMSG_QUEUE_MSG_ROLLBACK:
		client_rollback(c, imsg);
		break;
	default:
		client_bad(c, "unexpected message type");
		break;
	}
}

static void
server_accept(int lfd, short ev, void *arg)
{
	struct client	*c;
	struct ucred	 cred;
	int		 fd;

	if ((fd = unixsock_accept(lfd, &allowed_smtpd,
	    allowed_smtpd != (uid_t)-1, "queue.sock", "use the queue",
	    &cred)) == -1)
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept");
		close(fd);
		return;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	imsgev_init(&c->iev, fd, client_dispatch, c);
	if (imsg_send_hello(&c->iev.ibuf, "tsamba-queue") == -1) {
		client_close(c, 1);
		return;
	}
	imsgev_update(&c->iev);
	log_info("client uid %u pid %d connected", (unsigned)cred.uid,
	    (int)cred.pid);
}

/*
 * The queue process is going down, whatever the reason (the mta or the
 * parent lost, a fatal error, SIGTERM): the answers already queued, a
 * MSG_COMMITTED for a message now in queue/ above all, are written out
 * first.  A client that never hears that 250 tells its SMTP client 451
 * and the message comes again: a duplicate.  Bounded, so that a client
 * that does not read cannot hold the exit.
 */
void
server_flush(void)
{
	struct client	*c;
	struct timespec	 deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += SERVER_FLUSH_SEC;
	TAILQ_FOREACH(c, &clients, entry) {
		if (c->dead || c->iev.ibuf.wqlen == 0)
			continue;
		if (imsgbuf_flush_until(&c->iev.ibuf, &deadline) == -1)
			log_warn("client uid %u pid %d: %zu answers not "
			    "written", (unsigned)c->uid, (int)c->pid,
			    c->iev.ibuf.wqlen);
	}
}

void
server_init(int listenfd, uid_t smtpd_uid)
{
	allowed_smtpd = smtpd_uid;
	if (fcntl(listenfd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl queue.sock");
	evtimer_set(&reap_ev, client_reap, NULL);
	event_set(&accept_ev, listenfd, EV_READ | EV_PERSIST, server_accept,
	    NULL);
	if (event_add(&accept_ev, NULL) == -1)
		fatal("event_add queue.sock");
}
