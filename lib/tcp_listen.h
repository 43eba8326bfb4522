/*
 * The TCP listening sockets of the daemons (SMTP ports, LMTP on TCP),
 * made the same way everywhere: address reuse, v6 sockets v6-only (so
 * that "any" can bind v4 and v6 side by side).
 */

#ifndef TSAMBA_TCP_LISTEN_H
#define TSAMBA_TCP_LISTEN_H

#include "conf.h"

/*
 * For start-up, as root: a socket listening on l.  flags are extra
 * socket(2) type flags (SOCK_NONBLOCK); what names the service in
 * errors ("LMTP").  The descriptor; fatal() on any error.
 */
int	tcp_listen(const struct conf_listen *l, int backlog, int flags,
	    const char *what);

#endif
