/*
 * queue.sock: the smtp engines' way into the spool.  Each client is
 * checked with SO_PEERCRED (root, our own uid and the smtp engine's user
 * may ask; the smtp parent connects with the engine's uid), opens with
 * the version handshake and then asks MSG_CREATE, MSG_COMMIT and
 * MSG_ROLLBACK.  Every request here is the smtp engine's, so its role
 * table is that one check at accept: the other roles (mta, lmtp engine)
 * have uids of their own and are turned away there.  A client that
 * sends anything malformed is logged and dropped, with the files it had
 * not committed; the queue goes on serving the others.  A client slow
 * to read its answers is not read either while CLIENT_WQ_HIGH of them
 * wait (the kernel buffer then pushes back on it), and is read again
 * once they drained to CLIENT_WQ_LOW: what it can make the queue hold
 * in memory is bounded.
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

#include "channel.h"
#include "imsg.h"
#include "log.h"
#include "queue.h"
#include "unixsock.h"

#define SERVER_FLUSH_SEC	2	/* for every answer owed, at exit */
#define CLIENT_WQ_HIGH		1024	/* answers queued: stop reading */
#define CLIENT_WQ_LOW		(CLIENT_WQ_HIGH / 2)	/* read again */

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct channel		 ch;
	uid_t			 uid;
	pid_t			 pid;
	int			 paused;	/* not read: answers wait */
	int			 dead;
};

static const struct channel_type server_types[] = {
	{ IMSG_QUEUE_MSG_CREATE, 0 },
	{ IMSG_QUEUE_MSG_COMMIT, 0 },
	{ IMSG_QUEUE_MSG_PREPEND, 0 },
	{ IMSG_QUEUE_MSG_ROLLBACK, 0 },
	{ 0, 0 }
};

TAILQ_HEAD(client_list, client);

static struct client_list	 clients = TAILQ_HEAD_INITIALIZER(clients);
static struct channel_server	 server;
static uid_t			 allowed_smtpd = (uid_t)-1;

/* Forget a client (its memory goes on the next loop turn). */
static void
client_close(struct client *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	spool_release_owner(c);
	channel_close(&c->ch);
	TAILQ_REMOVE(&clients, c, entry);
	channel_free_later(c);
}

static void
client_bad(struct client *c, const char *what)
{
	log_warnx("client uid %u pid %d: %s, closing", (unsigned)c->uid,
	    (int)c->pid, what);
	client_close(c);
}

static void
send_created(struct client *c, uint64_t reqid, int status, const char *id,
    int fd)
{
	struct msg_queue_msg_created	 m = { .id = reqid, .status = status,
	    .msgid = id };
	struct ibuf			*b;

	if ((b = msg_queue_msg_created_pack(&m, fd)) == NULL && fd != -1)
		close(fd);
	if (channel_send(&c->ch, b) == -1)
		client_bad(c, "cannot answer MSG_CREATE");
}

static void
client_create(struct client *c, struct msg_queue_msg_create *m)
{
	char		 id[MSGID_LEN + 1];
	int		 fd;

	if (spool_reserve(c, id, sizeof(id), &fd) == -1) {
		send_created(c, m->id, QUEUE_TEMPFAIL, "", -1);
		return;
	}
	log_debug("%s: created", id);
	send_created(c, m->id, QUEUE_OK, id, fd);
}

static void
commit_answer(void *arg, uint64_t reqid, int status)
{
	struct client			*c = arg;
	struct msg_queue_msg_committed	 m = { .id = reqid, .status = status };

	if (channel_send(&c->ch, msg_queue_msg_committed_pack(&m, -1)) == -1)
		client_bad(c, "cannot answer MSG_COMMIT");
}

/*
 * The envelope of a commit (well formed: the channel checked it): 1 if
 * invalid (QUEUE_INVALID), 0 if fine.
 */
static int
read_commit(struct imsg *imsg, struct msg_queue_msg_commit *m,
    struct envelope *env)
{
	struct rec_commit_rcpt	 e;
	int			 invalid = 0;

	strlcpy(env->id, m->msgid, sizeof(env->id));
	strlcpy(env->sender, m->sender, sizeof(env->sender));
	strlcpy(env->helo, m->helo, sizeof(env->helo));
	strlcpy(env->client, m->client, sizeof(env->client));
	strlcpy(env->auth, m->auth, sizeof(env->auth));
	env->body = m->body;
	env->smtputf8 = m->smtputf8;
	if (env->body > 2 || env->smtputf8 > 1 || m->rcpts.n == 0)
		invalid = 1;
	while (rec_commit_rcpt_next(imsg, &m->rcpts, &e) == 0) {
		if (e.rcpt[0] == '\0')
			invalid = 1;
		else if (envelope_add_rcpt(env, e.rcpt, e.orcpt, e.flags) ==
		    NULL)
			invalid = 1;
	}
	/* On hold: a milter quarantined it. */
	if (m->held > 1)
		invalid = 1;
	env->held = m->held;
	return invalid;
}

static void
client_commit(struct client *c, struct imsg *imsg,
    struct msg_queue_msg_commit *m)
{
	struct envelope	 env;

	envelope_init(&env);
	if (read_commit(imsg, m, &env) == 1) {
		log_warnx("%s: invalid envelope refused", env.id);
		envelope_clear(&env);
		commit_answer(c, m->id, QUEUE_INVALID);
		return;
	}
	spool_commit(c, &env, m->id, commit_answer, c);
}

static void
client_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct client	*c = arg;

	if (c->dead)
		return;
	switch (imsg->hdr.type) {
	case IMSG_QUEUE_MSG_CREATE:
		client_create(c, &m->queue_msg_create);
		break;
	case IMSG_QUEUE_MSG_COMMIT:
		client_commit(c, imsg, &m->queue_msg_commit);
		break;
	case IMSG_QUEUE_MSG_ROLLBACK:
		spool_release(c, m->queue_msg_rollback.msgid);
		break;
	case IMSG_QUEUE_MSG_PREPEND:
		spool_prepend(c, m->queue_msg_prepend.msgid,
		    m->queue_msg_prepend.fields);
		break;
	}
	if (!c->dead && !c->paused &&
	    channel_queued(&c->ch) >= CLIENT_WQ_HIGH) {
		log_debug("client uid %u pid %d: %zu answers not read, "
		    "pausing", (unsigned)c->uid, (int)c->pid,
		    channel_queued(&c->ch));
		c->paused = 1;
		channel_pause(&c->ch);
	}
}

/* Its answers went out: read it again. */
static void
client_drained(struct channel *ch, void *arg)
{
	struct client	*c = arg;

	if (c->dead || !c->paused)
		return;
	c->paused = 0;
	channel_resume(&c->ch);
}

/* Gone, or dropped for breaking the protocol (logged by the channel). */
static void
client_down(struct channel *ch, void *arg)
{
	struct client	*c = arg;

	log_debug("client uid %u pid %d gone", (unsigned)c->uid,
	    (int)c->pid);
	client_close(c);
}

static const struct channel_cbs client_cbs = {
	.dispatch = client_dispatch,
	.down = client_down,
	.drained = client_drained,
};

static void
server_accepted(struct channel_server *srv, int fd, const struct ucred *cred,
    void *arg)
{
	struct client	*c;
	struct ucred	 checked;
	char		 name[CHANNEL_NAME_MAX];

	if (unixsock_peer_check(fd, &allowed_smtpd,
	    allowed_smtpd != (uid_t)-1, "queue.sock", "use the queue",
	    &checked) == -1) {
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept");
		close(fd);
		return;
	}
	c->uid = cred->uid;
	c->pid = cred->pid;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	snprintf(name, sizeof(name), "client uid %u pid %d",
	    (unsigned)c->uid, (int)c->pid);
	channel_init(&c->ch, name, "tsamba-queue", server_types, &client_cbs,
	    c);
	channel_set_drain(&c->ch, CLIENT_WQ_LOW);
	channel_attach(&c->ch, fd);
	log_info("client uid %u pid %d connected", (unsigned)cred->uid,
	    (int)cred->pid);
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
		if (c->dead || channel_queued(&c->ch) == 0)
			continue;
		if (imsgbuf_flush_until(&c->ch.iev.ibuf, &deadline) == -1)
			log_warn("client uid %u pid %d: %zu answers not "
			    "written", (unsigned)c->uid, (int)c->pid,
			    channel_queued(&c->ch));
	}
}

void
server_init(int listenfd, uid_t smtpd_uid)
{
	allowed_smtpd = smtpd_uid;
	if (fcntl(listenfd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl queue.sock");
	channel_server_init(&server, listenfd, "queue.sock", server_accepted,
	    NULL);
}
