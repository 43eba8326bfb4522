/*
 * The inbound checks of a transaction: SPF of the HELO name and of the
 * MAIL FROM (started when MAIL FROM is accepted, while the client goes
 * on with RCPT and DATA), DKIM with the body hashed as it streams in
 * (check_body), DMARC once the body is in, then the verdict: the
 * FCrDNS result of the connection (smtp_iprev.c) joins them in the
 * Authentication-Results field (and Received-SPF if asked) that the
 * queue keeps in the envelope and puts in front of the message, a 550
 * for a DMARC reject, a 451 for a check that could not be done when
 * "on-tempfail tempfail" (the listener's, else the global one), and
 * the one "verdict:" log line.
 *
 * The evaluators of lib/ hand out one DNS question at a time; each goes
 * to the lookup process (smtp_lookup.c) as LKA_DNS_QUERY with a
 * deadline, and a lost or late answer is SERVFAIL, which the
 * evaluators turn into temperror.  The questions run in parallel: SPF
 * from MAIL FROM; once the header block is in (check_header_end, while
 * the body still streams), one key question per DKIM-Signature and the
 * DMARC record of the From domain (then of its organisational domain),
 * so that at the end of the body only what is still out is waited for.
 * DMARC is judged last, when SPF and DKIM are known.  Every question
 * is a channel_req of the check: check_free() cancels those still out,
 * so an answer after RSET, QUIT or a drop finds nothing and is dropped.
 * Nothing blocks the session.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "author.h"
#include "authres.h"
#include "channel.h"
#include "dkim_verify.h"
#include "dmarc.h"
#include "dnsq.h"
#include "iprev.h"
#include "log.h"
#include "proto.h"
#include "psl.h"
#include "received_spf.h"
#include "spf.h"
#include "smtpd.h"
#include "stats.h"

#define CHECK_DNS_TIMEOUT	((LOOKUP_TIMEOUT_SEC + 2) * 1000)	/* ms */

enum chain_phase {
	PH_IDLE = 0,
	PH_SPF_HELO,
	PH_SPF_FROM,
	PH_DMARC,
	PH_DONE,
};

struct check_chain {
	struct channel_req	 req;
	struct smtp_check	*c;
	enum chain_phase	 phase;
};

/* One DKIM key question, for the signature of index sig. */
struct check_key {
	struct channel_req	 req;
	struct smtp_check	*c;
	size_t			 sig;
};

struct smtp_check {
	struct smtp_tx		*tx;
	int			 flags;		/* LISTEN_SPF ... */
	struct check_chain	 spf_chain;
	struct check_chain	 dmarc_chain;
	struct check_key	 keys[DKIM_VERIFY_SIGS_MAX];
	size_t			 keys_out;	/* key answers awaited */
	int			 header_end;	/* lookups started */
	int			 dmarc_on;	/* c->dmarc evaluates */
	int			 concluded;
	struct spf		*spf;
	int			 spf_helo;	/* SPF_* */
	int			 spf_from;
	char			 spf_domain[DNSQ_NAME_MAX];
	char			 spf_reason[SPF_REASON_MAX];
	struct dkim_verify	*dkim;
	struct dmarc		*dmarc;
	int			 dmarc_result;	/* -1: not evaluated */
	int			 dmarc_policy;
	int			 dmarc_published;
	int			 from_fields;	/* From: fields seen */
	int			 author;	/* AUTHOR_* */
	char			 from_domain[DNSQ_NAME_MAX];
	void			(*done)(struct smtp_session *);
	int			 ending;	/* inside check_end() */
	struct event		 later;		/* done, from the loop */
};

static struct psl	*check_psl;
static int		 check_psl_tried;
static struct dnsq_answer check_answer;

static void	chain_run(struct check_chain *, const struct dnsq_answer *);
static void	check_finish(struct smtp_check *);
static void	check_try_finish(struct smtp_check *);
static void	check_done_later(int, short, void *);

/* The flags of the checks that apply to this session, 0 for none. */
int
check_wanted(struct smtp_session *s)
{
	int	 flags = s->l->cl->flags & (LISTEN_CHECKS | LISTEN_IPREV);

	/* Submissions are our users' own mail: not judged by DMARC. */
	if (s->auth_user[0] != '\0')
		return 0;
	if (flags & LISTEN_DMARC)
		flags |= LISTEN_SPF | LISTEN_DKIM;
	return flags;
}

/* The PSL, once, the first time DMARC needs it: a missing file logs. */
static const struct psl *
check_psl_get(void)
{
	char	 err[256];

	if (!check_psl_tried) {
		check_psl_tried = 1;
		if ((check_psl = psl_load(smtpd_conf->check_psl, err,
		    sizeof(err))) == NULL)
			log_warnx("check psl %s: %s; organisational domains "
			    "by the last two labels", smtpd_conf->check_psl,
			    err);
	}
	return check_psl;
}

/* The PSL file is read before the chroot. */
void
check_init(void)
{
	struct conf_listen	*cl;

	TAILQ_FOREACH(cl, &smtpd_conf->listens, entry)
		if (cl->flags & LISTEN_DMARC)
			(void)check_psl_get();
}

struct smtp_check *
check_new(struct smtp_tx *tx, int flags)
{
	struct smtp_check	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("checks");
		return NULL;
	}
	c->tx = tx;
	c->flags = flags;
	c->spf_helo = c->spf_from = SPF_NONE;
	c->dmarc_result = -1;
	c->dmarc_published = -1;
	c->author = AUTHOR_NONE;
	c->spf_chain.c = c->dmarc_chain.c = c;
	evtimer_set(&c->later, check_done_later, c);
	if ((flags & LISTEN_DKIM) && (c->dkim = dkim_verify_new()) == NULL) {
		log_warn("checks: dkim");
		free(c);
		return NULL;
	}
	return c;
}

void
check_free(struct smtp_check *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	evtimer_del(&c->later);
	channel_req_cancel(&c->spf_chain.req);
	channel_req_cancel(&c->dmarc_chain.req);
	for (i = 0; i < DKIM_VERIFY_SIGS_MAX; i++)
		channel_req_cancel(&c->keys[i].req);
	spf_free(c->spf);
	dkim_verify_free(c->dkim);
	dmarc_free(c->dmarc);
	free(c);
}

/* MAIL FROM accepted: SPF of the HELO name, then of the sender. */
void
check_mail(struct smtp_check *c)
{
	struct smtp_session	*s = c->tx->session;

	if (!(c->flags & LISTEN_SPF))
		return;
	if ((c->spf = spf_new()) == NULL ||
	    spf_start(c->spf, SPF_HELO, s->ip, s->helo, c->tx->sender) == -1) {
		c->spf_helo = c->spf_from = SPF_TEMPERROR;
		c->spf_chain.phase = PH_DONE;
		return;
	}
	spf_set_receiver(c->spf, smtpd_conf->hostname);
	c->spf_chain.phase = PH_SPF_HELO;
	chain_run(&c->spf_chain, NULL);
}

/* The client's message bytes, as they arrive, for the body hashes. */
void
check_body(struct smtp_check *c, const char *p, size_t n)
{
	if (c->dkim != NULL)
		dkim_verify_update(c->dkim, p, n);
}

/* A whole header field of the message, name and value, as received. */
void
check_header(struct smtp_check *c, const char *field, size_t len)
{
	if (len < 5 || strncasecmp(field, "From:", 5) != 0)
		return;
	if (c->from_fields++ == 0)
		c->author = author_domain(field + 5, len - 5, c->from_domain,
		    sizeof(c->from_domain));
}

static void
check_key_answer(struct channel_req *r, struct imsg *imsg,
    union imsg_msg *m)
{
	struct check_key	*k = r->arg;
	struct smtp_check	*c = k->c;

	check_dns_decode(imsg, m, &check_answer);
	dkim_verify_key(c->dkim, k->sig, &check_answer);
	c->keys_out--;
	check_try_finish(c);
}

/*
 * Every DKIM key question the verifier has, at once.  One that cannot
 * be sent is answered SERVFAIL on the spot.
 */
static void
check_ask_keys(struct smtp_check *c)
{
	struct check_key	*k;
	struct dnsq_query	 q;
	size_t			 i;

	while (c->dkim != NULL && dkim_verify_next_key(c->dkim, &i, &q)) {
		k = &c->keys[i];
		k->c = c;
		k->sig = i;
		if (check_dns_ask(&k->req, &q, check_key_answer, k) == 0) {
			c->keys_out++;
			continue;
		}
		dnsq_answer_init(&check_answer, DNSQ_SERVFAIL);
		dkim_verify_key(c->dkim, i, &check_answer);
	}
}

/*
 * DMARC's record lookups, judged later (dmarc_defer): only for one
 * From: field with a domain, RFC 7489 6.6.1.
 */
static void
check_start_dmarc(struct smtp_check *c)
{
	if (!(c->flags & LISTEN_DMARC) || c->author != AUTHOR_OK ||
	    c->from_fields != 1 ||
	    (c->dmarc = dmarc_new(check_psl_get())) == NULL ||
	    dmarc_start(c->dmarc, c->from_domain) == -1) {
		c->dmarc_chain.phase = PH_DONE;
		return;
	}
	dmarc_defer(c->dmarc);
	c->dmarc_on = 1;
	c->dmarc_chain.phase = PH_DMARC;
	chain_run(&c->dmarc_chain, NULL);
}

/*
 * The header block is in (the body may still be streaming): the DKIM
 * keys and the DMARC record are asked now, in parallel, once.
 */
void
check_header_end(struct smtp_check *c)
{
	if (c->header_end)
		return;
	c->header_end = 1;
	check_ask_keys(c);
	check_start_dmarc(c);
}

/* The body is in: wait for what is still out, then done(s). */
void
check_end(struct smtp_check *c, void (*done)(struct smtp_session *))
{
	c->done = done;
	c->ending = 1;
	if (c->dkim != NULL)
		dkim_verify_final(c->dkim);
	/* A message that ended inside its header: asked now. */
	check_header_end(c);
	/* Signatures first found by dkim_verify_final(). */
	check_ask_keys(c);
	check_try_finish(c);
	c->ending = 0;
}

/*
 * Once the body is in and every answer is: DKIM's signatures checked,
 * DMARC judged with the SPF and DKIM results, then the session told.
 */
static void
check_try_finish(struct smtp_check *c)
{
	const struct dkim_result *dr;
	size_t			 i;

	if (c->done == NULL || c->concluded || c->keys_out > 0 ||
	    c->dmarc_chain.phase == PH_DMARC ||
	    (c->spf_chain.phase != PH_DONE && c->spf_chain.phase != PH_IDLE))
		return;
	if (c->dkim != NULL && !dkim_verify_done(c->dkim))
		return;
	c->concluded = 1;
	if (c->dmarc_on) {
		dmarc_set_spf(c->dmarc, c->spf_from == SPF_PASS,
		    c->spf_domain);
		for (i = 0; c->dkim != NULL &&
		    i < dkim_verify_count(c->dkim); i++) {
			dr = dkim_verify_result(c->dkim, i);
			dmarc_add_dkim(c->dmarc, dr->result == DKIM_PASS,
			    dr->domain);
		}
		dmarc_conclude(c->dmarc);
		c->dmarc_result = dmarc_result(c->dmarc);
		c->dmarc_policy = dmarc_policy(c->dmarc);
		c->dmarc_published = dmarc_published(c->dmarc);
	}
	check_finish(c);
}

static void
check_done_later(int fd, short ev, void *arg)
{
	check_finish(arg);
}

/* An LKA_DNS_ANSWER (or its failure, imsg NULL) as a dnsq answer. */
void
check_dns_decode(struct imsg *imsg, union imsg_msg *m,
    struct dnsq_answer *ans)
{
	struct msg_lka_dns_answer *a;
	struct rec_lka_rr	 e;

	if (imsg == NULL || imsg->hdr.type != IMSG_LKA_DNS_ANSWER) {
		dnsq_answer_init(ans, DNSQ_SERVFAIL);
		return;
	}
	a = &m->lka_dns_answer;
	dnsq_answer_init(ans, a->rcode);
	ans->truncated = a->truncated;
	while (rec_lka_rr_next(imsg, &a->rrs, &e) == 0) {
		if (e.type == DNSQ_A && e.addr_len == 4)
			(void)dnsq_answer_add_a(ans, e.addr);
		else if (e.type == DNSQ_AAAA && e.addr_len == 16)
			(void)dnsq_answer_add_aaaa(ans, e.addr);
		else if (e.type == DNSQ_TXT)
			(void)dnsq_answer_add_txt(ans, e.text,
			    strlen(e.text));
		else if (e.type == DNSQ_MX || e.type == DNSQ_PTR)
			(void)dnsq_answer_add_name(ans, e.type,
			    e.pref, e.text);
	}
}

static void
check_dns_answer(struct channel_req *r, struct imsg *imsg,
    union imsg_msg *m)
{
	check_dns_decode(imsg, m, &check_answer);
	chain_run(r->arg, &check_answer);
}

/*
 * A question to the lookup process on req, answered through cb(req's
 * answer or its failure, arg): 0, or -1 if the lookup process is not
 * there.
 */
int
check_dns_ask(struct channel_req *req, const struct dnsq_query *q,
    channel_answer_cb cb, void *arg)
{
	struct msg_lka_dns_query	 m = { .name = q->name,
					    .type = q->type };
	struct channel			*lk;

	if ((lk = engine_lookup_channel()) == NULL)
		return -1;
	m.id = channel_req_add(lk, req, CHECK_DNS_TIMEOUT, cb, arg);
	if (channel_send(lk, msg_lka_dns_query_pack(&m, -1)) == -1) {
		channel_req_cancel(req);
		return -1;
	}
	return 0;
}

/* Send the question: 0, or -1 if the lookup process is not there. */
static int
chain_ask(struct check_chain *ch, const struct dnsq_query *q)
{
	return check_dns_ask(&ch->req, q, check_dns_answer, ch);
}

/* One evaluator step: 1 with a question in q, 0 when the chain is done. */
static int
chain_step(struct check_chain *ch, const struct dnsq_answer *a,
    struct dnsq_query *q)
{
	struct smtp_check	*c = ch->c;
	struct smtp_session	*s = c->tx->session;

	for (;;) {
		switch (ch->phase) {
		case PH_SPF_HELO:
		case PH_SPF_FROM:
			if (spf_step(c->spf, a, q) == SPF_STEP_DNS)
				return 1;
			a = NULL;
			if (ch->phase == PH_SPF_HELO) {
				c->spf_helo = spf_result(c->spf);
				if (spf_start(c->spf, SPF_MAILFROM, s->ip,
				    s->helo, c->tx->sender) == -1) {
					c->spf_from = SPF_TEMPERROR;
					ch->phase = PH_DONE;
					continue;
				}
				spf_set_receiver(c->spf,
				    smtpd_conf->hostname);
				ch->phase = PH_SPF_FROM;
				continue;
			}
			c->spf_from = spf_result(c->spf);
			strlcpy(c->spf_domain, spf_domain(c->spf),
			    sizeof(c->spf_domain));
			strlcpy(c->spf_reason, spf_reason(c->spf),
			    sizeof(c->spf_reason));
			ch->phase = PH_DONE;
			check_try_finish(c);
			return 0;
		case PH_DMARC:
			if (dmarc_step(c->dmarc, a, q) == DMARC_STEP_DNS)
				return 1;
			ch->phase = PH_DONE;
			check_try_finish(c);
			return 0;
		case PH_IDLE:
		case PH_DONE:
			return 0;
		}
	}
}

/*
 * Step until a question must wait for its answer.  A question that
 * cannot be sent is answered SERVFAIL on the spot.
 */
static void
chain_run(struct check_chain *ch, const struct dnsq_answer *a)
{
	struct dnsq_query	 q;

	while (chain_step(ch, a, &q)) {
		if (chain_ask(ch, &q) == 0)
			return;
		dnsq_answer_init(&check_answer, DNSQ_SERVFAIL);
		a = &check_answer;
	}
}

/*
 * Tell the session.  Not from inside check_end(): the session is in
 * the middle of reading its input there.
 */
static void
check_finish(struct smtp_check *c)
{
	struct timeval	 tv = { 0, 0 };
	void		(*done)(struct smtp_session *) = c->done;

	if (c->ending) {
		evtimer_add(&c->later, &tv);
		return;
	}
	c->done = NULL;
	if (done != NULL)
		done(c->tx->session);
}

/* Some check could not be done for now (DNS). */
static int
check_temperror(const struct smtp_check *c)
{
	const struct dkim_result *dr;
	size_t			 i;

	if (c->spf_from == SPF_TEMPERROR || c->dmarc_result ==
	    DMARC_TEMPERROR)
		return 1;
	for (i = 0; c->dkim != NULL && i < dkim_verify_count(c->dkim); i++) {
		dr = dkim_verify_result(c->dkim, i);
		if (dr->result == DKIM_TEMPERROR)
			return 1;
	}
	return 0;
}

/*
 * What to do with the message.  A DMARC failure whose SPF or DKIM half
 * could not be checked is a temperror, never a reject: the pass that
 * was missing may have been there.
 */
enum check_action
check_verdict(struct smtp_check *c, char *reason, size_t reasonsz)
{
	const struct conf_listen *cl = c->tx->session->l->cl;
	int	 temp = check_temperror(c);

	reason[0] = '\0';
	if (c->dmarc_result == DMARC_FAIL && !temp) {
		if (c->dmarc_policy == DMARC_P_REJECT) {
			switch (CONF_CHECK(cl, smtpd_conf,
			    check_dmarc_reject)) {
			case CHECK_DMARC_REJECT:
				(void)snprintf(reason, reasonsz, "DMARC "
				    "policy of %s rejects this message (%s)",
				    c->from_domain, dmarc_reason(c->dmarc));
				return CHECK_REJECT;
			case CHECK_DMARC_QUARANTINE:
				return CHECK_QUARANTINE;
			default:
				return CHECK_ACCEPT;
			}
		}
		if (c->dmarc_policy == DMARC_P_QUARANTINE)
			return CHECK_QUARANTINE;
		return CHECK_ACCEPT;
	}
	if (temp && CONF_CHECK(cl, smtpd_conf, check_tempfail) ==
	    CHECK_TEMPFAIL_DEFER) {
		(void)snprintf(reason, reasonsz, "Sender authentication "
		    "could not be checked (DNS), try again later");
		return CHECK_TEMPFAIL;
	}
	return CHECK_ACCEPT;
}

static const char *
action_name(enum check_action a)
{
	switch (a) {
	case CHECK_ACCEPT:
		return "accept";
	case CHECK_QUARANTINE:
		return "quarantine";
	case CHECK_REJECT:
		return "reject";
	case CHECK_TEMPFAIL:
		return "tempfail";
	}
	return "?";
}

/* The header fields for the queue to prepend: their length, 0 if none. */
size_t
check_fields(struct smtp_check *c, enum check_action action, char *buf,
    size_t bufsz)
{
	struct smtp_session	*s = c->tx->session;
	struct authres		 ar;
	struct received_spf	 rs;
	const char		*f;
	size_t			 i, len = 0, n;
	int			 r;

	buf[0] = '\0';
	authres_init(&ar, smtpd_conf->hostname);
	if ((c->flags & LISTEN_IPREV) && s->iprev_result != -1)
		authres_iprev(&ar, iprev_result_name(s->iprev_result), s->ip,
		    s->iprev_name);
	if (c->flags & LISTEN_SPF) {
		authres_spf(&ar, spf_result_name(c->spf_from), 0,
		    c->tx->sender[0] != '\0' ? c->tx->sender :
		    c->spf_domain);
		authres_spf(&ar, spf_result_name(c->spf_helo), 1, s->helo);
	}
	if (c->dkim != NULL) {
		for (i = 0; i < dkim_verify_count(c->dkim); i++)
			authres_dkim(&ar, dkim_verify_result(c->dkim, i));
		if (dkim_verify_count(c->dkim) == 0)
			authres_dkim_none(&ar);
	}
	if (c->dmarc_result != -1)
		authres_dmarc(&ar, dmarc_result_name(c->dmarc_result),
		    c->dmarc_published >= 0 ?
		    dmarc_policy_name(c->dmarc_published) : NULL,
		    c->from_domain);
	f = authres_field(&ar, &n);
	if (n < bufsz) {
		memcpy(buf, f, n + 1);
		len = n;
	}
	if ((c->flags & LISTEN_SPF) && smtpd_conf->check_received_spf) {
		memset(&rs, 0, sizeof(rs));
		rs.result = spf_result_name(c->spf_from);
		rs.receiver = smtpd_conf->hostname;
		rs.ip = s->ip;
		rs.sender = c->spf != NULL ? spf_sender(c->spf) : "";
		rs.helo = s->helo;
		rs.problem = c->spf_from == SPF_TEMPERROR ||
		    c->spf_from == SPF_PERMERROR ? c->spf_reason : NULL;
		if ((r = received_spf_field(&rs, buf + len, bufsz - len)) > 0)
			len += r;
		else
			buf[len] = '\0';
	}
	/*
	 * Quarantine is a mark for the reader's filters (X-Spam-Flag is
	 * what Sieve scripts and mail clients look for); delivery into
	 * the Junk folder by tsamba-lmtpd is still to come.
	 */
	if (action == CHECK_QUARANTINE && (r = snprintf(buf + len,
	    bufsz - len, "X-Tsamba-Quarantine: DMARC policy of %s\r\n"
	    "X-Spam-Flag: YES\r\n", c->from_domain)) > 0 &&
	    (size_t)r < bufsz - len)
		len += r;
	else
		buf[len] = '\0';
	return len;
}

/* The counters of tsamba-metricsd (tsamba-smtpd(8), METRICS). */
static void
check_count(struct smtp_check *c, enum check_action action)
{
	size_t	 i;

	stats_inc(ST_CHECK_ACTIONS, action);
	if (c->flags & LISTEN_SPF)
		stats_inc(ST_CHECK_SPF, stats_label_index(SL_AUTHRESULT,
		    spf_result_name(c->spf_from)));
	for (i = 0; c->dkim != NULL && i < dkim_verify_count(c->dkim); i++)
		stats_inc(ST_CHECK_DKIM, stats_label_index(SL_AUTHRESULT,
		    dkim_result_name(dkim_verify_result(c->dkim,
		    i)->result)));
	if (c->dkim != NULL && dkim_verify_count(c->dkim) == 0)
		stats_inc(ST_CHECK_DKIM, stats_label_index(SL_AUTHRESULT,
		    "none"));
	if (c->flags & LISTEN_DMARC)
		stats_inc(ST_CHECK_DMARC, stats_label_index(SL_AUTHRESULT,
		    c->dmarc_result != -1 ?
		    dmarc_result_name(c->dmarc_result) : "none"));
}

/* The one line per message with every verdict (tsamba-smtpd(8)). */
void
check_log(struct smtp_check *c, enum check_action action)
{
	struct smtp_session	*s = c->tx->session;
	const struct dkim_result *dr;
	char			 dkim[512], from[4 * ADDR_MAX + 1];
	char			 one[DNSQ_NAME_MAX + 32];
	size_t			 i;

	dkim[0] = '\0';
	if (c->dkim == NULL)
		strlcpy(dkim, "off", sizeof(dkim));
	else if (dkim_verify_count(c->dkim) == 0)
		strlcpy(dkim, "none", sizeof(dkim));
	for (i = 0; c->dkim != NULL && i < dkim_verify_count(c->dkim); i++) {
		dr = dkim_verify_result(c->dkim, i);
		(void)snprintf(one, sizeof(one), "%s%s:d=%s", i ? "," : "",
		    dkim_result_name(dr->result),
		    dr->domain[0] ? dr->domain : "-");
		strlcat(dkim, one, sizeof(dkim));
	}
	log_quote(from, sizeof(from), c->tx->sender);
	log_info("verdict: client=[%s] session=%016llx msgid=%s "
	    "spf=%s spf.from=<%s> spf.helo=%s dkim=%s dmarc=%s "
	    "dmarc.from=%s policy=%s action=%s iprev=%s iprev.name=%s",
	    s->ip,
	    (unsigned long long)s->id, c->tx->msgid,
	    (c->flags & LISTEN_SPF) ? spf_result_name(c->spf_from) : "off",
	    from,
	    (c->flags & LISTEN_SPF) ? spf_result_name(c->spf_helo) : "off",
	    dkim,
	    c->dmarc_result != -1 ? dmarc_result_name(c->dmarc_result) :
	    (c->flags & LISTEN_DMARC) ? "none" : "off",
	    c->from_domain[0] ? c->from_domain : "-",
	    c->dmarc_result != -1 && c->dmarc_published >= 0 ?
	    dmarc_policy_name(c->dmarc_published) : "none",
	    action_name(action),
	    !(c->flags & LISTEN_IPREV) ? "off" : s->iprev_result == -1 ?
	    "none" : iprev_result_name(s->iprev_result),
	    s->iprev_name[0] != '\0' ? s->iprev_name : "-");
	check_count(c, action);
}
