/*
 * The parent's side of the Maildir writers: spawn them on demand, a few
 * per mailbox owner (uid, gid), route each DELIVER from the engine to one
 * of them and each DELIVERED back.  A writer that dies takes nothing with
 * it: its pending deliveries are answered with a temporary failure and
 * the next request spawns a new one.  There are at most "limit
 * lmtp-writers" in all, and one idle for "timeout lmtp-writer-idle" is
 * stopped.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "drain.h"
#include "imsg.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "lmtpd.h"
#include "lmtp_owner.h"

/* A delivery the writer has: its request, and the engine's id. */
struct pending {
	struct channel_req	 creq;
	struct writer		*w;
	uint64_t		 id;
};

struct writer {
	TAILQ_ENTRY(writer)	 entry;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	int			 reaped;	/* pid may be reused */
	int			 retired;	/* stopped by us */
	struct channel		 ch;
	unsigned int		 npending;
	struct event		 ev_idle;
};

static const struct channel_type writer_types[] = {
	{ IMSG_LMTP_DELIVERED, CHANNEL_ANSWER },
	{ 0, 0 }
};

static TAILQ_HEAD(, writer)	 writers = TAILQ_HEAD_INITIALIZER(writers);
static struct lmtp_owner_policy	 owners;
static unsigned int		 nwriters;

static struct writer	*writer_pick(uid_t, gid_t);
static struct writer	*writer_spawn(uid_t, gid_t);
static void		 writer_answer(struct channel_req *, struct imsg *,
			    union imsg_msg *);
static void		 writer_late(struct channel *, struct imsg *,
			    union imsg_msg *, void *);
static void		 writer_gone(struct channel *, void *);
static void		 reply_engine(uint64_t, int, const char *);
static void		 writer_idle(int, short, void *);
static void		 writer_idle_arm(struct writer *);
static int		 writer_retire_idle(void);

static const struct channel_cbs writer_cbs = {
	.dispatch = writer_late,
	.down = writer_gone,
};

/*
 * The vmail user, whose mailboxes are those without ids of their own
 * (as authd resolves it).  Not root: authd and the writers run as us.
 */
void
writers_init(void)
{
	if (priv_lookup(conf->user_vmail, &owners.vmail_uid,
	    &owners.vmail_gid) == 0)
		return;
	if (geteuid() == 0) {
		log_warnx("user %s does not exist: only mailboxes with ids "
		    "of their own can be delivered to", conf->user_vmail);
		owners.vmail_uid = 0;
		owners.vmail_gid = 0;
		return;
	}
	owners.vmail_uid = getuid();
	owners.vmail_gid = getgid();
}

void
writers_deliver(struct imsg *imsg, struct msg_lmtp_deliver *m)
{
	struct msg_lmtp_deliver	 fwd = *m;
	struct writer		*w;
	struct pending		*p;

	if (imsg->fd == -1)
		fatalx("engine sent a DELIVER without a message");
	/* Stopping: only what the writers have already is waited for. */
	if (drain_active()) {
		reply_engine(m->id, DELIVER_TEMPFAIL,
		    "451 4.3.2 Shutting down, try again later");
		return;
	}
	/*
	 * The engine is not trusted with the ids: only those authd can
	 * give (lmtp_owner.c), never root or a system account.
	 */
	if (!lmtp_owner_allowed(&owners, m->uid, m->gid)) {
		log_warnx("refusing delivery to %s as uid %u gid %u: not "
		    "the vmail user nor in %u..%u", m->maildir, m->uid,
		    m->gid, LMTP_OWNER_ID_MIN, LMTP_OWNER_ID_MAX);
		reply_engine(m->id, DELIVER_TEMPFAIL,
		    "451 4.3.0 Mailbox owner refused");
		return;
	}
	if ((w = writer_pick(m->uid, m->gid)) == NULL) {
		reply_engine(m->id, DELIVER_TEMPFAIL,
		    "451 4.3.0 Cannot start a delivery process");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("calloc");
	p->w = w;
	p->id = m->id;
	fwd.id = channel_req_add(&w->ch, &p->creq, 0, writer_answer, p);
	if (channel_send(&w->ch, msg_lmtp_deliver_pack(&fwd, imsg->fd)) ==
	    -1)
		fatalx("DELIVER to writer");
	imsg->fd = -1;
	w->npending++;
	evtimer_del(&w->ev_idle);
	log_debug("delivery to %s handed to writer %d", m->maildir,
	    (int)w->pid);
}

/* An idle writer of this owner, else a new one, else the least busy. */
static struct writer *
writer_pick(uid_t uid, gid_t gid)
{
	struct writer	*w, *best = NULL;
	unsigned int	 n = 0;

	TAILQ_FOREACH(w, &writers, entry) {
		if (w->uid != uid || w->gid != gid)
			continue;
		if (w->npending == 0)
			return w;
		if (best == NULL || w->npending < best->npending)
			best = w;
		n++;
	}
	if (n >= WRITERS_PER_OWNER)
		return best;
	/* All writers busy or idle elsewhere: room is made from the idle. */
	if (nwriters >= conf->lmtp_max_writers && !writer_retire_idle()) {
		if (best == NULL)
			log_warnx("uid %u: all %u writers busy (limit "
			    "lmtp-writers)", (unsigned)uid, nwriters);
		return best;
	}
	if ((w = writer_spawn(uid, gid)) != NULL)
		return w;
	return best;
}

/* Stop one idle writer (of another owner: ours are all busy). */
static int
writer_retire_idle(void)
{
	struct writer	*w;

	TAILQ_FOREACH(w, &writers, entry)
		if (w->npending == 0) {
			writer_idle(-1, 0, w);
			return 1;
		}
	return 0;
}

/*
 * A writer with nothing to do is stopped after "timeout lmtp-writer-idle"
 * so that idle owners hold no process.  The parent, which alone hands
 * out deliveries, decides: no delivery can be on its way to it.  The
 * writer exits on the closed channel (lmtp_writer.c).
 */
static void
writer_idle_arm(struct writer *w)
{
	struct timeval	 tv = { conf->lmtp_writer_idle, 0 };

	evtimer_add(&w->ev_idle, &tv);
}

static void
writer_idle(int fd, short ev, void *arg)
{
	struct writer	*w = arg;

	log_debug("writer %d for uid %u idle, stopping it", (int)w->pid,
	    (unsigned)w->uid);
	w->retired = 1;
	channel_close(&w->ch);
}

static struct writer *
writer_spawn(uid_t uid, gid_t gid)
{
	struct writer	*w, *o;
	int		 sp[2];
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == -1) {
		log_warn("socketpair");
		return NULL;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("fork");
		close(sp[0]);
		close(sp[1]);
		return NULL;
	case 0:
		close(sp[0]);
		parent_forget();
		TAILQ_FOREACH(o, &writers, entry)
			close(o->ch.iev.ibuf.fd);
		writer_main(sp[1], uid, gid);
	default:
		break;
	}
	close(sp[1]);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("calloc");
	w->uid = uid;
	w->gid = gid;
	w->pid = pid;
	evtimer_set(&w->ev_idle, writer_idle, w);
	nwriters++;
	channel_init(&w->ch, "writer", "lmtpd parent", writer_types,
	    &writer_cbs, w);
	channel_attach(&w->ch, sp[0]);
	TAILQ_INSERT_TAIL(&writers, w, entry);
	log_debug("writer %d started for uid %u gid %u", (int)pid,
	    (unsigned)uid, (unsigned)gid);
	return w;
}

static void
writer_answer(struct channel_req *cr, struct imsg *imsg, union imsg_msg *m)
{
	struct pending	*p = cr->arg;

	if (--p->w->npending == 0 && !p->w->retired)
		writer_idle_arm(p->w);
	/*
	 * No answer: the writer died.  The message may or may not be on
	 * disk: a temporary failure makes the client retry, a duplicate
	 * at worst.
	 */
	if (imsg == NULL)
		reply_engine(p->id, DELIVER_TEMPFAIL,
		    "451 4.3.0 Delivery process died");
	else
		reply_engine(p->id, m->lmtp_delivered.status,
		    m->lmtp_delivered.text);
	free(p);
}

/* An answer to no delivery: the writer is confused, so stop. */
static void
writer_late(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct writer	*w = arg;

	fatalx("writer %d answered unknown delivery %llu", (int)w->pid,
	    (unsigned long long)m->lmtp_delivered.id);
}

/* The channel is gone; its deliveries have failed already. */
static void
writer_gone(struct channel *ch, void *arg)
{
	struct writer	*w = arg;

	if (!w->retired)
		log_warnx("writer %d for uid %u gone", (int)w->pid,
		    (unsigned)w->uid);
	evtimer_del(&w->ev_idle);
	TAILQ_REMOVE(&writers, w, entry);
	nwriters--;
	/* Only a pid not yet reaped is surely still ours. */
	if (!w->reaped)
		kill(w->pid, SIGTERM);
	channel_free_later(w);
}

static void
reply_engine(uint64_t id, int status, const char *text)
{
	struct msg_lmtp_delivered	 m = { .id = id, .status = status,
	    .text = text };

	parent_send_engine(msg_lmtp_delivered_pack(&m, -1));
}

/* SIGCHLD reaped pid: forget it (its channel reports the loss). */
void
writers_reaped(pid_t pid)
{
	struct writer	*w;

	TAILQ_FOREACH(w, &writers, entry)
		if (w->pid == pid)
			w->reaped = 1;
}

/* Deliveries the writers have not answered yet. */
unsigned int
writers_pending(void)
{
	struct writer	*w;
	unsigned int	 n = 0;

	TAILQ_FOREACH(w, &writers, entry)
		n += w->npending;
	return n;
}

void
writers_kill(void)
{
	struct writer	*w;

	TAILQ_FOREACH(w, &writers, entry)
		if (!w->reaped)
			kill(w->pid, SIGTERM);
}
