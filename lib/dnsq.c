/*
 * Building the bounded DNS answers of dnsq.h, from parts (the tests, a
 * resolver that has decoded them) or from wire-format rdata (the
 * libunbound result).  TXT strings of one record are joined without a
 * separator, as SPF (RFC 7208 3.3), DKIM and DMARC read them.
 */

#include <ctype.h>
#include <string.h>

#include "dnsq.h"

void
dnsq_query_set(struct dnsq_query *q, const char *name, int type)
{
	size_t	 len;

	len = strlen(name);
	/* A trailing dot says nothing more; drop it. */
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= sizeof(q->name))
		len = sizeof(q->name) - 1;
	memcpy(q->name, name, len);
	q->name[len] = '\0';
	q->type = type;
}

const char *
dnsq_type_name(int type)
{
	switch (type) {
	case DNSQ_A:
		return "A";
	case DNSQ_AAAA:
		return "AAAA";
	case DNSQ_MX:
		return "MX";
	case DNSQ_PTR:
		return "PTR";
	case DNSQ_TXT:
		return "TXT";
	}
	return "?";
}

void
dnsq_answer_init(struct dnsq_answer *a, int rcode)
{
	a->rcode = rcode;
	a->truncated = 0;
	a->nrr = 0;
	a->datalen = 0;
}

static struct dnsq_rr *
answer_rr(struct dnsq_answer *a, int type, size_t textlen)
{
	struct dnsq_rr	*rr;

	if (a->nrr == DNSQ_RR_MAX ||
	    textlen + 1 > sizeof(a->data) - a->datalen) {
		a->truncated = 1;
		return NULL;
	}
	rr = &a->rr[a->nrr++];
	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	rr->off = a->datalen;
	rr->len = textlen;
	return rr;
}

static void
answer_text(struct dnsq_answer *a, const char *text, size_t len)
{
	memcpy(a->data + a->datalen, text, len);
	a->datalen += len;
	a->data[a->datalen++] = '\0';
}

int
dnsq_answer_add_a(struct dnsq_answer *a, const struct in_addr *in)
{
	struct dnsq_rr	*rr;

	if ((rr = answer_rr(a, DNSQ_A, 0)) == NULL)
		return -1;
	rr->a = *in;
	answer_text(a, "", 0);
	return 0;
}

int
dnsq_answer_add_aaaa(struct dnsq_answer *a, const struct in6_addr *in6)
{
	struct dnsq_rr	*rr;

	if ((rr = answer_rr(a, DNSQ_AAAA, 0)) == NULL)
		return -1;
	rr->aaaa = *in6;
	answer_text(a, "", 0);
	return 0;
}

int
dnsq_answer_add_txt(struct dnsq_answer *a, const char *text, size_t len)
{
	if (answer_rr(a, DNSQ_TXT, len) == NULL)
		return -1;
	answer_text(a, text, len);
	return 0;
}

int
dnsq_answer_add_name(struct dnsq_answer *a, int type, uint16_t pref,
    const char *name)
{
	struct dnsq_rr	*rr;
	size_t		 len;

	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= DNSQ_NAME_MAX || (rr = answer_rr(a, type, len)) == NULL)
		return -1;
	rr->pref = pref;
	answer_text(a, name, len);
	return 0;
}

/* An uncompressed wire name at p into text: bytes used, or 0. */
static size_t
wire_name(const unsigned char *p, size_t len, char *out, size_t outsz)
{
	size_t	 i = 0, o = 0, n, j;

	for (;;) {
		if (i >= len)
			return 0;
		n = p[i++];
		if (n == 0)
			break;
		/* Compression pointers and extended labels: not here. */
		if (n > 63 || i + n > len)
			return 0;
		if (o + n + 2 > outsz)
			return 0;
		if (o > 0)
			out[o++] = '.';
		for (j = 0; j < n; j++) {
			/* A name with a dot or NUL in a label is refused. */
			if (p[i + j] == '.' || p[i + j] == '\0')
				return 0;
			out[o++] = tolower(p[i + j]);
		}
		i += n;
	}
	out[o] = '\0';
	return i;
}

static int
add_txt_rdata(struct dnsq_answer *a, const unsigned char *p, size_t len)
{
	char	 buf[DNSQ_DATA_MAX];
	size_t	 i = 0, o = 0, n;

	while (i < len) {
		n = p[i++];
		if (i + n > len)
			return -1;
		if (o + n > sizeof(buf))
			return -1;
		memcpy(buf + o, p + i, n);
		o += n;
		i += n;
	}
	/* A NUL inside would cut the text short: refuse the record. */
	if (memchr(buf, '\0', o) != NULL)
		return -1;
	return dnsq_answer_add_txt(a, buf, o);
}

int
dnsq_answer_add_rdata(struct dnsq_answer *a, int type, const void *rdata,
    size_t len)
{
	const unsigned char	*p = rdata;
	char			 name[DNSQ_NAME_MAX];
	struct in_addr		 in;
	struct in6_addr		 in6;
	size_t			 n;

	switch (type) {
	case DNSQ_A:
		if (len != sizeof(in))
			return -1;
		memcpy(&in, p, sizeof(in));
		return dnsq_answer_add_a(a, &in);
	case DNSQ_AAAA:
		if (len != sizeof(in6))
			return -1;
		memcpy(&in6, p, sizeof(in6));
		return dnsq_answer_add_aaaa(a, &in6);
	case DNSQ_TXT:
		return add_txt_rdata(a, p, len);
	case DNSQ_MX:
		if (len < 3)
			return -1;
		n = wire_name(p + 2, len - 2, name, sizeof(name));
		if (n == 0 || n != len - 2)
			return -1;
		return dnsq_answer_add_name(a, DNSQ_MX,
		    (uint16_t)(p[0] << 8 | p[1]), name);
	case DNSQ_PTR:
		n = wire_name(p, len, name, sizeof(name));
		if (n == 0 || n != len)
			return -1;
		return dnsq_answer_add_name(a, DNSQ_PTR, 0, name);
	}
	return -1;
}

const char *
dnsq_rr_text(const struct dnsq_answer *a, const struct dnsq_rr *rr)
{
	return a->data + rr->off;
}
