/*
 * TCP listening sockets for the daemons (see tcp_listen.h).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include "conf.h"
#include "log.h"
#include "tcp_listen.h"

int
tcp_listen(const struct conf_listen *l, int backlog, int flags,
    const char *what)
{
	int	 fd, on = 1;

	if ((fd = socket(l->ss.ss_family, SOCK_STREAM | flags, 0)) == -1)
		fatal("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("setsockopt SO_REUSEADDR");
	/* "any" binds v4 and v6 separately: keep the v6 socket v6-only. */
	if (l->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		fatal("setsockopt IPV6_V6ONLY");
	if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) == -1)
		fatal("bind %s %s port %u", what, l->addr, l->port);
	if (listen(fd, backlog) == -1)
		fatal("listen %s %s port %u", what, l->addr, l->port);
	return fd;
}
