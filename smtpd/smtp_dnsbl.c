/*
 * DNS block and allow lists of the client address (RFC 5782), asked
 * before the greeting on a listener with "dnsbl": every zone of "check
 * dnsbl" and "check dnswl" at once, through the lookup process.  A
 * client on an allow list is let in whatever the block lists say (and
 * is marked so for the other checks); one on a block list is turned
 * away with the standard 554 5.7.1 naming the list.  A list that does
 * not answer in time counts as not listing the client: a check that
 * cannot be done never refuses anyone.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "dnsq.h"
#include "iprev.h"
#include "log.h"
#include "proto.h"
#include "smtpd.h"
#include "stats.h"

struct dnsbl_q {
	struct channel_req	 req;
	struct smtp_dnsbl	*d;
	const struct conf_dnsbl	*list;
	int			 allow;		/* a dnswl zone */
	int			 done;
	int			 listed;
};

struct smtp_dnsbl {
	struct smtp_session	*s;
	struct dnsbl_q		 q[2 * CONF_DNSBL_MAX];
	size_t			 nq;
	size_t			 pending;
	void			(*done)(struct smtp_session *);
};

/*
 * Does an answer list the client?  Any A record in 127.0.0.0/8 but
 * 127.255.255.0/24 (the lists' own "you may not query" codes), or one
 * of the codes the admin gave.
 */
static int
dnsbl_listed(const struct conf_dnsbl *list, const struct dnsq_answer *a)
{
	const struct dnsq_rr	*rr;
	uint32_t		 v;
	size_t			 i, j;

	if (a->rcode != DNSQ_NOERROR)
		return 0;
	for (i = 0; i < a->nrr; i++) {
		rr = &a->rr[i];
		if (rr->type != DNSQ_A)
			continue;
		v = ntohl(rr->a.s_addr);
		if (list->ncodes == 0) {
			if ((v >> 24) == 127 && (v >> 8) != 0x7fffff)
				return 1;
			continue;
		}
		for (j = 0; j < list->ncodes; j++)
			if (list->codes[j].s_addr == rr->a.s_addr)
				return 1;
	}
	return 0;
}

static void
dnsbl_finish(struct smtp_dnsbl *d)
{
	struct smtp_session	*s = d->s;
	size_t			 i;

	s->dnsbl_state = DNSBL_CLEAR;
	for (i = 0; i < d->nq; i++)
		if (d->q[i].allow && d->q[i].listed) {
			s->dnsbl_state = DNSBL_ALLOWED;
			strlcpy(s->dnsbl_zone, d->q[i].list->zone,
			    sizeof(s->dnsbl_zone));
		}
	for (i = 0; s->dnsbl_state == DNSBL_CLEAR && i < d->nq; i++)
		if (!d->q[i].allow && d->q[i].listed) {
			s->dnsbl_state = DNSBL_LISTED;
			strlcpy(s->dnsbl_zone, d->q[i].list->zone,
			    sizeof(s->dnsbl_zone));
		}
	s->dnsbl = NULL;
	free(d);
	s->dnsbl_done(s);
}

static void
dnsbl_answer(struct channel_req *r, struct imsg *imsg, union imsg_msg *m)
{
	struct dnsbl_q		*q = r->arg;
	struct smtp_dnsbl	*d = q->d;
	struct dnsq_answer	 ans;

	check_dns_decode(imsg, m, &ans);
	q->listed = dnsbl_listed(q->list, &ans);
	if (ans.rcode == DNSQ_SERVFAIL)
		log_info("session %016llx: %s %s: no answer, taken as not "
		    "listed", (unsigned long long)d->s->id,
		    q->allow ? "dnswl" : "dnsbl", q->list->zone);
	q->done = 1;
	if (--d->pending == 0)
		dnsbl_finish(d);
}

/* Ask one zone: 0, or -1 (not asked: counts as not listed). */
static int
dnsbl_ask(struct smtp_dnsbl *d, struct dnsbl_q *q, const char *rev)
{
	struct dnsq_query	 dq;
	char			 name[DNSQ_NAME_MAX];

	if (snprintf(name, sizeof(name), "%s.%s", rev, q->list->zone) >=
	    (int)sizeof(name))
		return -1;
	dnsq_query_set(&dq, name, DNSQ_A);
	if (check_dns_ask(&q->req, &dq, dnsbl_answer, q) == -1)
		return -1;
	d->pending++;
	return 0;
}

/*
 * Start the lists' questions; done(s) is called once all have answered
 * (not from inside this call).  0, or -1 if there is nothing to ask:
 * the session goes on at once.
 */
int
dnsbl_start(struct smtp_session *s, void (*done)(struct smtp_session *))
{
	struct smtp_dnsbl	*d;
	struct dnsbl_q		*q;
	char			 rev[IPREV_REVERSE_MAX];
	size_t			 i;

	if (!(s->l->cl->flags & LISTEN_DNSBL) ||
	    (smtpd_conf->ndnsbl == 0 && smtpd_conf->ndnswl == 0) ||
	    iprev_reverse(&s->ss, rev, sizeof(rev)) == -1 ||
	    (d = calloc(1, sizeof(*d))) == NULL)
		return -1;
	d->s = s;
	for (i = 0; i < smtpd_conf->ndnswl + smtpd_conf->ndnsbl; i++) {
		q = &d->q[d->nq];
		q->d = d;
		q->allow = i < smtpd_conf->ndnswl;
		q->list = q->allow ? &smtpd_conf->dnswl[i] :
		    &smtpd_conf->dnsbl[i - smtpd_conf->ndnswl];
		if (dnsbl_ask(d, q, rev) == 0)
			d->nq++;
	}
	if (d->pending == 0) {
		free(d);
		return -1;
	}
	s->dnsbl = d;
	s->dnsbl_done = done;
	return 0;
}

/* The session ends first. */
void
dnsbl_cancel(struct smtp_session *s)
{
	struct smtp_dnsbl	*d = s->dnsbl;
	size_t			 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nq; i++)
		channel_req_cancel(&d->q[i].req);
	free(d);
	s->dnsbl = NULL;
}

/*
 * "dnsbl-at rcpt": a listed client is greeted and each of its
 * recipients refused with the 554 of the list, so that the sender's
 * log names the recipient.  Our authenticated users never are.
 */
int
dnsbl_refuse_rcpt(struct smtp_session *s)
{
	if (s->dnsbl_state != DNSBL_LISTED || s->auth_user[0] != '\0')
		return 0;
	stats_inc(ST_CHECK_DNSBL, s->l->slot);
	stats_inc(ST_SMTP_RCPT_REJECTED, s->l->slot);
	smtp_status(s, 554, ESC_DELIVERY_NOT_AUTHORIZED, "<%s>: Recipient "
	    "address rejected: client [%s] blocked using %s",
	    s->tx->pending_orcpt, s->ip, s->dnsbl_zone);
	return 1;
}
