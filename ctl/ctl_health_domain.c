/*
 * tsambactl health: the DNS an admin gets wrong, for this host and for
 * each hosted domain.
 *
 *   dns host   the hostname of tsamba.conf has A/AAAA records and each
 *              address has a PTR naming the hostname again (forward-
 *              confirmed reverse DNS, which receivers check)
 *   dns mx     the domain's MX records include the hostname
 *   dns spf    the domain's SPF record passes each of the host's
 *              addresses (ctl_health_spf.c)
 *   dns dkim   ctl_health_dkim.c
 *   dns dmarc  _dmarc.DOMAIN holds one parseable DMARC record
 *              (RFC 7489 6.3: v=DMARC1 first, p= a known policy)
 *
 * Severities: what makes mail bounce or be refused is FAIL (no MX to
 * this host, FCrDNS broken, SPF fail or permerror, a DKIM record that
 * does not match, a broken DMARC record); what makes it suspect is
 * WARN (SPF softfail, neutral or none, no DMARC record, a lookup that
 * failed for now).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "ctl_health.h"

#define HOST_ADDRS_MAX		16
#define MX_MAX			16
#define DMARC_RECORDS_MAX	8

struct host_addrs {
	struct hdns_addr	 a[HOST_ADDRS_MAX];
	size_t			 n;
};

/* The hostname against its own PTR records. */
static void
host_check(struct health *h, struct host_addrs *ha)
{
	const char	*host = h->conf->hostname;
	char		 ptr[4][HDNS_NAME_MAX], name[HEALTH_NAME_MAX];
	char		 err[HEALTH_DETAIL_MAX], as[64];
	char		 seen[HEALTH_DETAIL_MAX];
	size_t		 i, j, n;
	int		 ok;

	snprintf(name, sizeof(name), "dns host %s", host);
	if (hdns_addrs(host, ha->a, HOST_ADDRS_MAX, &ha->n, err,
	    sizeof(err)) != HDNS_DATA) {
		health_add(h, HEALTH_FAIL, name, "%s", err);
		ha->n = 0;
		return;
	}
	seen[0] = '\0';
	for (i = 0; i < ha->n; i++) {
		hdns_addr_str(&ha->a[i], as, sizeof(as));
		if (hdns_ptr(&ha->a[i], ptr, 4, &n, err, sizeof(err)) !=
		    HDNS_DATA) {
			health_add(h, HEALTH_FAIL, name, "%s has no PTR "
			    "record (%s): receivers distrust it", as, err);
			return;
		}
		for (ok = 0, j = 0; j < n && !ok; j++)
			ok = strcasecmp(ptr[j], host) == 0;
		if (!ok) {
			health_add(h, HEALTH_FAIL, name, "PTR of %s is %s, "
			    "not %s", as, ptr[0], host);
			return;
		}
		if (seen[0] != '\0')
			strlcat(seen, ", ", sizeof(seen));
		strlcat(seen, as, sizeof(seen));
	}
	health_add(h, HEALTH_OK, name, "%s, each with a PTR back to %s", seen,
	    host);
}

static void
mx_check(struct health *h, const char *domain)
{
	struct hdns_mx	 mx[MX_MAX];
	char		 name[HEALTH_NAME_MAX], err[HEALTH_DETAIL_MAX];
	char		 list[HEALTH_DETAIL_MAX], one[HDNS_NAME_MAX + 16];
	enum hdns_result r;
	size_t		 n, i;
	int		 ours = -1;

	snprintf(name, sizeof(name), "dns mx %s", domain);
	if ((r = hdns_mx(domain, mx, MX_MAX, &n, err, sizeof(err))) !=
	    HDNS_DATA) {
		health_add(h, HEALTH_FAIL, name, "%s", err);
		return;
	}
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if (mx[i].host[0] == '\0') {
			health_add(h, HEALTH_FAIL, name, "null MX: %s refuses "
			    "all mail (RFC 7505)", domain);
			return;
		}
		if (strcasecmp(mx[i].host, h->conf->hostname) == 0)
			ours = mx[i].pref;
		snprintf(one, sizeof(one), "%s%d %s", i ? ", " : "",
		    mx[i].pref, mx[i].host);
		strlcat(list, one, sizeof(list));
	}
	if (ours == -1)
		health_add(h, HEALTH_FAIL, name, "MX %s: not %s, mail for %s "
		    "goes elsewhere", list, h->conf->hostname, domain);
	else
		health_add(h, HEALTH_OK, name, "MX %s", list);
}

static enum health_status
spf_status(enum spf_result r)
{
	switch (r) {
	case SPF_PASS:
		return HEALTH_OK;
	case SPF_FAIL:
	case SPF_PERMERROR:
		return HEALTH_FAIL;
	default:
		return HEALTH_WARN;
	}
}

static void
spf_domain_check(struct health *h, const char *domain,
    const struct host_addrs *ha)
{
	enum health_status	 st, worst = HEALTH_OK;
	enum spf_result		 r;
	char			 name[HEALTH_NAME_MAX], as[64];
	char			 why[HEALTH_DETAIL_MAX];
	char			 detail[HEALTH_DETAIL_MAX] = "";
	size_t			 i;

	snprintf(name, sizeof(name), "dns spf %s", domain);
	if (ha->n == 0) {
		health_add(h, HEALTH_WARN, name, "not checked: the addresses "
		    "of %s are not known", h->conf->hostname);
		return;
	}
	for (i = 0; i < ha->n; i++) {
		hdns_addr_str(&ha->a[i], as, sizeof(as));
		r = spf_check(domain, &ha->a[i], why, sizeof(why));
		st = spf_status(r);
		/* The detail of the worst address is the one shown. */
		if (st > worst || detail[0] == '\0') {
			snprintf(detail, sizeof(detail), "%s for %s: %.400s",
			    health_spf_result_name(r), as, why);
			if (st > worst)
				worst = st;
		}
	}
	health_add(h, worst, name, "%s", detail);
}

/* RFC 7489 6.3: v=DMARC1 first, then p= a policy. */
static int
dmarc_parse(const char *rec, char *policy, size_t policysz, char *why,
    size_t whysz)
{
	char		 buf[HDNS_TXT_MAX], *p = buf, *tag, *val;
	size_t		 i = 0;
	const char	*pol[] = { "none", "quarantine", "reject" };
	int		 havep = 0, k;

	strlcpy(buf, rec, sizeof(buf));
	while ((tag = strsep(&p, ";")) != NULL) {
		while (isspace((unsigned char)*tag))
			tag++;
		if (*tag == '\0')
			continue;
		if ((val = strchr(tag, '=')) == NULL) {
			snprintf(why, whysz, "\"%.40s\" is not tag=value",
			    tag);
			return -1;
		}
		*val++ = '\0';
		tag[strcspn(tag, " \t")] = '\0';
		while (isspace((unsigned char)*val))
			val++;
		val[strcspn(val, " \t")] = '\0';
		if (i++ == 0 && (strcmp(tag, "v") != 0 ||
		    strcmp(val, "DMARC1") != 0)) {
			snprintf(why, whysz, "does not start with v=DMARC1");
			return -1;
		}
		if (strcasecmp(tag, "p") != 0 && strcasecmp(tag, "sp") != 0)
			continue;
		for (k = 0; k < 3; k++)
			if (strcasecmp(val, pol[k]) == 0)
				break;
		if (k == 3) {
			snprintf(why, whysz, "%s=%.20s is not none, "
			    "quarantine or reject", tag, val);
			return -1;
		}
		if (strcasecmp(tag, "p") == 0) {
			havep = 1;
			strlcpy(policy, pol[k], policysz);
		}
	}
	if (!havep) {
		snprintf(why, whysz, "no p= policy");
		return -1;
	}
	return 0;
}

static void
dmarc_check(struct health *h, const char *domain)
{
	char		*txt[DMARC_RECORDS_MAX], qname[HDNS_NAME_MAX + 8];
	char		 name[HEALTH_NAME_MAX], err[HEALTH_DETAIL_MAX];
	char		 policy[16], why[HEALTH_DETAIL_MAX];
	const char	*rec = NULL;
	enum hdns_result r;
	size_t		 n, i, found = 0;

	snprintf(qname, sizeof(qname), "_dmarc.%s", domain);
	snprintf(name, sizeof(name), "dns dmarc %s", domain);
	r = hdns_txt(qname, txt, DMARC_RECORDS_MAX, &n, err, sizeof(err));
	if (r == HDNS_ERROR) {
		health_add(h, HEALTH_WARN, name, "%s", err);
		return;
	}
	for (i = 0; r == HDNS_DATA && i < n; i++)
		if (strncasecmp(txt[i], "v=DMARC1", 8) == 0 && found++ == 0)
			rec = txt[i];
	if (found == 0)
		health_add(h, HEALTH_WARN, name, "no DMARC record at %s",
		    qname);
	else if (found > 1)
		health_add(h, HEALTH_FAIL, name, "%zu DMARC records at %s: "
		    "receivers ignore them all", found, qname);
	else if (dmarc_parse(rec, policy, sizeof(policy), why,
	    sizeof(why)) == -1)
		health_add(h, HEALTH_FAIL, name, "%s: %s", qname, why);
	else
		health_add(h, HEALTH_OK, name, "p=%s", policy);
	if (r == HDNS_DATA)
		hdns_txt_free(txt, n);
}

void
health_domains(struct health *h)
{
	struct host_addrs	 ha;
	char			 err[HEALTH_DETAIL_MAX];
	size_t			 i;

	if (!h->domains_known || h->ndomains == 0)
		return;
	if (hdns_init(h->conf, err, sizeof(err)) == -1) {
		health_add(h, HEALTH_FAIL, "dns", "%s", err);
		return;
	}
	host_check(h, &ha);
	for (i = 0; i < h->ndomains; i++) {
		mx_check(h, h->domains[i]);
		spf_domain_check(h, h->domains[i], &ha);
		health_dkim(h, h->domains[i]);
		dmarc_check(h, h->domains[i]);
	}
	hdns_done();
}
