/*
 * authcheck: the test driver that runs lib/spf.c, lib/dkim_verify.c,
 * lib/dmarc.c and lib/authres.c over canned DNS (zone.h) for one
 * message, so that regress/integration/test_authcheck.py can compare
 * the verdicts with python3-spf and python3-dkim and parse the header
 * with python3-authres.  Not installed; built with the tests.
 *
 *	authcheck -z zone -i ip -h helo -f mailfrom [-m message]
 *	    [-a authserv-id] [-p psl] [-t now]
 *
 * prints "spf RESULT" (and "spf-exp TEXT" with an explanation), one
 * "dkim RESULT DOMAIN SELECTOR" per signature,
 * "dmarc RESULT POLICY", then the Authentication-Results field.
 */

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "author.h"
#include "authres.h"
#include "dkim_verify.h"
#include "dmarc.h"
#include "psl.h"
#include "spf.h"
#include "zone.h"

static struct zone	 zone;
static struct dnsq_answer answer;

static char *
read_file(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		err(2, "%s", path);
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1)
		err(2, "%s", path);
	if ((buf = malloc(n + 1)) == NULL)
		err(2, NULL);
	if (fread(buf, 1, n, f) != (size_t)n)
		err(2, "%s", path);
	buf[n] = '\0';
	fclose(f);
	*len = n;
	return buf;
}

static int
run_spf(struct spf *s, int identity, const char *ip, const char *helo,
    const char *from, const char *receiver)
{
	struct dnsq_query	 q;
	int			 r;

	if (spf_start(s, identity, ip, helo, from) == -1)
		errx(2, "%s: not an address", ip);
	spf_set_receiver(s, receiver);
	r = spf_step(s, NULL, &q);
	while (r == SPF_STEP_DNS) {
		zone_answer(&zone, &q, &answer);
		r = spf_step(s, &answer, &q);
	}
	return spf_result(s);
}

/* The author domain of the first From: field, "" if none. */
static void
from_domain(const char *msg, char *out, size_t outsz)
{
	const char	*p, *end;

	out[0] = '\0';
	for (p = msg; *p != '\0' && *p != '\r' && *p != '\n';) {
		end = strchr(p, '\n');
		/* The field runs on over its continuation lines. */
		while (end != NULL && (end[1] == ' ' || end[1] == '\t'))
			end = strchr(end + 1, '\n');
		if (end == NULL)
			end = p + strlen(p);
		if (strncasecmp(p, "From:", 5) == 0) {
			if (author_domain(p + 5, end - p - 5, out, outsz) !=
			    AUTHOR_OK)
				out[0] = '\0';
			return;
		}
		if (*end == '\0')
			return;
		p = end + 1;
	}
}

int
main(int argc, char *argv[])
{
	const char	*zfile = NULL, *ip = NULL, *helo = NULL, *from = NULL;
	const char	*mfile = NULL, *id = "mx.test", *pslfile = NULL;
	const struct dkim_result *dr;
	struct dkim_verify *v;
	struct dnsq_query q;
	struct authres	 ar;
	struct spf	*s;
	struct dmarc	*dm;
	struct psl	*psl = NULL;
	char		*ztext, *msg = NULL, fromdom[256], errbuf[128];
	size_t		 len, mlen = 0, i, off;
	long long	 now = 0;
	int		 c, spf_res, r;

	while ((c = getopt(argc, argv, "a:f:h:i:m:p:t:z:")) != -1) {
		switch (c) {
		case 'a':
			id = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'h':
			helo = optarg;
			break;
		case 'i':
			ip = optarg;
			break;
		case 'm':
			mfile = optarg;
			break;
		case 'p':
			pslfile = optarg;
			break;
		case 't':
			now = strtoll(optarg, NULL, 10);
			break;
		case 'z':
			zfile = optarg;
			break;
		default:
			return 2;
		}
	}
	if (zfile == NULL || ip == NULL || helo == NULL || from == NULL)
		errx(2, "usage: authcheck -z zone -i ip -h helo -f mailfrom "
		    "[-m message] [-a authserv-id] [-p psl] [-t now]");
	ztext = read_file(zfile, &len);
	zone_load(&zone, ztext);
	if (pslfile != NULL &&
	    (psl = psl_load(pslfile, errbuf, sizeof(errbuf))) == NULL)
		errx(2, "%s", errbuf);

	authres_init(&ar, id);
	s = spf_new();
	spf_res = run_spf(s, SPF_MAILFROM, ip, helo, from, id);
	printf("spf %s\n", spf_result_name(spf_res));
	if (spf_explanation(s)[0] != '\0')
		printf("spf-exp %s\n", spf_explanation(s));
	authres_spf(&ar, spf_result_name(spf_res), 0, from[0] != '\0' ?
	    from : spf_domain(s));

	if (mfile == NULL) {
		printf("--\n%s", authres_field(&ar, NULL));
		return 0;
	}
	msg = read_file(mfile, &mlen);
	v = dkim_verify_new();
	if (now != 0)
		dkim_verify_set_time(v, now);
	/* Fed in chunks as a session would. */
	for (off = 0; off < mlen; off += 4096)
		dkim_verify_update(v, msg + off, mlen - off < 4096 ?
		    mlen - off : 4096);
	dkim_verify_final(v);
	r = dkim_verify_step(v, NULL, &q);
	while (r == DKIM_STEP_DNS) {
		zone_answer(&zone, &q, &answer);
		r = dkim_verify_step(v, &answer, &q);
	}
	from_domain(msg, fromdom, sizeof(fromdom));
	dm = dmarc_new(psl);
	if (dmarc_start(dm, fromdom) == 0)
		dmarc_set_spf(dm, spf_res == SPF_PASS, spf_domain(s));
	for (i = 0; i < dkim_verify_count(v); i++) {
		dr = dkim_verify_result(v, i);
		printf("dkim %s %s %s\n", dkim_result_name(dr->result),
		    dr->domain[0] ? dr->domain : "-",
		    dr->selector[0] ? dr->selector : "-");
		authres_dkim(&ar, dr);
		dmarc_add_dkim(dm, dr->result == DKIM_PASS, dr->domain);
	}
	if (dkim_verify_count(v) == 0)
		authres_dkim_none(&ar);
	r = dmarc_step(dm, NULL, &q);
	while (r == DMARC_STEP_DNS) {
		zone_answer(&zone, &q, &answer);
		r = dmarc_step(dm, &answer, &q);
	}
	printf("dmarc %s %s\n", dmarc_result_name(dmarc_result(dm)),
	    dmarc_policy_name(dmarc_policy(dm)));
	authres_dmarc(&ar, dmarc_result_name(dmarc_result(dm)),
	    dmarc_published(dm) >= 0 ?
	    dmarc_policy_name(dmarc_published(dm)) : NULL, fromdom);
	printf("--\n%s", authres_field(&ar, NULL));
	dmarc_free(dm);
	dkim_verify_free(v);
	spf_free(s);
	psl_free(psl);
	free(msg);
	free(ztext);
	zone_free(&zone);
	return 0;
}
