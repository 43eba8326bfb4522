/*
 * The DNS lookups of tsambactl health, with libunbound as in the mta
 * (queue/mta_dns.c): the resolver of "mta resolver" in tsamba.conf
 * when set, since that is the one the suite sends mail with (and the
 * tests' dnsmasq), else /etc/resolv.conf.  Each lookup waits at most
 * HEALTH_TIMEOUT_SEC (asynchronous query, poll on ub_fd, cancel).
 *
 * libunbound answers some reverse zones itself (127.in-addr.arpa, the
 * private and documentation ranges, RFC 6303); a host whose address
 * lies there has its PTR in its own resolver, so before a PTR lookup
 * the built-in zones above that name are dropped.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#include "conf.h"
#include "dnsq_unbound.h"
#include "ctl_health.h"

#define RR_A		1
#define RR_PTR		12
#define RR_MX		15
#define RR_TXT		16
#define RR_AAAA		28
#define CLASS_IN	1
#define RCODE_SERVFAIL	2

static struct ub_ctx	*ub;

struct hdns_wait {
	int			 done;
	int			 err;
	struct ub_result	*res;
};

int
hdns_init(const struct conf *conf, char *err, size_t errsz)
{
	if ((ub = dnsq_ub_new(conf->mta_resolver, "mta resolver", err,
	    errsz)) == NULL)
		return -1;
	if (err[0] != '\0') {
		ub_ctx_delete(ub);
		ub = NULL;
		return -1;
	}
	return 0;
}

void
hdns_done(void)
{
	if (ub != NULL)
		ub_ctx_delete(ub);
	ub = NULL;
}

static void
answered(void *arg, int err, struct ub_result *res)
{
	struct hdns_wait	*w = arg;

	w->done = 1;
	w->err = err;
	w->res = res;
}

/* One query: its result (caller frees) or NULL with err set. */
static struct ub_result *
lookup(const char *name, int type, char *err, size_t errsz)
{
	struct hdns_wait	 w = { 0, 0, NULL };
	struct pollfd		 pfd;
	time_t			 deadline;
	int			 id, r;

	deadline = time(NULL) + HEALTH_TIMEOUT_SEC;
	if ((r = ub_resolve_async(ub, name, type, CLASS_IN, &w, answered,
	    &id)) != 0) {
		snprintf(err, errsz, "%s: %s", name, ub_strerror(r));
		return NULL;
	}
	while (!w.done) {
		if (time(NULL) >= deadline) {
			ub_cancel(ub, id);
			snprintf(err, errsz, "%s: no answer within %ds", name,
			    HEALTH_TIMEOUT_SEC);
			return NULL;
		}
		pfd.fd = ub_fd(ub);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR) {
			ub_cancel(ub, id);
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd.revents & POLLIN)
			(void)ub_process(ub);
	}
	if (w.err != 0) {
		snprintf(err, errsz, "%s: %s", name, ub_strerror(w.err));
		if (w.res != NULL)
			ub_resolve_free(w.res);
		return NULL;
	}
	return w.res;
}

/* HDNS_DATA with res kept, or the other results with res freed. */
static enum hdns_result
query(const char *name, int type, struct ub_result **resp, char *err,
    size_t errsz)
{
	struct ub_result	*res;

	*resp = NULL;
	if ((res = lookup(name, type, err, errsz)) == NULL)
		return HDNS_ERROR;
	if (res->rcode == RCODE_SERVFAIL) {
		snprintf(err, errsz, "%s: the resolver answers SERVFAIL",
		    name);
		ub_resolve_free(res);
		return HDNS_ERROR;
	}
	if (res->nxdomain || !res->havedata) {
		snprintf(err, errsz, "%s: %s", name, res->nxdomain ?
		    "no such name" : "no record");
		ub_resolve_free(res);
		return HDNS_NONE;
	}
	*resp = res;
	return HDNS_DATA;
}

enum hdns_result
hdns_addrs(const char *name, struct hdns_addr *out, size_t max, size_t *n,
    char *err, size_t errsz)
{
	struct ub_result	*res;
	enum hdns_result	 r, best = HDNS_NONE;
	const int		 types[2] = { RR_A, RR_AAAA };
	size_t			 t, i, alen;

	*n = 0;
	for (t = 0; t < 2; t++) {
		if ((r = query(name, types[t], &res, err, errsz)) ==
		    HDNS_ERROR)
			return HDNS_ERROR;
		if (r == HDNS_NONE)
			continue;
		alen = types[t] == RR_A ? 4 : 16;
		for (i = 0; res->data[i] != NULL && *n < max; i++) {
			if ((size_t)res->len[i] != alen)
				continue;
			out[*n].family = alen == 4 ? AF_INET : AF_INET6;
			memcpy(out[*n].a, res->data[i], alen);
			(*n)++;
			best = HDNS_DATA;
		}
		ub_resolve_free(res);
	}
	if (best == HDNS_NONE)
		snprintf(err, errsz, "%s: no A or AAAA record", name);
	return best;
}

enum hdns_result
hdns_mx(const char *name, struct hdns_mx *out, size_t max, size_t *n,
    char *err, size_t errsz)
{
	struct ub_result	*res;
	enum hdns_result	 r;
	const unsigned char	*p;
	size_t			 i;

	*n = 0;
	if ((r = query(name, RR_MX, &res, err, errsz)) != HDNS_DATA)
		return r;
	for (i = 0; res->data[i] != NULL && *n < max; i++) {
		p = (const unsigned char *)res->data[i];
		if (res->len[i] < 3 || dnsq_wire_host(p + 2, res->len[i] - 2,
		    out[*n].host, sizeof(out[*n].host)) == -1)
			continue;
		out[*n].pref = (p[0] << 8) | p[1];
		(*n)++;
	}
	ub_resolve_free(res);
	if (*n == 0) {
		snprintf(err, errsz, "%s: no usable MX record", name);
		return HDNS_NONE;
	}
	return HDNS_DATA;
}

/* "4.3.2.1.in-addr.arpa" or the 32 nibbles under ip6.arpa. */
static void
reverse_name(const struct hdns_addr *a, char *buf, size_t bufsz)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 o = 0;
	int			 i;

	if (a->family == AF_INET) {
		snprintf(buf, bufsz, "%u.%u.%u.%u.in-addr.arpa", a->a[3],
		    a->a[2], a->a[1], a->a[0]);
		return;
	}
	for (i = 15; i >= 0 && o + 4 < bufsz; i--) {
		buf[o++] = hex[a->a[i] & 0xf];
		buf[o++] = '.';
		buf[o++] = hex[a->a[i] >> 4];
		buf[o++] = '.';
	}
	buf[o] = '\0';
	strlcat(buf, "ip6.arpa", bufsz);
}

/* Drop libunbound's own zones at and above name (see the top). */
static void
unshadow(const char *name)
{
	const char	*p = name;

	while (p != NULL && *p != '\0') {
		(void)ub_ctx_zone_remove(ub, p);
		if ((p = strchr(p, '.')) != NULL)
			p++;
	}
}

enum hdns_result
hdns_ptr(const struct hdns_addr *a, char out[][HDNS_NAME_MAX], size_t max,
    size_t *n, char *err, size_t errsz)
{
	struct ub_result	*res;
	enum hdns_result	 r;
	char			 name[80];
	size_t			 i;

	*n = 0;
	reverse_name(a, name, sizeof(name));
	unshadow(name);
	if ((r = query(name, RR_PTR, &res, err, errsz)) != HDNS_DATA)
		return r;
	for (i = 0; res->data[i] != NULL && *n < max; i++)
		if (dnsq_wire_host((const unsigned char *)res->data[i],
		    res->len[i], out[*n], HDNS_NAME_MAX) == 0)
			(*n)++;
	ub_resolve_free(res);
	if (*n == 0) {
		snprintf(err, errsz, "%s: no usable PTR record", name);
		return HDNS_NONE;
	}
	return HDNS_DATA;
}

/* The character-strings of one TXT rdata joined; NULL if malformed. */
static char *
txt_join(const unsigned char *p, size_t len)
{
	char	*s;
	size_t	 i = 0, o = 0, l;

	if ((s = malloc(len + 1)) == NULL)
		return NULL;
	while (i < len) {
		l = p[i++];
		if (i + l > len) {
			free(s);
			return NULL;
		}
		memcpy(s + o, p + i, l);
		o += l;
		i += l;
	}
	s[o] = '\0';
	/* A NUL inside would cut the record short: refuse it. */
	if (strlen(s) != o) {
		free(s);
		return NULL;
	}
	return s;
}

enum hdns_result
hdns_txt(const char *name, char **out, size_t max, size_t *n, char *err,
    size_t errsz)
{
	struct ub_result	*res;
	enum hdns_result	 r;
	size_t			 i;

	*n = 0;
	if ((r = query(name, RR_TXT, &res, err, errsz)) != HDNS_DATA)
		return r;
	for (i = 0; res->data[i] != NULL && *n < max; i++) {
		if (res->len[i] > HDNS_TXT_MAX)
			continue;
		if ((out[*n] = txt_join((const unsigned char *)res->data[i],
		    res->len[i])) != NULL)
			(*n)++;
	}
	ub_resolve_free(res);
	if (*n == 0) {
		snprintf(err, errsz, "%s: no usable TXT record", name);
		return HDNS_NONE;
	}
	return HDNS_DATA;
}

void
hdns_txt_free(char **txt, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(txt[i]);
}

void
hdns_addr_str(const struct hdns_addr *a, char *buf, size_t bufsz)
{
	if (inet_ntop(a->family, a->a, buf, bufsz) == NULL)
		strlcpy(buf, "?", bufsz);
}
