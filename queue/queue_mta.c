/*
 * The queue's side of the mta process (a socketpair made by the
 * parent): transfers out, results back.  A transfer is one message and
 * the due recipients of one destination, at most TRANSFER_RCPTS_MAX of
 * them and no more than fit in one imsg, with the message file opened
 * read-only and the DKIM prefix.  The connection limits (mta
 * max-connections, max-connections-per-domain) are counted here, one
 * slot per transfer.
 *
 * Results are kept in the recipients until the transfer's DONE, then
 * handed to the scheduler in one go, which writes the envelope once.
 * If the mta goes away, every transfer under way ends as a temporary
 * failure (retried, never lost) and the queue process stops: the
 * parent then stops too and the service manager restarts the daemon.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "imsg.h"
#include "log.h"
#include "queue.h"

#define TRANSFER_RCPTS_MAX	100	/* RFC 5321 4.5.3.1.8 */

struct dest {
	RB_ENTRY(dest)		 entry;
	char			 name[ADDR_MAX + 1];	/* lowercased */
	unsigned int		 active;
};

struct transfer {
	TAILQ_ENTRY(transfer)	 entry;
	uint64_t		 id;
	struct msg		*msg;
	struct dest		*dest;
	struct rcpt		**rcpts;
	size_t			 nrcpts;
};

RB_HEAD(dest_tree, dest);
TAILQ_HEAD(transfer_list, transfer);

static int	dest_cmp(struct dest *, struct dest *);
RB_PROTOTYPE(dest_tree, dest, entry, dest_cmp);

static struct dest_tree		 dests = RB_INITIALIZER(&dests);
static struct transfer_list	 transfers = TAILQ_HEAD_INITIALIZER(transfers);
static struct channel		 mta_ch;
static unsigned int		 nactive;
static uint64_t			 next_id = 1;

static int
dest_cmp(struct dest *a, struct dest *b)
{
	return strcmp(a->name, b->name);
}

RB_GENERATE(dest_tree, dest, entry, dest_cmp);

static void	mta_dispatch(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	mta_lost(struct channel *, void *);

static const struct channel_type mta_types[] = {
	{ IMSG_MTA_RCPT_RESULT, 0 },
	{ IMSG_MTA_DONE, 0 },
	{ 0, 0 }
};
static const struct channel_cbs mta_cbs = {
	.dispatch = mta_dispatch,
	.down = mta_lost,
};

void
mta_channel_init(int fd)
{
	channel_init(&mta_ch, "mta", "queue", mta_types, &mta_cbs, NULL);
	channel_attach(&mta_ch, fd);
}

static struct dest *
dest_find(const char *name, int create)
{
	struct dest	 key, *d;
	size_t		 i;

	if (strlcpy(key.name, name, sizeof(key.name)) >= sizeof(key.name))
		key.name[sizeof(key.name) - 1] = '\0';
	for (i = 0; key.name[i] != '\0'; i++)
		if (key.name[i] >= 'A' && key.name[i] <= 'Z')
			key.name[i] += 'a' - 'A';
	if ((d = RB_FIND(dest_tree, &dests, &key)) != NULL || !create)
		return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("dest_find");
	memcpy(d->name, key.name, sizeof(d->name));
	RB_INSERT(dest_tree, &dests, d);
	return d;
}

int
transfer_slot_free(const char *dest)
{
	struct dest	*d;

	if (nactive >= queue_conf->mta_max_conns)
		return 0;
	d = dest_find(dest, 0);
	return d == NULL || d->active < queue_conf->mta_max_conns_domain;
}

/* How many of the recipients fit in one TRANSFER with this prefix. */
static size_t
transfer_fit(struct msg *m, const char *domain, struct rcpt **rcpts,
    size_t n, size_t prefixlen)
{
	size_t	 size, i;

	size = 8 + 2 + strlen(m->env.id) + 2 + strlen(m->env.sender) + 2 +
	    strlen(domain) + 1 + 1 + 4 + 2 + prefixlen;
	for (i = 0; i < n && i < TRANSFER_RCPTS_MAX; i++) {
		size += 2 + strlen(rcpts[i]->addr);
		if (size > IMSG_MAXPAYLOAD)
			break;
	}
	return i;
}

int
transfer_start(struct msg *m, const char *destname, struct rcpt **rcpts,
    size_t n)
{
	struct msg_mta_transfer	 tm;
	struct rec_transfer_rcpt e;
	struct transfer		*t;
	struct ibuf		*b;
	struct dest		*d;
	const char		*dkim, *domain = destname;
	char			 path[64], *prefix;
	size_t			 i, k;
	int			 fd;

	if (queue_conf->relay.host[0] != '\0')
		domain = queue_conf->relay.host;
	if (dkim_prefix(m, &dkim) == -1) {
		log_warnx("%s: DKIM signing failed, delivery deferred",
		    m->env.id);
		return -1;
	}
	/* The signature on top, then the envelope's fields, then the file. */
	if (asprintf(&prefix, "%s%s", dkim, spool_prefix(&m->env)) == -1)
		fatal("transfer_start");
	if ((k = transfer_fit(m, domain, rcpts, n, strlen(prefix))) == 0) {
		log_warnx("%s: transfer does not fit in a message",
		    m->env.id);
		free(prefix);
		return -1;
	}
	spool_msgpath("queue", m->env.id, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s: open", path);
		free(prefix);
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->rcpts = calloc(k, sizeof(*t->rcpts))) == NULL)
		fatal("mta_transfer");
	t->id = next_id++;
	t->msg = m;
	t->nrcpts = k;
	tm.id = t->id;
	tm.msgid = m->env.id;
	tm.sender = m->env.sender;
	tm.domain = domain;
	tm.body = m->env.body;
	tm.smtputf8 = m->env.smtputf8;
	tm.rcpts.n = k;
	tm.prefix = prefix;
	if ((b = msg_mta_transfer_pack(&tm, fd)) == NULL)
		fatal("mta_transfer");
	for (i = 0; i < k; i++) {
		t->rcpts[i] = rcpts[i];
		rcpts[i]->transfer = t;
		rcpts[i]->mta_status = -1;
		e.rcpt = rcpts[i]->addr;
		rec_transfer_rcpt_pack(b, &e);
	}
	msg_mta_transfer_pack_tail(b, &tm);
	free(prefix);
	if (channel_send(&mta_ch, b) == -1)
		fatalx("cannot send a transfer to the mta");
	d = dest_find(destname, 1);
	d->active++;
	t->dest = d;
	nactive++;
	TAILQ_INSERT_TAIL(&transfers, t, entry);
	log_debug("%s: transfer %llu to %s, %zu recipient%s%s", m->env.id,
	    (unsigned long long)t->id, domain, k, k > 1 ? "s" : "",
	    dkim[0] != '\0' ? ", DKIM signed" : "");
	return (int)k;
}

static struct transfer *
transfer_find(uint64_t id)
{
	struct transfer	*t;

	TAILQ_FOREACH(t, &transfers, entry)
		if (t->id == id)
			return t;
	return NULL;
}

static void
rcpt_set(struct rcpt *r, uint8_t status, const char *reply,
    const char *relay)
{
	r->mta_status = status;
	strlcpy(r->error, reply, sizeof(r->error));
	if (relay != NULL && relay[0] != '\0')
		strlcpy(r->relay, relay, sizeof(r->relay));
}

/* Every recipient without a result gets this one; the scheduler takes over. */
static void
transfer_end(struct transfer *t, uint8_t status, const char *reply)
{
	char	 dest[ADDR_MAX + 1];
	size_t	 i;

	for (i = 0; i < t->nrcpts; i++)
		if (t->rcpts[i]->mta_status == -1)
			rcpt_set(t->rcpts[i], status, reply, NULL);
	TAILQ_REMOVE(&transfers, t, entry);
	t->dest->active--;
	nactive--;
	strlcpy(dest, t->dest->name, sizeof(dest));
	if (t->dest->active == 0) {
		RB_REMOVE(dest_tree, &dests, t->dest);
		free(t->dest);
	}
	scheduler_transfer_done(t->msg, t->rcpts, t->nrcpts);
	free(t->rcpts);
	free(t);
	scheduler_unblock(dest);
}

static int
valid_status(uint8_t s)
{
	return s == MTA_OK || s == MTA_TEMPFAIL || s == MTA_PERMFAIL;
}

static void
recv_rcpt_result(struct msg_mta_rcpt_result *m)
{
	struct transfer	*t;

	if (!valid_status(m->status))
		fatalx("malformed RCPT_RESULT from the mta");
	if ((t = transfer_find(m->id)) == NULL || m->index >= t->nrcpts)
		fatalx("RCPT_RESULT for an unknown transfer or recipient");
	rcpt_set(t->rcpts[m->index], m->status, m->reply, m->relay);
}

static void
recv_done(struct msg_mta_done *m)
{
	struct transfer	*t;

	if (!valid_status(m->status))
		fatalx("malformed DONE from the mta");
	if ((t = transfer_find(m->id)) == NULL)
		fatalx("DONE for an unknown transfer");
	transfer_end(t, m->status, m->reply);
}

/*
 * The mta is gone (or broke the protocol): what it had not answered is
 * retried (the envelope on disk still says pending), and the queue
 * process stops, once it has written out the answers it owes the smtp
 * engines (server_flush).
 */
static void
mta_lost(struct channel *ch, void *arg)
{
	struct transfer	*t;

	log_warnx("mta process gone, %u transfer%s to retry", nactive,
	    nactive == 1 ? "" : "s");
	while ((t = TAILQ_FIRST(&transfers)) != NULL)
		transfer_end(t, MTA_TEMPFAIL, "4.4.0 mta process lost");
	fatalx("mta process gone");
}

static void
mta_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	switch (imsg->hdr.type) {
	case IMSG_MTA_RCPT_RESULT:
		recv_rcpt_result(&m->mta_rcpt_result);
		break;
	case IMSG_MTA_DONE:
		recv_done(&m->mta_done);
		break;
	}
}
