/*
 * Sessions per client address (ip_limit.c), for the engines that take
 * connections from the network.
 */

#ifndef TSAMBA_IP_LIMIT_H
#define TSAMBA_IP_LIMIT_H

#include <sys/socket.h>

/* 0 and counted, or -1 when the address already has max (0: no limit). */
int	limits_ip_acquire(const struct sockaddr_storage *, unsigned int max);
void	limits_ip_release(const struct sockaddr_storage *);

#endif
