/*
 * The parent's side of the Maildir writers: spawn them on demand, a few
 * per mailbox owner (uid, gid), route each DELIVER from the engine to one
 * of them and each DELIVERED back.  A writer that dies takes nothing with
 * it: its pending deliveries are answered with a temporary failure and
 * the next request spawns a new one.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "lmtpd.h"

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	uint64_t		 id;
};

struct writer {
	TAILQ_ENTRY(writer)	 entry;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	int			 reaped;	/* pid may be reused */
	int			 hello;
	struct imsgev		 iev;
	TAILQ_HEAD(, pending)	 pending;
	unsigned int		 npending;
};

static TAILQ_HEAD(, writer)	 writers = TAILQ_HEAD_INITIALIZER(writers);

static struct writer	*writer_pick(uid_t, gid_t);
static struct writer	*writer_spawn(uid_t, gid_t);
static void		 writer_dispatch(struct imsgev *, struct imsg *,
			    void *);
static void		 writer_gone(struct writer *);
static void		 reply_engine(uint64_t, int, const char *);

void
writers_deliver(struct imsg *imsg)
{
	char		 maildir[PATH_MAX], prefix[LMTP_PREFIX_MAX];
	struct writer	*w;
	struct pending	*p;
	struct ibuf	*b;
	uint64_t	 id, quota;
	uint32_t	 uid, gid;

	if (imsg->fd == -1 || imsg_get_u64(imsg, &id) == -1 ||
	    imsg_get_str(imsg, maildir, sizeof(maildir)) == -1 ||
	    imsg_get_u32(imsg, &uid) == -1 || imsg_get_u32(imsg, &gid) == -1 ||
	    imsg_get_u64(imsg, &quota) == -1 ||
	    imsg_get_str(imsg, prefix, sizeof(prefix)) == -1 ||
	    imsg_get_end(imsg) == -1)
		fatalx("engine sent a malformed DELIVER");

	/* A mailbox owned by root would make the writer root: never. */
	if (uid == 0 || gid == 0) {
		log_warnx("refusing delivery to %s as uid %u gid %u",
		    maildir, uid, gid);
		close(imsg->fd);
		reply_engine(id, DELIVER_TEMPFAIL,
		    "451 4.3.0 Mailbox owner is root, refused");
		return;
	}
	if ((w = writer_pick(uid, gid)) == NULL) {
		close(imsg->fd);
		reply_engine(id, DELIVER_TEMPFAIL,
		    "451 4.3.0 Cannot start a delivery process");
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("calloc");
	if ((b = imsg_create(IMSG_LMTP_DELIVER, 0, imsg->fd)) == NULL)
		fatal("imsg_create");
	if (ibuf_add_u64(b, id) == -1 || ibuf_add_str(b, maildir) == -1 ||
	    ibuf_add_u32(b, uid) == -1 || ibuf_add_u32(b, gid) == -1 ||
	    ibuf_add_u64(b, quota) == -1 || ibuf_add_str(b, prefix) == -1 ||
	    imsgev_send(&w->iev, b) == -1)
		fatalx("DELIVER to writer");
	p->id = id;
	TAILQ_INSERT_TAIL(&w->pending, p, entry);
	w->npending++;
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
	if (n < WRITERS_PER_OWNER && (w = writer_spawn(uid, gid)) != NULL)
		return w;
	return best;
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
			close(o->iev.ibuf.fd);
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
	TAILQ_INIT(&w->pending);
	imsgev_init(&w->iev, sp[0], writer_dispatch, w);
	if (imsg_send_hello(&w->iev.ibuf, "lmtpd parent") == -1)
		fatalx("hello to writer");
	imsgev_update(&w->iev);
	TAILQ_INSERT_TAIL(&writers, w, entry);
	log_debug("writer %d started for uid %u gid %u", (int)pid,
	    (unsigned)uid, (unsigned)gid);
	return w;
}

static void
writer_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	char		 text[LMTP_REPLY_MAX];
	struct writer	*w = arg;
	struct pending	*p;
	uint64_t	 id;
	uint8_t		 status;

	if (imsg == NULL) {
		writer_gone(w);
		return;
	}
	if (imsg->fd != -1)
		fatalx("writer %d sent a descriptor", (int)w->pid);
	if (!w->hello) {
		if (imsg_check_hello(imsg, "parent") == -1)
			fatalx("writer %d: bad hello", (int)w->pid);
		w->hello = 1;
		return;
	}
	if (imsg->hdr.type != IMSG_LMTP_DELIVERED ||
	    imsg_get_u64(imsg, &id) == -1 || imsg_get_u8(imsg, &status) == -1 ||
	    imsg_get_str(imsg, text, sizeof(text)) == -1 ||
	    imsg_get_end(imsg) == -1)
		fatalx("writer %d sent a malformed imsg", (int)w->pid);

	TAILQ_FOREACH(p, &w->pending, entry)
		if (p->id == id)
			break;
	if (p == NULL)
		fatalx("writer %d answered unknown delivery %llu",
		    (int)w->pid, (unsigned long long)id);
	TAILQ_REMOVE(&w->pending, p, entry);
	w->npending--;
	free(p);
	reply_engine(id, status, text);
}

/*
 * The channel is gone (the handler is not called again for it, so the
 * writer can be freed here).  What it had not answered may or may not be
 * on disk: a temporary failure makes the client retry, a duplicate at
 * worst.
 */
static void
writer_gone(struct writer *w)
{
	struct pending	*p;

	log_warnx("writer %d for uid %u gone with %u pending", (int)w->pid,
	    (unsigned)w->uid, w->npending);
	while ((p = TAILQ_FIRST(&w->pending)) != NULL) {
		TAILQ_REMOVE(&w->pending, p, entry);
		reply_engine(p->id, DELIVER_TEMPFAIL,
		    "451 4.3.0 Delivery process died");
		free(p);
	}
	TAILQ_REMOVE(&writers, w, entry);
	/* Only a pid not yet reaped is surely still ours. */
	if (!w->reaped)
		kill(w->pid, SIGTERM);
	imsgev_clear(&w->iev);
	free(w);
}

static void
reply_engine(uint64_t id, int status, const char *text)
{
	struct ibuf	*b;

	if ((b = imsg_create(IMSG_LMTP_DELIVERED, 0, -1)) == NULL ||
	    ibuf_add_u64(b, id) == -1 || ibuf_add_u8(b, status) == -1 ||
	    ibuf_add_str(b, text) == -1)
		fatalx("DELIVERED to engine");
	parent_send_engine(b);
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

void
writers_kill(void)
{
	struct writer	*w;

	TAILQ_FOREACH(w, &writers, entry)
		if (!w->reaped)
			kill(w->pid, SIGTERM);
}
