/*
 * Where a transfer goes: the MX hosts of the destination domain and
 * their addresses, looked up with libunbound.
 *
 * libunbound because its asynchronous API (ub_resolve_async, with the
 * answers signalled on ub_fd) fits the libevent loop without threads of
 * our own, it validates DNSSEC and answers TLSA, which DANE will need,
 * and NLnet Labs maintain it.  The resolver settings are read before the
 * chroot: "mta resolver IP@PORT" forwards every query there (the tests
 * use dnsmasq on a loopback port), otherwise /etc/resolv.conf.
 *
 * RFC 5321 5.1: MX hosts in preference order, a random choice among
 * equal preferences, the domain itself as an implicit MX when there is
 * no MX record, NXDOMAIN a permanent failure.  RFC 7505: a null MX
 * (".") refuses mail at once.  Every MX gets an A and an AAAA lookup;
 * its IPv6 addresses are tried before its IPv4 ones.  With a relay host
 * everything goes to that host's addresses instead.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>

#include "conf.h"
#include "dnsq_unbound.h"
#include "esc.h"
#include "log.h"
#include "mta.h"

#define DNS_TIMEOUT_SEC		120
#define DNS_MX_MAX		10
#define DNS_ADDR_MAX		4	/* per family and host */
#define RR_A			1
#define RR_MX			15
#define RR_AAAA			28
#define CLASS_IN		1

struct dns_host {
	char			 name[ADDR_DOMAIN_MAX + 1];
	int			 pref;
	uint32_t		 rnd;		/* order among equals */
	struct sockaddr_storage	 v6[DNS_ADDR_MAX];
	size_t			 nv6;
	struct sockaddr_storage	 v4[DNS_ADDR_MAX];
	size_t			 nv4;
};

/* One outstanding libunbound query. */
struct dns_req {
	struct mta_dns_query	*q;
	int			 async_id;
	int			 active;
	int			 type;		/* RR_* */
	size_t			 host;		/* index into q->hosts */
};

struct mta_dns_query {
	struct mta_transfer	*t;
	struct dns_host		 hosts[DNS_MX_MAX];
	size_t			 nhosts;
	struct dns_req		 reqs[1 + 2 * DNS_MX_MAX];
	size_t			 nreqs;
	int			 pending;
	int			 tempfail;	/* some lookup failed for now */
	char			 error[MTA_REPLY_MAX];
	struct event		 timer;		/* timeout, or async answer */
	int			 ready;		/* answer set by the timer */
	enum mta_status		 status;
};

static struct ub_ctx	*ub;
static struct event	 ub_ev;
static uint16_t		 dst_port;

static void	dns_answer(void *, int, struct ub_result *);

void
mta_dns_init(struct conf *conf)
{
	char	 err[256];

	if ((ub = dnsq_ub_new(conf->mta_resolver, "mta resolver", err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	if (err[0] != '\0')
		log_warnx("%s; resolving from the root", err);
	dst_port = conf->relay.host[0] != '\0' ? conf->relay.port :
	    conf->mta_port;
}

static void
dns_readable(int fd, short ev, void *arg)
{
	int	 r;

	if ((r = ub_process(ub)) != 0)
		log_warnx("unbound: %s", ub_strerror(r));
}

void
mta_dns_start(void)
{
	event_set(&ub_ev, ub_fd(ub), EV_READ | EV_PERSIST, dns_readable, NULL);
	event_add(&ub_ev, NULL);
}

static void
query_free(struct mta_dns_query *q)
{
	size_t	 i;

	for (i = 0; i < q->nreqs; i++)
		if (q->reqs[i].active)
			ub_cancel(ub, q->reqs[i].async_id);
	evtimer_del(&q->timer);
	q->t->dns = NULL;
	free(q);
}

void
mta_dns_cancel(struct mta_transfer *t)
{
	if (t->dns != NULL)
		query_free(t->dns);
}

/*
 * Finish: hand the routes or the failure to mta.c.  The reply may be
 * q->error, so it is copied before q is freed.
 */
static void
query_finish(struct mta_dns_query *q, enum mta_status status,
    const char *reply)
{
	struct mta_transfer	*t = q->t;
	char			 copy[MTA_REPLY_MAX];

	strlcpy(copy, reply, sizeof(copy));
	query_free(q);
	mta_routes_ready(t, status, copy);
}

/* "x.y.z text" of the class of status (temporary or permanent). */
static void
dns_reply(char *buf, size_t bufsz, enum mta_status status,
    enum esc_code esc, const char *fmt, va_list ap)
{
	int	 n;

	n = snprintf(buf, bufsz, "%s ", esc_code(status == MTA_PERMFAIL ?
	    ESC_PERMFAIL : ESC_TEMPFAIL, esc));
	if (n > 0 && (size_t)n < bufsz)
		(void)vsnprintf(buf + n, bufsz - n, fmt, ap);
}

static void
query_fail(struct mta_dns_query *q, enum mta_status status,
    enum esc_code esc, const char *fmt, ...)
    __attribute__((__format__ (printf, 4, 5)));

static void
query_fail(struct mta_dns_query *q, enum mta_status status,
    enum esc_code esc, const char *fmt, ...)
{
	char	 reply[MTA_REPLY_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	dns_reply(reply, sizeof(reply), status, esc, fmt, ap);
	va_end(ap);
	query_finish(q, status, reply);
}

/* A temporary failure noted in q->error, reported if nothing works. */
static void
query_error(struct mta_dns_query *q, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

static void
query_error(struct mta_dns_query *q, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	dns_reply(q->error, sizeof(q->error), MTA_TEMPFAIL,
	    ESC_ROUTING_SERVER_FAILURE, fmt, ap);
	va_end(ap);
}

static void
dns_timer(int fd, short ev, void *arg)
{
	struct mta_dns_query	*q = arg;

	if (q->ready) {
		query_finish(q, q->status, q->error);
		return;
	}
	query_fail(q, MTA_TEMPFAIL, ESC_ROUTING_SERVER_FAILURE,
	    "DNS lookup for %s timed out", q->t->domain);
}

static int
dns_send(struct mta_dns_query *q, const char *name, int type, size_t host)
{
	struct dns_req	*req;
	int		 r;

	if (q->nreqs >= sizeof(q->reqs) / sizeof(q->reqs[0]))
		return -1;
	req = &q->reqs[q->nreqs++];
	req->q = q;
	req->type = type;
	req->host = host;
	if ((r = ub_resolve_async(ub, name, type, CLASS_IN, req, dns_answer,
	    &req->async_id)) != 0) {
		log_warnx("unbound: %s: %s", name, ub_strerror(r));
		return -1;
	}
	req->active = 1;
	q->pending++;
	return 0;
}

/* Answer later from the event loop (literal addresses, early errors). */
static void
query_answer_later(struct mta_dns_query *q, enum mta_status status,
    enum esc_code esc, const char *text)
{
	struct timeval	 tv = { 0, 0 };

	q->ready = 1;
	q->status = status;
	if (status == MTA_OK)
		q->error[0] = '\0';
	else
		(void)snprintf(q->error, sizeof(q->error), "%s %s",
		    esc_code(status == MTA_PERMFAIL ? ESC_PERMFAIL :
		    ESC_TEMPFAIL, esc), text);
	evtimer_del(&q->timer);
	evtimer_add(&q->timer, &tv);
}

static int
set_sockaddr(struct sockaddr_storage *ss, int family, const void *addr)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(dst_port);
		memcpy(&sin->sin_addr, addr, 4);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(dst_port);
		memcpy(&sin6->sin6_addr, addr, 16);
	}
	return 0;
}

static void
route_add(struct mta_transfer *t, const char *host,
    const struct sockaddr_storage *ss)
{
	struct mta_route	*r;

	if (t->nroutes >= MTA_ROUTES_MAX)
		return;
	r = &t->routes[t->nroutes++];
	strlcpy(r->host, host, sizeof(r->host));
	r->ss = *ss;
	r->sslen = ss->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/*
 * A literal address, "[192.0.2.1]", "[IPv6:2001:db8::1]" (an address
 * literal domain, RFC 5321 4.1.3) or a bare one (a relay host): 1 and a
 * route, 0 if it is a name.
 */
static int
literal_route(struct mta_transfer *t, const char *name)
{
	struct sockaddr_storage	 ss;
	unsigned char		 addr[16];
	char			 buf[ADDR_DOMAIN_MAX + 1];
	size_t			 len;

	strlcpy(buf, name, sizeof(buf));
	if (buf[0] == '[') {
		len = strlen(buf);
		if (len < 3 || buf[len - 1] != ']')
			return 0;
		buf[len - 1] = '\0';
		memmove(buf, buf + 1, len - 1);
		if (strncasecmp(buf, "IPv6:", 5) == 0)
			memmove(buf, buf + 5, strlen(buf + 5) + 1);
	}
	if (inet_pton(AF_INET, buf, addr) == 1)
		set_sockaddr(&ss, AF_INET, addr);
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		set_sockaddr(&ss, AF_INET6, addr);
	else
		return 0;
	route_add(t, buf, &ss);
	return 1;
}

/* Look up the addresses of q->hosts[i]. */
static int
host_lookup(struct mta_dns_query *q, size_t i)
{
	if (dns_send(q, q->hosts[i].name, RR_AAAA, i) == -1 ||
	    dns_send(q, q->hosts[i].name, RR_A, i) == -1)
		return -1;
	return 0;
}

static void
add_host(struct mta_dns_query *q, const char *name, int pref)
{
	struct dns_host	*h;

	if (q->nhosts >= DNS_MX_MAX)
		return;
	h = &q->hosts[q->nhosts++];
	strlcpy(h->name, name, sizeof(h->name));
	h->pref = pref;
	h->rnd = arc4random();
}

void
mta_dns_lookup(struct mta_transfer *t)
{
	struct mta_dns_query	*q;
	struct timeval		 tv = { DNS_TIMEOUT_SEC, 0 };
	const char		*name;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("calloc");
	q->t = t;
	t->dns = q;
	t->nroutes = 0;
	evtimer_set(&q->timer, dns_timer, q);
	evtimer_add(&q->timer, &tv);

	name = t->relay ? mta_conf->relay.host : t->domain;
	if (literal_route(t, name)) {
		query_answer_later(q, MTA_OK, ESC_OTHER_STATUS, "");
		return;
	}
	if (name[0] == '[') {
		query_answer_later(q, MTA_PERMFAIL,
		    ESC_BAD_DESTINATION_SYSTEM, "bad address literal");
		return;
	}
	if (t->relay) {
		/* The relay host's own addresses, no MX. */
		add_host(q, name, 0);
		if (host_lookup(q, 0) == -1)
			query_answer_later(q, MTA_TEMPFAIL,
			    ESC_ROUTING_SERVER_FAILURE, "DNS lookup failed");
		return;
	}
	if (dns_send(q, name, RR_MX, 0) == -1)
		query_answer_later(q, MTA_TEMPFAIL,
		    ESC_ROUTING_SERVER_FAILURE, "DNS lookup failed");
}

static int
host_cmp(const void *a, const void *b)
{
	const struct dns_host	*x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	if (x->rnd != y->rnd)
		return x->rnd < y->rnd ? -1 : 1;
	return 0;
}

static void
mx_answer(struct mta_dns_query *q, struct ub_result *res)
{
	struct mta_transfer	*t = q->t;
	char			 name[ADDR_DOMAIN_MAX + 1];
	char			 reply[MTA_REPLY_MAX];
	size_t			 i;
	int			 nullmx = 0, pref;

	if (res->nxdomain) {
		query_fail(q, MTA_PERMFAIL, ESC_BAD_DESTINATION_SYSTEM,
		    "domain %s not found", t->domain);
		return;
	}
	if (res->rcode != 0) {
		query_fail(q, MTA_TEMPFAIL, ESC_ROUTING_SERVER_FAILURE,
		    "DNS error for MX of %s (rcode %d)", t->domain,
		    res->rcode);
		return;
	}
	for (i = 0; res->havedata && res->data[i] != NULL; i++) {
		if (res->len[i] < 3)
			continue;
		pref = (res->data[i][0] << 8) | res->data[i][1];
		if (dnsq_wire_host((unsigned char *)res->data[i] + 2,
		    res->len[i] - 2, name, sizeof(name)) == -1) {
			log_warnx("%s: bad MX record for %s", t->msgid,
			    t->domain);
			continue;
		}
		if (name[0] == '\0') {
			nullmx = 1;
			continue;
		}
		add_host(q, name, pref);
	}
	if (nullmx) {
		/* RFC 7505 3: a null MX means no mail, whatever else. */
		(void)esc_reply(reply, sizeof(reply), 556,
		    ESC_DESTINATION_NULL_MX, "domain %s does not accept mail "
		    "(null MX)", t->domain);
		query_finish(q, MTA_PERMFAIL, reply);
		return;
	}
	if (q->nhosts == 0 && res->havedata) {
		query_fail(q, MTA_TEMPFAIL, ESC_ROUTING_SERVER_FAILURE,
		    "no usable MX record for %s", t->domain);
		return;
	}
	if (q->nhosts == 0)	/* RFC 5321 5.1: the implicit MX */
		add_host(q, t->domain, 0);
	qsort(q->hosts, q->nhosts, sizeof(q->hosts[0]), host_cmp);
	for (i = 0; i < q->nhosts; i++)
		if (host_lookup(q, i) == -1) {
			q->tempfail = 1;
			break;
		}
	if (q->pending == 0)
		query_fail(q, MTA_TEMPFAIL, ESC_ROUTING_SERVER_FAILURE,
		    "DNS lookup failed");
}

static void
addr_answer(struct mta_dns_query *q, struct dns_req *req,
    struct ub_result *res)
{
	struct dns_host	*h = &q->hosts[req->host];
	size_t		 i;

	if (res->rcode != 0 && !res->nxdomain) {
		q->tempfail = 1;
		query_error(q, "DNS error for %s (rcode %d)", h->name,
		    res->rcode);
		return;
	}
	for (i = 0; res->havedata && res->data[i] != NULL; i++) {
		if (req->type == RR_A && res->len[i] == 4 &&
		    h->nv4 < DNS_ADDR_MAX)
			set_sockaddr(&h->v4[h->nv4++], AF_INET, res->data[i]);
		else if (req->type == RR_AAAA && res->len[i] == 16 &&
		    h->nv6 < DNS_ADDR_MAX)
			set_sockaddr(&h->v6[h->nv6++], AF_INET6,
			    res->data[i]);
	}
}

/* Every lookup answered: the routes, in order. */
static void
routes_build(struct mta_dns_query *q)
{
	struct mta_transfer	*t = q->t;
	struct dns_host		*h;
	size_t			 i, j;

	for (i = 0; i < q->nhosts; i++) {
		h = &q->hosts[i];
		for (j = 0; j < h->nv6; j++)
			route_add(t, h->name, &h->v6[j]);
		for (j = 0; j < h->nv4; j++)
			route_add(t, h->name, &h->v4[j]);
	}
	if (t->nroutes > 0) {
		query_finish(q, MTA_OK, "");
		return;
	}
	if (q->tempfail) {
		if (q->error[0] == '\0')
			query_error(q, "DNS lookup failed");
		query_finish(q, MTA_TEMPFAIL, q->error);
		return;
	}
	/* RFC 5321 5.1: MX hosts (or the domain) without an address. */
	query_fail(q, MTA_PERMFAIL, ESC_UNABLE_TO_ROUTE, "no address for %s%s",
	    t->relay ? "relay host " : "", t->relay ? mta_conf->relay.host :
	    t->domain);
}

static void
dns_answer(void *arg, int err, struct ub_result *res)
{
	struct dns_req		*req = arg;
	struct mta_dns_query	*q = req->q;

	req->active = 0;
	q->pending--;
	if (err != 0) {
		q->tempfail = 1;
		query_error(q, "DNS error: %s", ub_strerror(err));
		if (req->type == RR_MX) {
			query_finish(q, MTA_TEMPFAIL, q->error);
			return;
		}
	} else if (req->type == RR_MX) {
		mx_answer(q, res);
		ub_resolve_free(res);
		return;
	} else
		addr_answer(q, req, res);
	if (res != NULL)
		ub_resolve_free(res);
	if (q->pending == 0)
		routes_build(q);
}
