/*
 * tsambactl check-message: the inbound checks of tsamba-smtpd (FCrDNS
 * of the address, SPF of the HELO name and the sender, DKIM, DMARC) run
 * on a message file, as
 * if it came from --ip with --helo and --from, against the resolver of
 * tsamba.conf ("check resolver", else "mta resolver", else
 * /etc/resolv.conf).  The same lib/ evaluators, asked their DNS
 * questions one at a time with libunbound's blocking call: a tool may
 * wait.  Prints one line per verdict, the Authentication-Results field
 * and what the server would do; exit 0, or 2 on bad usage or input.
 *
 *	tsambactl check-message FILE --ip A --helo H --from S
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>


#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>
#include <unistd.h>

#include "author.h"
#include "authres.h"
#include "conf.h"
#include "ctl.h"
#include "dkim_verify.h"
#include "dmarc.h"
#include "dnsq.h"
#include "dnsq_unbound.h"
#include "fileio.h"
#include "iprev.h"
#include "psl.h"
#include "spf.h"

#define CHECKMSG_FILE_MAX	(64 * 1024 * 1024)

static struct ub_ctx		*ub;
static struct dnsq_answer	 answer;

static int
checkmsg_resolver(const struct conf *conf)
{
	const char	*fwd = conf->check_resolver[0] != '\0' ?
			    conf->check_resolver : conf->mta_resolver;
	char		 err[256];

	/* Unlike the daemons, no root fallback: the admin asked for a test. */
	if ((ub = dnsq_ub_new(fwd, "check resolver", err, sizeof(err))) ==
	    NULL || err[0] != '\0') {
		ctl_warnx("resolver: %s", err);
		return -1;
	}
	return 0;
}

/* One question, answered as the lookup process would. */
static const struct dnsq_answer *
checkmsg_resolve(const struct dnsq_query *q)
{
	struct ub_result	*res = NULL;
	char			 name[DNSQ_NAME_MAX * 4];
	int			 err;

	if (dnsq_name_escape(q->name, name, sizeof(name)) == -1) {
		dnsq_answer_init(&answer, DNSQ_SERVFAIL);
		return &answer;
	}
	err = ub_resolve(ub, name, q->type, 1, &res);
	dnsq_answer_from_ub(&answer, q->type, err, res);
	if (res != NULL)
		ub_resolve_free(res);
	return &answer;
}

static int
checkmsg_spf(struct spf *s, int identity, const char *ip, const char *helo,
    const char *from, const char *receiver)
{
	struct dnsq_query	 q;
	int			 r;

	if (spf_start(s, identity, ip, helo, from) == -1)
		return -1;
	spf_set_receiver(s, receiver);
	for (r = spf_step(s, NULL, &q); r == SPF_STEP_DNS;)
		r = spf_step(s, checkmsg_resolve(&q), &q);
	return spf_result(s);
}

/* The author domain of the only From: field: 0, or -1 (none, several). */
static int
checkmsg_author(const char *msg, size_t len, char *out, size_t outsz)
{
	const char	*p = msg, *end, *lim = msg + len, *field = NULL;
	size_t		 flen = 0;
	int		 n = 0;

	while (p < lim && *p != '\r' && *p != '\n') {
		end = p;
		/* A field runs on over its continuation lines. */
		do {
			end = memchr(end, '\n', lim - end);
			end = end == NULL ? lim : end + 1;
		} while (end < lim && (*end == ' ' || *end == '\t'));
		if (end - p >= 5 && strncasecmp(p, "From:", 5) == 0) {
			field = p + 5;
			flen = end - p - 5;
			n++;
		}
		p = end;
	}
	if (n != 1 || author_domain(field, flen, out, outsz) != AUTHOR_OK)
		return -1;
	return 0;
}

/*
 * FCrDNS of the address, as a listener with "iprev" finds it (printed
 * whatever the listeners say; it decides nothing here).
 */
static void
checkmsg_iprev(const char *ip, struct authres *ar)
{
	struct sockaddr_storage	 ss;
	struct iprev		 iv;
	struct dnsq_query	 q;
	int			 r;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) ==
	    1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (iprev_start(&iv, &ss) == -1)
		return;		/* not an address: SPF says so */
	for (r = iprev_step(&iv, NULL, &q); r == IPREV_STEP_DNS;)
		r = iprev_step(&iv, checkmsg_resolve(&q), &q);
	printf("iprev: %s name=%s\n", iprev_result_name(iprev_result(&iv)),
	    iprev_name(&iv)[0] ? iprev_name(&iv) : "-");
	authres_iprev(ar, iprev_result_name(iprev_result(&iv)), ip,
	    iprev_name(&iv));
}

int
cmd_check_message(int argc, char *argv[])
{
	struct conf		*conf;
	const char		*file = NULL, *ip = NULL, *helo = NULL;
	const char		*from = NULL, *action;
	const struct dkim_result *dr;
	struct dkim_verify	*v;
	struct dnsq_query	 q;
	struct authres		 ar;
	struct spf		*s;
	struct dmarc		*dm;
	struct psl		*psl;
	char			*msg, author[DNSQ_NAME_MAX], err[256];
	size_t			 len, i;
	int			 a, spf_helo, spf_from, r, temp = 0, res, fd;

	ctl->what = "check-message";
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--ip") == 0 && a + 1 < argc)
			ip = argv[++a];
		else if (strcmp(argv[a], "--helo") == 0 && a + 1 < argc)
			helo = argv[++a];
		else if (strcmp(argv[a], "--from") == 0 && a + 1 < argc)
			from = argv[++a];
		else if (file == NULL && argv[a][0] != '-')
			file = argv[a];
		else
			ctl_usage();
	}
	if (file == NULL || ip == NULL || helo == NULL || from == NULL)
		ctl_usage();
	conf = ctl_conf();
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fileio_read_fd(fd, CHECKMSG_FILE_MAX, &msg, &len) == -1) {
		ctl_warn("%s", file);
		return 2;
	}
	close(fd);
	if (checkmsg_resolver(conf) == -1)
		return 2;
	if ((psl = psl_load(conf->check_psl, err, sizeof(err))) == NULL)
		printf("psl: %s: %s (last two labels used)\n", conf->check_psl,
		    err);

	authres_init(&ar, conf->hostname);
	checkmsg_iprev(ip, &ar);
	if ((s = spf_new()) == NULL)
		ctl_errx("out of memory");
	if ((spf_helo = checkmsg_spf(s, SPF_HELO, ip, helo, from,
	    conf->hostname)) == -1) {
		ctl_warnx("%s: not an IP address", ip);
		return 2;
	}
	printf("spf.helo: %s (%s)\n", spf_result_name(spf_helo),
	    spf_reason(s));
	spf_from = checkmsg_spf(s, SPF_MAILFROM, ip, helo, from,
	    conf->hostname);
	printf("spf.from: %s (%s) domain=%s\n", spf_result_name(spf_from),
	    spf_reason(s), spf_domain(s));
	temp |= spf_from == SPF_TEMPERROR;
	authres_spf(&ar, spf_result_name(spf_from), 0, from[0] != '\0' ?
	    from : spf_domain(s));
	authres_spf(&ar, spf_result_name(spf_helo), 1, helo);

	if ((v = dkim_verify_new()) == NULL)
		ctl_errx("out of memory");
	dkim_verify_update(v, msg, len);
	dkim_verify_final(v);
	for (r = dkim_verify_step(v, NULL, &q); r == DKIM_STEP_DNS;)
		r = dkim_verify_step(v, checkmsg_resolve(&q), &q);
	for (i = 0; i < dkim_verify_count(v); i++) {
		dr = dkim_verify_result(v, i);
		printf("dkim: %s d=%s s=%s%s%s\n", dkim_result_name(dr->result),
		    dr->domain[0] ? dr->domain : "-",
		    dr->selector[0] ? dr->selector : "-",
		    dr->reason[0] ? " " : "", dr->reason);
		temp |= dr->result == DKIM_TEMPERROR;
		authres_dkim(&ar, dr);
	}
	if (dkim_verify_count(v) == 0) {
		printf("dkim: none\n");
		authres_dkim_none(&ar);
	}

	action = "accept";
	if (checkmsg_author(msg, len, author, sizeof(author)) == -1 ||
	    (dm = dmarc_new(psl)) == NULL || dmarc_start(dm, author) == -1)
		printf("dmarc: none (no single author domain)\n");
	else {
		dmarc_set_spf(dm, spf_from == SPF_PASS, spf_domain(s));
		for (i = 0; i < dkim_verify_count(v); i++) {
			dr = dkim_verify_result(v, i);
			dmarc_add_dkim(dm, dr->result == DKIM_PASS,
			    dr->domain);
		}
		for (r = dmarc_step(dm, NULL, &q); r == DMARC_STEP_DNS;)
			r = dmarc_step(dm, checkmsg_resolve(&q), &q);
		res = dmarc_result(dm);
		printf("dmarc: %s from=%s org=%s published=%s apply=%s (%s)\n",
		    dmarc_result_name(res), author, dmarc_org_domain(dm),
		    dmarc_published(dm) >= 0 ?
		    dmarc_policy_name(dmarc_published(dm)) : "none",
		    dmarc_policy_name(dmarc_policy(dm)), dmarc_reason(dm));
		authres_dmarc(&ar, dmarc_result_name(res),
		    dmarc_published(dm) >= 0 ?
		    dmarc_policy_name(dmarc_published(dm)) : NULL, author);
		temp |= res == DMARC_TEMPERROR;
		/* As smtp_check.c decides. */
		if (res == DMARC_FAIL && !temp &&
		    dmarc_policy(dm) == DMARC_P_REJECT)
			action = conf->check_dmarc_reject ==
			    CHECK_DMARC_REJECT ? "reject" :
			    conf->check_dmarc_reject ==
			    CHECK_DMARC_QUARANTINE ? "quarantine" : "accept";
		else if (res == DMARC_FAIL && !temp &&
		    dmarc_policy(dm) == DMARC_P_QUARANTINE)
			action = "quarantine";
		dmarc_free(dm);
	}
	if (strcmp(action, "accept") == 0 && temp &&
	    conf->check_tempfail == CHECK_TEMPFAIL_DEFER)
		action = "tempfail";
	printf("action: %s\n%s", action, authres_field(&ar, NULL));
	dkim_verify_free(v);
	spf_free(s);
	psl_free(psl);
	ub_ctx_delete(ub);
	free(msg);
	return 0;
}
