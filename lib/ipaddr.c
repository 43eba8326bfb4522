/*
 * Client IP addresses as text: parsed and printed in one canonical
 * form, and checked by one rule, so that tsambactl refuses exactly what
 * authd would refuse and counts what authd counts.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "conf.h"
#include "ipaddr.h"

int
ip_parse(const char *s, char *out, size_t outsz,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	struct in6_addr		 a6;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, s, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, &a6.s6_addr[12], 4);
		} else {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = a6;
		}
	} else
		return -1;
	if (out != NULL && inet_ntop(ss->ss_family, ss->ss_family ==
	    AF_INET ? (void *)&sin->sin_addr : (void *)&sin6->sin6_addr,
	    out, outsz) == NULL)
		return -1;
	return 0;
}

/* A network is what conf_net_parse() takes: the rule of the ban list. */
int
ip_valid(const char *s, int allow_net)
{
	struct sockaddr_storage	 ss;
	struct conf_net		 n;

	if (strchr(s, '/') != NULL)
		return allow_net && conf_net_parse(&n, s) == 0;
	return ip_parse(s, NULL, 0, &ss) == 0;
}
