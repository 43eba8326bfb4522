/*
 * The lookup process of tsamba-smtpd: the DNS of the inbound checks.
 *
 * Why a process of its own, a child of the parent like the key
 * process: the smtp engine parses network input, so it should not also
 * hold a resolver that any session's bytes could steer (a cache that
 * outlives a session, libunbound's threads and sockets), and it runs in
 * an empty chroot where /etc/resolv.conf cannot be read.  The lookup
 * process sets up libunbound before it drops to the engine's user in
 * the same empty chroot, then answers one question at a time
 * (IMSG_LKA_DNS_QUERY: a name and an rr type) with the record set
 * (IMSG_LKA_DNS_ANSWER), asynchronously: the evaluators (lib/spf.c,
 * lib/dkim_verify.c, lib/dmarc.c) run in the engine, on the answers, so
 * a session never waits on a blocking call.  Questions that take too
 * long are answered SERVFAIL, which the checks turn into temperror.
 *
 * The greylist (smtp_greylist.c) lives here too, with its file in
 * statedir/greylist: the one piece of state of the checks that must
 * outlive a session and a restart.
 *
 * The resolver is "check resolver" of tsamba.conf, else "mta resolver",
 * else /etc/resolv.conf (queue/mta_dns.c does the same for the mta).
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <netinet/in.h>

#include <sys/stat.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "channel.h"
#include "daemon.h"
#include "dnsq.h"
#include "dnsq_unbound.h"
#include "imsg.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "smtpd.h"

#define LOOKUP_INFLIGHT_MAX	4096	/* questions open at once */
#define CLASS_IN		1

struct lookup_q {
	TAILQ_ENTRY(lookup_q)	 entry;
	uint64_t		 id;
	int			 type;
	char			 name[DNSQ_NAME_MAX];	/* for the cache */
	int			 async_id;
	struct event		 timer;
};
TAILQ_HEAD(lookup_qs, lookup_q);

static void	lookup_sig(int, short, void *);
static void	lookup_dispatch(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	lookup_down(struct channel *, void *);
static void	lookup_readable(int, short, void *);
static void	lookup_answered(void *, int, struct ub_result *);
static void	lookup_timeout(int, short, void *);
static void	lookup_reply(uint64_t, int, int, const struct ub_result *);
static void	lookup_send(uint64_t);
static void	lookup_grey(struct msg_lka_grey_check *);

static const struct channel_type engine_types[] = {
	{ IMSG_LKA_DNS_QUERY, 0 },
	{ IMSG_LKA_GREY_CHECK, 0 },
	{ 0, 0 }
};
static const struct channel_cbs engine_cbs = {
	.dispatch = lookup_dispatch,
	.down = lookup_down,
};

static struct channel	 engine_ch;
static struct ub_ctx	*ub;
static struct event	 ub_ev;
static struct lookup_qs	 inflight = TAILQ_HEAD_INITIALIZER(inflight);
static size_t		 ninflight;
static struct dnsq_answer answer;

/* The resolver, before the chroot: it reads its files now. */
static void
lookup_resolver_init(void)
{
	const char	*fwd;
	char		 err[256];

	fwd = smtpd_conf->check_resolver[0] != '\0' ?
	    smtpd_conf->check_resolver : smtpd_conf->mta_resolver;
	if ((ub = dnsq_ub_new(fwd, "check resolver", err, sizeof(err))) ==
	    NULL)
		fatalx("%s", err);
	if (err[0] != '\0')
		log_warnx("%s; resolving from the root", err);
}

/*
 * The greylist's own directory, statedir/greylist, owned by the user
 * the process drops to: opened now, used through the descriptor from
 * inside the empty chroot.  -1 when no listener greylists.
 */
static int
lookup_grey_dir(void)
{
	struct conf_listen	*cl;
	char			 path[PATH_MAX];
	uid_t			 uid;
	gid_t			 gid;
	int			 want = 0, fd;

	TAILQ_FOREACH(cl, &smtpd_conf->listens, entry)
		if (cl->flags & LISTEN_GREYLIST)
			want = 1;
	if (!want)
		return -1;
	(void)mkdir(smtpd_conf->statedir, 0755);
	if (snprintf(path, sizeof(path), "%s/greylist",
	    smtpd_conf->statedir) >= (int)sizeof(path))
		fatalx("greylist directory: path too long");
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if (geteuid() == 0 && priv_lookup(smtpd_conf->user_smtpd, &uid,
	    &gid) == 0 && chown(path, uid, gid) == -1)
		fatal("chown %s", path);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open %s", path);
	return fd;
}

void
lookup_main(int engine_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct event	 ev_sigs[3];
	int		 greyfd;

	log_procname("lookup");
	lookup_resolver_init();
	greyfd = lookup_grey_dir();
	priv_drop(smtpd_conf->user_smtpd, smtpd_conf->chroot, "lookup");

	event_init();
	if (greyfd != -1)
		grey_init(greyfd);
	daemon_signals(ev_sigs, sigs, 3, lookup_sig);
	event_set(&ub_ev, ub_fd(ub), EV_READ | EV_PERSIST, lookup_readable,
	    NULL);
	event_add(&ub_ev, NULL);
	channel_init(&engine_ch, "smtp engine", "lookup", engine_types,
	    &engine_cbs, NULL);
	channel_attach(&engine_ch, engine_fd);
	event_dispatch();
	fatalx("event loop ended");
}

static void
lookup_sig(int sig, short ev, void *arg)
{
	if (sig == SIGHUP)
		return;
	grey_flush();
	exit(0);
}

/* The engine gone, or one that broke the protocol: fail-stop. */
static void
lookup_down(struct channel *ch, void *arg)
{
	fatalx("%s went away", ch->name);
}

static void
lookup_readable(int fd, short ev, void *arg)
{
	int	 r;

	if ((r = ub_process(ub)) != 0)
		log_warnx("unbound: %s", ub_strerror(r));
}

static int
lookup_type_ok(uint32_t type)
{
	return type == DNSQ_A || type == DNSQ_AAAA || type == DNSQ_TXT ||
	    type == DNSQ_MX || type == DNSQ_PTR;
}

static void
lookup_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct msg_lka_dns_query	*qm = &m->lka_dns_query;
	struct lookup_q			*q;
	struct timeval			 tv = { LOOKUP_TIMEOUT_SEC, 0 };
	char				 name[DNSQ_NAME_MAX * 4];
	int				 r;

	if (imsg->hdr.type == IMSG_LKA_GREY_CHECK) {
		lookup_grey(&m->lka_grey_check);
		return;
	}
	if (!lookup_type_ok(qm->type)) {
		channel_drop(ch, "query of an unknown rr type");
		return;
	}
	if (lookup_cache_get(qm->type, qm->name, &answer) == 0) {
		lookup_send(qm->id);
		return;
	}
	if (ninflight >= LOOKUP_INFLIGHT_MAX ||
	    dnsq_name_escape(qm->name, name, sizeof(name)) == -1 ||
	    (q = calloc(1, sizeof(*q))) == NULL) {
		lookup_reply(qm->id, qm->type, 1, NULL);
		return;
	}
	q->id = qm->id;
	q->type = qm->type;
	(void)strlcpy(q->name, qm->name, sizeof(q->name));
	if ((r = ub_resolve_async(ub, name, q->type, CLASS_IN, q,
	    lookup_answered, &q->async_id)) != 0) {
		log_warnx("unbound: %s: %s", qm->name, ub_strerror(r));
		free(q);
		lookup_reply(qm->id, qm->type, 1, NULL);
		return;
	}
	evtimer_set(&q->timer, lookup_timeout, q);
	evtimer_add(&q->timer, &tv);
	TAILQ_INSERT_TAIL(&inflight, q, entry);
	ninflight++;
}

static void
lookup_grey(struct msg_lka_grey_check *m)
{
	struct msg_lka_grey_result	 a = { .id = m->id };

	a.pass = grey_check(m->net, m->sender, m->rcpt, &a.wait);
	if (channel_send(&engine_ch, msg_lka_grey_result_pack(&a, -1)) == -1)
		fatalx("cannot queue LKA_GREY_RESULT");
}

static void
lookup_q_free(struct lookup_q *q)
{
	evtimer_del(&q->timer);
	TAILQ_REMOVE(&inflight, q, entry);
	ninflight--;
	free(q);
}

static void
lookup_answered(void *arg, int err, struct ub_result *res)
{
	struct lookup_q	*q = arg;

	lookup_reply(q->id, q->type, err, res);
	if (err == 0 && res != NULL && !res->bogus)
		lookup_cache_put(q->type, q->name, &answer, res->ttl);
	if (res != NULL)
		ub_resolve_free(res);
	lookup_q_free(q);
}

/* Too slow: SERVFAIL now (a temperror for the check that asked). */
static void
lookup_timeout(int fd, short ev, void *arg)
{
	struct lookup_q	*q = arg;

	ub_cancel(ub, q->async_id);
	lookup_reply(q->id, q->type, 1, NULL);
	lookup_q_free(q);
}

/* The room one record takes in the answer's payload. */
static size_t
lookup_rr_size(const struct dnsq_rr *rr)
{
	size_t	 n = 4 + 4 + 4 + 2;

	if (rr->type == DNSQ_A)
		return n + 4;
	if (rr->type == DNSQ_AAAA)
		return n + 16;
	return n + rr->len;
}

/* err != 0 or res NULL: SERVFAIL.  What does not fit is left out. */
static void
lookup_reply(uint64_t id, int type, int err, const struct ub_result *res)
{
	if (res == NULL && err == 0)
		err = 1;
	dnsq_answer_from_ub(&answer, type, err, res);
	lookup_send(id);
}

/* Send the answer in answer; what does not fit is left out. */
static void
lookup_send(uint64_t id)
{
	struct msg_lka_dns_answer	 m = { .id = id };
	struct rec_lka_rr		 e;
	struct ibuf			*b;
	const struct dnsq_rr		*rr;
	size_t				 i, n, room;

	room = IMSG_MAXPAYLOAD - (8 + 1 + 1 + 4);
	for (n = 0; n < answer.nrr; n++) {
		rr = &answer.rr[n];
		if (rr->len > PROTO_DNS_TEXT_MAX ||
		    lookup_rr_size(rr) > room)
			break;
		room -= lookup_rr_size(rr);
	}
	m.rcode = answer.rcode;
	m.truncated = answer.truncated || n < answer.nrr;
	m.rrs.n = n;
	if ((b = msg_lka_dns_answer_pack(&m, -1)) == NULL)
		fatal("lookup answer");
	for (i = 0; i < n; i++) {
		rr = &answer.rr[i];
		memset(&e, 0, sizeof(e));
		e.type = rr->type;
		e.pref = rr->pref;
		e.text = "";
		if (rr->type == DNSQ_A) {
			e.addr = &rr->a;
			e.addr_len = 4;
		} else if (rr->type == DNSQ_AAAA) {
			e.addr = &rr->aaaa;
			e.addr_len = 16;
		} else
			e.text = dnsq_rr_text(&answer, rr);
		rec_lka_rr_pack(b, &e);
	}
	msg_lka_dns_answer_pack_tail(b, &m);
	if (channel_send(&engine_ch, b) == -1)
		fatalx("cannot queue LKA_DNS_ANSWER");
}
