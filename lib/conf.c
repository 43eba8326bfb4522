/*
 * The struct conf outside the grammar: defaults, the values derived from
 * others once the file is read, the units of numbers, listen addresses,
 * and the small accessors the daemons call.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_priv.h"

#define DEFAULT_RUNDIR		"/run/tsamba"
#define DEFAULT_SPOOL		"/var/spool/tsamba"
#define DEFAULT_MAILROOT	"/var/vmail"
#define DEFAULT_CHROOT		"/var/empty"

static void
conf_copy(char *dst, size_t dstsz, const char *src)
{
	/* Every default fits its field; a cut here would be a bug. */
	if ((size_t)snprintf(dst, dstsz, "%s", src) >= dstsz)
		abort();
}

/* Everything a file may leave out, before the file is read. */
void
conf_init(struct conf *conf)
{
	char	host[CONF_HOST_MAX];

	memset(conf, 0, sizeof(*conf));
	TAILQ_INIT(&conf->pkis);
	TAILQ_INIT(&conf->listens);
	TAILQ_INIT(&conf->lmtp_listens);

	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) == -1 || host[0] == '\0')
		conf_copy(host, sizeof(host), "localhost");
	conf_copy(conf->hostname, sizeof(conf->hostname), host);

	conf_copy(conf->rundir, sizeof(conf->rundir), DEFAULT_RUNDIR);
	conf_copy(conf->spool, sizeof(conf->spool), DEFAULT_SPOOL);
	conf_copy(conf->mailroot, sizeof(conf->mailroot), DEFAULT_MAILROOT);
	conf_copy(conf->chroot, sizeof(conf->chroot), DEFAULT_CHROOT);
	conf_copy(conf->user_smtpd, sizeof(conf->user_smtpd), "_tsamba");
	conf_copy(conf->user_queue, sizeof(conf->user_queue), "_tsambaq");
	conf_copy(conf->user_auth, sizeof(conf->user_auth), "_tsambaauth");
	conf_copy(conf->user_vmail, sizeof(conf->user_vmail), "vmail");

	conf->max_message_size = 35 * 1024 * 1024;
	conf->max_rcpts = 100;
	conf->max_sessions = 500;
	conf->max_sessions_per_ip = 20;
	conf->max_line = 1000;
	conf->timeout_idle = 300;
	conf->timeout_session = 1800;

	conf->queue_lifetime = 4 * 24 * 3600;
	conf->queue_retry_min = 60;
	conf->queue_retry_max = 3600;
	conf->queue_delay_warn = 4 * 3600;
	conf->queue_lmtp_sessions = 8;
	/* lmtp_socket and queue_lmtp stay empty until conf_finish(). */
}

size_t
conf_sun_path_max(void)
{
	struct sockaddr_un	 sun;

	return sizeof(sun.sun_path);
}

/*
 * Values that default to other values: they follow what the file set,
 * wherever in the file it was set.  On error, a message in err.
 */
int
conf_finish(struct conf *conf, char *err, size_t errsz)
{
	int	n;

	if (conf->lmtp_socket[0] == '\0') {
		n = snprintf(conf->lmtp_socket, sizeof(conf->lmtp_socket),
		    "%s/lmtp.sock", conf->rundir);
		if (n < 0 || (size_t)n >= sizeof(conf->lmtp_socket)) {
			snprintf(err, errsz, "rundir too long");
			return -1;
		}
	}
	if (conf->queue_lmtp[0] == '\0')
		conf_copy(conf->queue_lmtp, sizeof(conf->queue_lmtp),
		    conf->lmtp_socket);
	if (strlen(conf->lmtp_socket) >= conf_sun_path_max()) {
		snprintf(err, errsz, "lmtp socket path too long: %s",
		    conf->lmtp_socket);
		return -1;
	}
	if (strlen(conf->queue_lmtp) >= conf_sun_path_max()) {
		snprintf(err, errsz, "queue lmtp socket path too long: %s",
		    conf->queue_lmtp);
		return -1;
	}
	if (conf->queue_retry_min > conf->queue_retry_max) {
		snprintf(err, errsz, "queue retry-min (%us) is longer than "
		    "retry-max (%us)", conf->queue_retry_min,
		    conf->queue_retry_max);
		return -1;
	}
	return 0;
}

void
conf_clear(struct conf *conf)
{
	struct conf_pki		*pki;
	struct conf_listen	*l;

	while ((pki = TAILQ_FIRST(&conf->pkis)) != NULL) {
		TAILQ_REMOVE(&conf->pkis, pki, entry);
		free(pki);
	}
	while ((l = TAILQ_FIRST(&conf->listens)) != NULL) {
		TAILQ_REMOVE(&conf->listens, l, entry);
		free(l);
	}
	while ((l = TAILQ_FIRST(&conf->lmtp_listens)) != NULL) {
		TAILQ_REMOVE(&conf->lmtp_listens, l, entry);
		free(l);
	}
}

struct conf_pki *
conf_pki_find(struct conf *conf, const char *name)
{
	struct conf_pki	*pki;

	TAILQ_FOREACH(pki, &conf->pkis, entry)
		if (strcmp(pki->name, name) == 0)
			return pki;
	return NULL;
}

void
conf_sockpath(const struct conf *conf, const char *name, char *buf,
    size_t bufsz)
{
	/* rundir was checked by the parser to leave room for the names. */
	(void)snprintf(buf, bufsz, "%s/%s", conf->rundir, name);
}

/*
 * A number with the unit of its setting: "35M", "90s", "4d" or plain
 * digits (bytes, seconds).  Suffixes are case-insensitive.  -1 on a bad
 * number or an overflow.
 */
int
conf_value(const char *s, enum conf_unit unit, int64_t *out)
{
	int64_t		 v = 0, mult = 1;
	const char	*p;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++) {
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (*p != '\0') {
		if (p[1] != '\0')
			return -1;
		switch (unit) {
		case CONF_UNIT_SIZE:
			switch (tolower((unsigned char)*p)) {
			case 'k':
				mult = 1024;
				break;
			case 'm':
				mult = 1024 * 1024;
				break;
			case 'g':
				mult = 1024 * 1024 * 1024;
				break;
			default:
				return -1;
			}
			break;
		case CONF_UNIT_TIME:
			switch (tolower((unsigned char)*p)) {
			case 's':
				mult = 1;
				break;
			case 'm':
				mult = 60;
				break;
			case 'h':
				mult = 3600;
				break;
			case 'd':
				mult = 86400;
				break;
			default:
				return -1;
			}
			break;
		default:
			return -1;
		}
	}
	if (v > INT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * ADDR of a listen statement: "any" (IPv4 wildcard), "localhost"
 * (127.0.0.1) or a numeric IPv4 or IPv6 address ("::" is the IPv6
 * wildcard).  Names are not resolved: a mail server must not depend on
 * DNS to start.
 */
int
conf_listen_resolve(struct conf_listen *l, const char *addr, uint16_t port)
{
	struct addrinfo	 hints, *res;
	const char	*host = addr;
	char		 serv[8];

	if (strcmp(addr, "any") == 0)
		host = "0.0.0.0";
	else if (strcmp(addr, "localhost") == 0)
		host = "127.0.0.1";

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(serv, sizeof(serv), "%u", port);
	if (getaddrinfo(host, serv, &hints, &res) != 0)
		return -1;
	if (res->ai_addrlen > sizeof(l->ss)) {
		freeaddrinfo(res);
		return -1;
	}
	memset(&l->ss, 0, sizeof(l->ss));
	memcpy(&l->ss, res->ai_addr, res->ai_addrlen);
	l->sslen = res->ai_addrlen;
	l->port = port;
	freeaddrinfo(res);
	if ((size_t)snprintf(l->addr, sizeof(l->addr), "%s", addr) >=
	    sizeof(l->addr))
		return -1;
	return 0;
}

/* Letters, digits, '-', '.', '_' in labels of 1 to 63 characters. */
int
conf_hostname_valid(const char *h)
{
	size_t	 label = 0;

	if (*h == '\0' || strlen(h) >= CONF_HOST_MAX)
		return 0;
	for (; *h != '\0'; h++) {
		if (*h == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*h) && *h != '-' && *h != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}
