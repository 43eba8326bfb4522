/*
 * Sessions per client address: a counter per IP in a red-black tree, so
 * one host cannot take every session slot of the server (the smtp
 * engine, the imap login process).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "ip_limit.h"

struct ip_count {
	RB_ENTRY(ip_count)	 entry;
	int			 family;
	uint8_t			 addr[16];
	unsigned int		 count;
};

RB_HEAD(ip_tree, ip_count);

static int	ip_count_cmp(struct ip_count *, struct ip_count *);
static void	ip_key(const struct sockaddr_storage *, struct ip_count *);

RB_PROTOTYPE(ip_tree, ip_count, entry, ip_count_cmp);
RB_GENERATE(ip_tree, ip_count, entry, ip_count_cmp);

static struct ip_tree	ip_counts = RB_INITIALIZER(&ip_counts);

static int
ip_count_cmp(struct ip_count *a, struct ip_count *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Only the address counts, never the port. */
static void
ip_key(const struct sockaddr_storage *ss, struct ip_count *key)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, sizeof(*key));
	key->family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)ss;
		memcpy(key->addr, &sin->sin_addr, sizeof(sin->sin_addr));
	} else if (ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		memcpy(key->addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
	}
}

/* 0 and counted, or -1 when the address already has max (0: no limit). */
int
limits_ip_acquire(const struct sockaddr_storage *ss, unsigned int max)
{
	struct ip_count	 key, *ic;

	ip_key(ss, &key);
	ic = RB_FIND(ip_tree, &ip_counts, &key);
	if (ic == NULL) {
		if ((ic = calloc(1, sizeof(*ic))) == NULL) {
			log_warn("limits: calloc");
			return -1;
		}
		*ic = key;
		RB_INSERT(ip_tree, &ip_counts, ic);
	}
	if (max != 0 && ic->count >= max)
		return -1;
	ic->count++;
	return 0;
}

void
limits_ip_release(const struct sockaddr_storage *ss)
{
	struct ip_count	 key, *ic;

	ip_key(ss, &key);
	if ((ic = RB_FIND(ip_tree, &ip_counts, &key)) == NULL) {
		log_warnx("limits: release of an address never counted");
		return;
	}
	if (ic->count > 0)
		ic->count--;
	if (ic->count == 0) {
		RB_REMOVE(ip_tree, &ip_counts, ic);
		free(ic);
	}
}
