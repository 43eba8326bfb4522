/*
 * iprev, RFC 8601 3: forward-confirmed reverse DNS of a client address
 * as a state machine over DNS questions (iprev.h).
 *
 * The order of questions: the PTR set of the reversed address, then
 * for each of its names (at most IPREV_NAMES_MAX, in the order given)
 * the records of the address family until one holds the address.  A
 * PTR lookup that fails is a temperror; a forward lookup that fails is
 * one only if no other name passes, since a pass found anyway is final.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "iprev.h"

/* A host name's bytes: anything else in a PTR name is not looked up. */
#define HOST_CHARS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"0123456789.-_"

enum {
	PH_START = 0,
	PH_PTR,			/* the PTR question is out */
	PH_FORWARD,		/* the question of names[next] is out */
	PH_DONE,
};

static const char *const result_names[] = {
	"pass", "fail", "temperror", "permerror"
};

int
iprev_reverse(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	static const char	 hex[] = "0123456789abcdef";
	const struct in6_addr	*a6;
	const uint8_t		*b;
	size_t			 i, o = 0;

	if (ss->ss_family == AF_INET) {
		b = (const uint8_t *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
		return snprintf(out, outsz, "%u.%u.%u.%u", b[3], b[2], b[1],
		    b[0]) >= (int)outsz ? -1 : 0;
	}
	if (ss->ss_family != AF_INET6)
		return -1;
	a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	b = a6->s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6))
		return snprintf(out, outsz, "%u.%u.%u.%u", b[15], b[14],
		    b[13], b[12]) >= (int)outsz ? -1 : 0;
	if (outsz < 64)
		return -1;
	for (i = 16; i-- > 0;) {
		out[o++] = hex[b[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[b[i] >> 4];
		out[o++] = i > 0 ? '.' : '\0';
	}
	return 0;
}

int
iprev_start(struct iprev *ip, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6	*s6;

	memset(ip, 0, sizeof(*ip));
	ip->result = IPREV_PERMERROR;
	if (ss->ss_family == AF_INET) {
		ip->family = AF_INET;
		ip->a4 = ((const struct sockaddr_in *)ss)->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			ip->family = AF_INET;
			memcpy(&ip->a4, &s6->sin6_addr.s6_addr[12], 4);
		} else {
			ip->family = AF_INET6;
			ip->a6 = s6->sin6_addr;
		}
	} else {
		ip->phase = PH_DONE;
		return -1;
	}
	ip->phase = PH_START;
	return 0;
}

/* The PTR question of the address. */
static void
ask_ptr(struct iprev *ip, struct dnsq_query *q)
{
	struct sockaddr_storage	 ss;
	char			 rev[IPREV_REVERSE_MAX], name[DNSQ_NAME_MAX];

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = ip->family;
	if (ip->family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr = ip->a4;
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = ip->a6;
	(void)iprev_reverse(&ss, rev, sizeof(rev));
	(void)snprintf(name, sizeof(name), "%s.%s", rev,
	    ip->family == AF_INET ? "in-addr.arpa" : "ip6.arpa");
	dnsq_query_set(q, name, DNSQ_PTR);
	ip->phase = PH_PTR;
}

/* The PTR answer: its names, at most IPREV_NAMES_MAX, each once. */
static void
take_names(struct iprev *ip, const struct dnsq_answer *a)
{
	const char	*n;
	size_t		 i, j, len;

	for (i = 0; i < a->nrr && ip->nnames < IPREV_NAMES_MAX; i++) {
		if (a->rr[i].type != DNSQ_PTR)
			continue;
		n = dnsq_rr_text(a, &a->rr[i]);
		len = strlen(n);
		if (len > 0 && n[len - 1] == '.')
			len--;
		if (len == 0 || len >= DNSQ_NAME_MAX ||
		    strspn(n, HOST_CHARS) < len)
			continue;
		for (j = 0; j < ip->nnames; j++)
			if (strncasecmp(ip->names[j], n, len) == 0 &&
			    ip->names[j][len] == '\0')
				break;
		if (j < ip->nnames)
			continue;
		memcpy(ip->names[ip->nnames], n, len);
		ip->names[ip->nnames++][len] = '\0';
	}
}

/* Does a forward answer hold the address? */
static int
holds_address(const struct iprev *ip, const struct dnsq_answer *a)
{
	size_t	 i;

	for (i = 0; i < a->nrr; i++) {
		if (ip->family == AF_INET && a->rr[i].type == DNSQ_A &&
		    a->rr[i].a.s_addr == ip->a4.s_addr)
			return 1;
		if (ip->family == AF_INET6 && a->rr[i].type == DNSQ_AAAA &&
		    memcmp(&a->rr[i].aaaa, &ip->a6, sizeof(ip->a6)) == 0)
			return 1;
	}
	return 0;
}

static int
finish(struct iprev *ip, int result)
{
	ip->result = result;
	ip->phase = PH_DONE;
	return IPREV_STEP_DONE;
}

int
iprev_step(struct iprev *ip, const struct dnsq_answer *a,
    struct dnsq_query *q)
{
	switch (ip->phase) {
	case PH_START:
		ask_ptr(ip, q);
		return IPREV_STEP_DNS;
	case PH_PTR:
		if (a == NULL || a->rcode == DNSQ_SERVFAIL)
			return finish(ip, IPREV_TEMPERROR);
		take_names(ip, a);
		if (ip->nnames == 0)
			return finish(ip, IPREV_FAIL);
		ip->next = 0;
		break;
	case PH_FORWARD:
		if (a == NULL || a->rcode == DNSQ_SERVFAIL)
			ip->temp = 1;
		else if (holds_address(ip, a))
			return finish(ip, IPREV_PASS);
		ip->next++;
		break;
	default:
		return IPREV_STEP_DONE;
	}
	if (ip->next >= ip->nnames)
		return finish(ip, ip->temp ? IPREV_TEMPERROR : IPREV_FAIL);
	dnsq_query_set(q, ip->names[ip->next], ip->family == AF_INET ?
	    DNSQ_A : DNSQ_AAAA);
	ip->phase = PH_FORWARD;
	return IPREV_STEP_DNS;
}

int
iprev_result(const struct iprev *ip)
{
	return ip->result;
}

const char *
iprev_name(const struct iprev *ip)
{
	if (ip->result == IPREV_PASS && ip->next < ip->nnames)
		return ip->names[ip->next];
	return ip->nnames > 0 ? ip->names[0] : "";
}

const char *
iprev_result_name(int r)
{
	if (r < 0 || r > IPREV_PERMERROR)
		return "permerror";
	return result_names[r];
}
