/*
 * libunbound results into dnsq answers.  Nothing is resolved here; the
 * process that owns the ub_ctx calls this from its callback.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dnsq_unbound.h"

void
dnsq_answer_from_ub(struct dnsq_answer *a, int qtype, int err,
    const struct ub_result *res)
{
	int	 i;

	if (err != 0 || res == NULL || res->bogus) {
		dnsq_answer_init(a, DNSQ_SERVFAIL);
		return;
	}
	if (res->nxdomain) {
		dnsq_answer_init(a, DNSQ_NXDOMAIN);
		return;
	}
	if (res->rcode != 0) {
		dnsq_answer_init(a, DNSQ_SERVFAIL);
		return;
	}
	dnsq_answer_init(a, DNSQ_NOERROR);
	for (i = 0; res->havedata && res->data[i] != NULL; i++)
		if (res->len[i] >= 0)
			(void)dnsq_answer_add_rdata(a, qtype, res->data[i],
			    (size_t)res->len[i]);
}

int
dnsq_name_escape(const char *name, char *out, size_t outsz)
{
	size_t		 o = 0;
	unsigned char	 c;

	for (; *name != '\0'; name++) {
		c = *name;
		if (isascii(c) && (isalnum(c) || c == '-' || c == '_' ||
		    c == '.')) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = c;
			continue;
		}
		if (o + 4 >= outsz)
			return -1;
		snprintf(out + o, outsz - o, "\\%03u", c);
		o += 4;
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

int
dnsq_wire_host(const unsigned char *p, size_t len, char *buf, size_t bufsz)
{
	size_t	 i = 0, o = 0, l, k;

	buf[0] = '\0';
	while (i < len) {
		if ((l = p[i++]) == 0)
			return 0;
		if (l > 63 || i + l > len)
			return -1;
		if (o != 0) {
			if (o + 1 >= bufsz)
				return -1;
			buf[o++] = '.';
		}
		for (k = 0; k < l; k++) {
			if (o + 1 >= bufsz || !(isalnum(p[i + k]) ||
			    p[i + k] == '-' || p[i + k] == '_'))
				return -1;
			buf[o++] = tolower(p[i + k]);
		}
		buf[o] = '\0';
		i += l;
	}
	return -1;
}

struct ub_ctx *
dnsq_ub_new(const char *fwd, const char *what, char *err, size_t errsz)
{
	struct ub_ctx	*ub;
	int		 r;

	err[0] = '\0';
	if ((ub = ub_ctx_create()) == NULL) {
		snprintf(err, errsz, "ub_ctx_create failed");
		return NULL;
	}
	if ((r = ub_ctx_set_option(ub, "do-not-query-localhost:", "no")) !=
	    0)
		goto bad;
	if (fwd[0] != '\0') {
		if ((r = ub_ctx_set_fwd(ub, fwd)) != 0) {
			snprintf(err, errsz, "%s %s: %s", what, fwd,
			    ub_strerror(r));
			goto fail;
		}
		/* A resolver of one's own (the tests') may serve "test."... */
		if ((r = ub_ctx_set_option(ub, "local-zone:",
		    "test. transparent")) != 0)
			goto bad;
		/* ...and the PTRs of loopback, which unbound answers itself. */
		if ((r = ub_ctx_set_option(ub, "local-zone:",
		    "127.in-addr.arpa. transparent")) != 0)
			goto bad;
	} else if ((r = ub_ctx_resolvconf(ub, "/etc/resolv.conf")) != 0)
		snprintf(err, errsz, "/etc/resolv.conf: %s", ub_strerror(r));
	if ((r = ub_ctx_async(ub, 1)) != 0)
		goto bad;
	return ub;
 bad:
	snprintf(err, errsz, "unbound: %s", ub_strerror(r));
 fail:
	ub_ctx_delete(ub);
	return NULL;
}
