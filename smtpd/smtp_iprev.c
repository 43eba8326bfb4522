/*
 * FCrDNS of the client (RFC 8601 iprev) on a listener with "iprev":
 * asked while the client connects, alongside the DNS lists, through
 * the lookup process; lib/iprev.c says which question comes next.  The
 * result goes into the verdict line and Authentication-Results
 * (smtp_check.c) and, with "iprev-fail tempfail|reject", is enforced
 * at MAIL FROM for clients that did not authenticate (smtp_session.c),
 * so that our own users on a dynamic address are never refused.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "conf.h"
#include "dnsq.h"
#include "esc.h"
#include "iprev.h"
#include "log.h"
#include "proto.h"
#include "smtpd.h"
#include "stats.h"

struct smtp_iprev {
	struct smtp_session	*s;
	struct channel_req	 req;
	struct iprev		 ip;
	struct dnsq_answer	 answer;
	void			(*done)(struct smtp_session *);
};

static void	iprev_run(struct smtp_iprev *, const struct dnsq_answer *);

static void
iprev_answer(struct channel_req *r, struct imsg *imsg, union imsg_msg *m)
{
	struct smtp_iprev	*v = r->arg;

	check_dns_decode(imsg, m, &v->answer);
	iprev_run(v, &v->answer);
}

/* The result into the session; the run ends. */
static void
iprev_finish(struct smtp_iprev *v)
{
	struct smtp_session	*s = v->s;
	void			(*done)(struct smtp_session *) = v->done;

	s->iprev_result = iprev_result(&v->ip);
	strlcpy(s->iprev_name, iprev_name(&v->ip), sizeof(s->iprev_name));
	stats_inc(ST_CHECK_IPREV, stats_label_index(SL_AUTHRESULT,
	    iprev_result_name(s->iprev_result)));
	s->iprev = NULL;
	free(v);
	if (done != NULL)
		done(s);
}

/*
 * Step until a question is out.  One that cannot be sent is answered
 * SERVFAIL (a temperror); a run that ends here, from inside
 * smtp_iprev_start(), has no done() to call yet.
 */
static void
iprev_run(struct smtp_iprev *v, const struct dnsq_answer *a)
{
	struct dnsq_query	 q;

	while (iprev_step(&v->ip, a, &q) == IPREV_STEP_DNS) {
		if (check_dns_ask(&v->req, &q, iprev_answer, v) == 0)
			return;
		dnsq_answer_init(&v->answer, DNSQ_SERVFAIL);
		a = &v->answer;
	}
	iprev_finish(v);
}

int
smtp_iprev_start(struct smtp_session *s, void (*done)(struct smtp_session *))
{
	struct smtp_iprev	*v;

	if (!(s->l->cl->flags & LISTEN_IPREV))
		return -1;
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		log_warn("session %016llx: iprev", (unsigned long long)s->id);
		s->iprev_result = IPREV_TEMPERROR;
		return -1;
	}
	v->s = s;
	s->iprev = v;
	if (iprev_start(&v->ip, &s->ss) == -1) {
		iprev_finish(v);
		return -1;
	}
	iprev_run(v, NULL);
	if (s->iprev == NULL)
		return -1;	/* done already, nothing to wait for */
	v->done = done;
	return 0;
}

void
smtp_iprev_cancel(struct smtp_session *s)
{
	if (s->iprev == NULL)
		return;
	channel_req_cancel(&s->iprev->req);
	free(s->iprev);
	s->iprev = NULL;
}

/*
 * "iprev-fail tempfail|reject": a client whose address has no matching
 * FCrDNS gets 450 4.7.25 or 550 5.7.25 (RFC 7372) at MAIL FROM.  A
 * lookup that failed is never a reject: 451 4.7.25 with "on-tempfail
 * tempfail", else the message goes on.
 */
int
smtp_iprev_refuse(struct smtp_session *s)
{
	const struct conf_listen	*cl = s->l->cl;
	int				 fail;

	if (!(cl->flags & LISTEN_IPREV) ||
	    (fail = CONF_CHECK(cl, smtpd_conf, check_iprev)) ==
	    CHECK_IPREV_LOG)
		return 0;
	if (s->iprev_result == IPREV_FAIL) {
		if (fail == CHECK_IPREV_REJECT)
			smtp_status(s, 550, ESC_REVERSE_DNS_FAILED, "Client "
			    "[%s] has no matching reverse DNS name", s->ip);
		else
			smtp_status(s, 450, ESC_REVERSE_DNS_FAILED, "Client "
			    "[%s] has no matching reverse DNS name, try again "
			    "later", s->ip);
		return 1;
	}
	if (s->iprev_result == IPREV_TEMPERROR && CONF_CHECK(cl, smtpd_conf,
	    check_tempfail) == CHECK_TEMPFAIL_DEFER) {
		smtp_status(s, 451, ESC_REVERSE_DNS_FAILED, "Reverse DNS of "
		    "[%s] could not be checked, try again later", s->ip);
		return 1;
	}
	return 0;
}
