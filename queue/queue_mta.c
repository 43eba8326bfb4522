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
static struct imsgev		 mta_iev;
static int			 mta_hello;
static unsigned int		 nactive;
static uint64_t			 next_id = 1;

static int
dest_cmp(struct dest *a, struct dest *b)
{
	return strcmp(a->name, b->name);
}

RB_GENERATE(dest_tree, dest, entry, dest_cmp);

static void	mta_dispatch(struct imsgev *, struct imsg *, void *);

void
mta_channel_init(int fd)
{
	imsgev_init(&mta_iev, fd, mta_dispatch, NULL);
	if (imsg_send_hello(&mta_iev.ibuf, "queue") == -1)
		fatalx("hello to the mta");
	imsgev_update(&mta_iev);
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
	struct transfer	*t;
	struct ibuf	*b;
	struct dest	*d;
	const char	*prefix, *domain = destname;
	char		 path[64];
	size_t		 i, k;
	int		 fd;

	if (queue_conf->relay.host[0] != '\0')
		domain = queue_conf->relay.host;
	if (dkim_prefix(m, &prefix) == -1) {
		log_warnx("%s: DKIM signing failed, delivery deferred",
		    m->env.id);
		return -1;
	}
	if ((k = transfer_fit(m, domain, rcpts, n, strlen(prefix))) == 0) {
		log_warnx("%s: transfer does not fit in a message",
		    m->env.id);
		return -1;
	}
	spool_msgpath("queue", m->env.id, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s: open", path);
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->rcpts = calloc(k, sizeof(*t->rcpts))) == NULL)
		fatal("mta_transfer");
	t->id = next_id++;
	t->msg = m;
	t->nrcpts = k;
	if ((b = imsg_create(IMSG_MTA_TRANSFER, 0, fd)) == NULL)
		fatal("mta_transfer");
	ibuf_add_u64(b, t->id);
	ibuf_add_str(b, m->env.id);
	ibuf_add_str(b, m->env.sender);
	ibuf_add_str(b, domain);
	ibuf_add_u8(b, m->env.body);
	ibuf_add_u8(b, m->env.smtputf8);
	ibuf_add_u32(b, k);
	for (i = 0; i < k; i++) {
		t->rcpts[i] = rcpts[i];
		rcpts[i]->transfer = t;
		rcpts[i]->mta_status = -1;
		ibuf_add_str(b, rcpts[i]->addr);
	}
	ibuf_add_str(b, prefix);
	if (imsgev_send(&mta_iev, b) == -1)
		fatalx("cannot send a transfer to the mta");
	d = dest_find(destname, 1);
	d->active++;
	t->dest = d;
	nactive++;
	TAILQ_INSERT_TAIL(&transfers, t, entry);
	log_debug("%s: transfer %llu to %s, %zu recipient%s%s", m->env.id,
	    (unsigned long long)t->id, domain, k, k > 1 ? "s" : "",
	    prefix[0] != '\0' ? ", DKIM signed" : "");
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
recv_rcpt_result(struct imsg *imsg)
{
	struct transfer	*t;
	char		 reply[REPLY_MAX], relay[RELAY_TEXT_MAX];
	uint64_t	 id;
	uint32_t	 idx;
	uint8_t		 status;

	if (imsg_get_u64(imsg, &id) == -1 || imsg_get_u32(imsg, &idx) == -1 ||
	    imsg_get_u8(imsg, &status) == -1 ||
	    imsg_get_str(imsg, reply, sizeof(reply)) == -1 ||
	    imsg_get_str(imsg, relay, sizeof(relay)) == -1 ||
	    imsg_get_end(imsg) == -1 || !valid_status(status))
		fatalx("malformed RCPT_RESULT from the mta");
	if ((t = transfer_find(id)) == NULL || idx >= t->nrcpts)
		fatalx("RCPT_RESULT for an unknown transfer or recipient");
	rcpt_set(t->rcpts[idx], status, reply, relay);
}

static void
recv_done(struct imsg *imsg)
{
	struct transfer	*t;
	char		 reply[REPLY_MAX];
	uint64_t	 id;
	uint8_t		 status;

	if (imsg_get_u64(imsg, &id) == -1 || imsg_get_u8(imsg, &status) == -1 ||
	    imsg_get_str(imsg, reply, sizeof(reply)) == -1 ||
	    imsg_get_end(imsg) == -1 || !valid_status(status))
		fatalx("malformed DONE from the mta");
	if ((t = transfer_find(id)) == NULL)
		fatalx("DONE for an unknown transfer");
	transfer_end(t, status, reply);
}

/*
 * The mta is gone: what it had not answered is retried (the envelope
 * on disk still says pending), and the queue process stops, once it has
 * written out the answers it owes the smtp engines (server_flush).
 */
static void
mta_lost(void)
{
	struct transfer	*t;

	log_warnx("mta process gone, %u transfer%s to retry", nactive,
	    nactive == 1 ? "" : "s");
	while ((t = TAILQ_FIRST(&transfers)) != NULL)
		transfer_end(t, MTA_TEMPFAIL, "4.4.0 mta process lost");
	fatalx("mta process gone");
}

static void
mta_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	if (imsg == NULL) {
		mta_lost();
		return;
	}
	if (imsg->fd != -1)
		fatalx("unexpected descriptor from the mta");
	if (!mta_hello) {
		if (imsg_check_hello(imsg, "queue") == -1)
			fatalx("bad hello from the mta");
		mta_hello = 1;
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_MTA_RCPT_RESULT:
		recv_rcpt_result(imsg);
		break;
	case IMSG_MTA_DONE:
		recv_done(imsg);
		break;
	default:
		fatalx("unexpected message %u from the mta", imsg->hdr.type);
	}
}
