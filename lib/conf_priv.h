/*
 * Helpers shared by the tsamba.conf grammar (parse.y) and conf.c.  Not a
 * daemon interface: daemons use conf.h only.
 */

#ifndef TSAMBA_CONF_PRIV_H
#define TSAMBA_CONF_PRIV_H

#include <stdint.h>

#include "conf.h"

/* Units of a numeric setting. */
enum conf_unit {
	CONF_UNIT_COUNT,	/* plain number */
	CONF_UNIT_SIZE,		/* bytes, K M G suffixes */
	CONF_UNIT_TIME,		/* seconds, s m h d suffixes */
};

/* Room left for "/authd.control.sock" after rundir in a sockaddr_un. */
#define CONF_SOCKNAME_MAX	24

void	conf_init(struct conf *);
int	conf_finish(struct conf *, char *, size_t);
int	conf_value(const char *, enum conf_unit, int64_t *);
int	conf_listen_resolve(struct conf_listen *, const char *, uint16_t);
int	conf_hostname_valid(const char *);
size_t	conf_sun_path_max(void);
/* mta resolver "IP[@PORT]", relay host: numeric or a host name. */
int	conf_resolver_valid(const char *);
int	conf_host_valid(const char *);

#endif
