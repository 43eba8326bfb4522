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
#include <arpa/inet.h>

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_priv.h"
#include "proto.h"

_Static_assert(CONF_ADDR_MAX == ADDR_MAX + 1,
    "conf.h and proto.h disagree on the length of an address");

#define DEFAULT_RUNDIR		"/run/tsamba"
#define DEFAULT_SPOOL		"/var/spool/tsamba"
#define DEFAULT_MAILROOT	"/var/vmail"
#define DEFAULT_CHROOT		"/var/lib/tsamba/empty"
#define DEFAULT_STATEDIR	"/var/lib/tsamba"

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
	TAILQ_INIT(&conf->metrics_listens);
	TAILQ_INIT(&conf->imap_listens);
	TAILQ_INIT(&conf->pop3_listens);
	TAILQ_INIT(&conf->ban_never);

	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) == -1 || host[0] == '\0')
		conf_copy(host, sizeof(host), "localhost");
	conf_copy(conf->hostname, sizeof(conf->hostname), host);

	conf_copy(conf->rundir, sizeof(conf->rundir), DEFAULT_RUNDIR);
	conf_copy(conf->spool, sizeof(conf->spool), DEFAULT_SPOOL);
	conf_copy(conf->mailroot, sizeof(conf->mailroot), DEFAULT_MAILROOT);
	conf_copy(conf->chroot, sizeof(conf->chroot), DEFAULT_CHROOT);
	conf_copy(conf->user_smtpd, sizeof(conf->user_smtpd), "_tsamba");
	conf_copy(conf->user_lmtpd, sizeof(conf->user_lmtpd), "_tsambalmtp");
	conf_copy(conf->user_mta, sizeof(conf->user_mta), "_tsambamta");
	conf_copy(conf->user_queue, sizeof(conf->user_queue), "_tsambaq");
	conf_copy(conf->user_imap, sizeof(conf->user_imap), "_tsambaimap");
	conf_copy(conf->user_auth, sizeof(conf->user_auth), "_tsambaauth");
	conf_copy(conf->user_metrics, sizeof(conf->user_metrics),
	    "_tsambamet");
	conf_copy(conf->user_vmail, sizeof(conf->user_vmail), "vmail");

	conf_copy(conf->tls_ciphers, sizeof(conf->tls_ciphers),
	    TLS_CIPHERS_DEFAULT);

	conf->max_message_size = 35 * 1024 * 1024;
	conf->mailbox_quota = CONF_QUOTA_UNSET;
	conf->max_rcpts = 100;
	conf->max_sessions = 500;
	conf->max_sessions_per_ip = 20;
	conf->max_line = 1000;
	conf->timeout_idle = 300;
	conf->timeout_lookup = 30;
	conf->lmtp_max_writers = 64;
	conf->lmtp_writer_idle = 60;
	conf->timeout_session = 1800;

	conf->imap_max_sessions = 1000;
	conf->imap_max_per_ip = 20;
	conf->imap_max_per_user = 10;
	/* RFC 9051 5.4: an autologout timer of at least 30 minutes. */
	conf->imap_timeout_idle = 1800;
	conf->imap_timeout_login = 60;

	conf->queue_lifetime = 4 * 24 * 3600;
	conf->queue_retry_min = 60;
	conf->queue_retry_max = 3600;
	conf->queue_delay_warn = 4 * 3600;
	conf->queue_lmtp_sessions = 8;

	conf->mta_port = 25;
	conf->mta_max_conns = 100;
	conf->mta_max_conns_domain = 10;
	TAILQ_INIT(&conf->mta_tls_verify);
	TAILQ_INIT(&conf->dkims);
	conf_copy(conf->check_psl, sizeof(conf->check_psl),
	    "/usr/share/publicsuffix/public_suffix_list.dat");
	conf->check_tempfail = CHECK_TEMPFAIL_ACCEPT;
	conf->check_dmarc_reject = CHECK_DMARC_REJECT;
	conf->grey_delay = 300;
	conf->grey_retry = 4 * 3600;
	conf->grey_expire = 36 * 24 * 3600;
	TAILQ_INIT(&conf->milters);

	conf_copy(conf->statedir, sizeof(conf->statedir), DEFAULT_STATEDIR);
	conf->ban_max_failures = 5;
	conf->ban_window = 600;
	conf->ban_duration = 3600;
	conf->ban_prefix4 = 32;
	conf->ban_prefix6 = 64;
	/*
	 * lmtp_socket, queue_lmtp and postmaster stay empty until
	 * conf_finish().
	 */
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
	/* Here, not in conf_init(): the hostname may be set anywhere. */
	if (conf->postmaster[0] == '\0') {
		n = snprintf(conf->postmaster, sizeof(conf->postmaster),
		    "postmaster@%s", conf->hostname);
		if (n < 0 || (size_t)n >= sizeof(conf->postmaster)) {
			snprintf(err, errsz, "hostname too long for the "
			    "postmaster address: set \"postmaster\"");
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
	struct conf_net		*n;
	struct conf_domain	*d;
	struct conf_dkim	*k;
	struct conf_milter	*m;

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
	while ((l = TAILQ_FIRST(&conf->metrics_listens)) != NULL) {
		TAILQ_REMOVE(&conf->metrics_listens, l, entry);
		free(l);
	}
	while ((l = TAILQ_FIRST(&conf->imap_listens)) != NULL) {
		TAILQ_REMOVE(&conf->imap_listens, l, entry);
		free(l);
	}
	while ((l = TAILQ_FIRST(&conf->pop3_listens)) != NULL) {
		TAILQ_REMOVE(&conf->pop3_listens, l, entry);
		free(l);
	}
	while ((n = TAILQ_FIRST(&conf->ban_never)) != NULL) {
		TAILQ_REMOVE(&conf->ban_never, n, entry);
		free(n);
	}
	while ((d = TAILQ_FIRST(&conf->mta_tls_verify)) != NULL) {
		TAILQ_REMOVE(&conf->mta_tls_verify, d, entry);
		free(d);
	}
	while ((m = TAILQ_FIRST(&conf->milters)) != NULL) {
		TAILQ_REMOVE(&conf->milters, m, entry);
		free(m);
	}
	while ((k = TAILQ_FIRST(&conf->dkims)) != NULL) {
		TAILQ_REMOVE(&conf->dkims, k, entry);
		free(k);
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

struct conf_milter *
conf_milter_find(struct conf *conf, const char *name)
{
	struct conf_milter	*m;

	TAILQ_FOREACH(m, &conf->milters, entry)
		if (strcmp(m->name, name) == 0)
			return m;
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
 * "mta resolver": a numeric IPv4 or IPv6 address, then "@PORT" if not 53.
 * Finding the name server must not itself need a name server.
 */
int
conf_resolver_valid(const char *text)
{
	char		 addr[INET6_ADDRSTRLEN + 1];
	unsigned char	 bin[sizeof(struct in6_addr)];
	const char	*at, *p;
	size_t		 alen;
	long		 port = 0;

	at = strchr(text, '@');
	alen = at != NULL ? (size_t)(at - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(addr))
		return 0;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 &&
	    inet_pton(AF_INET6, addr, bin) != 1)
		return 0;
	if (at == NULL)
		return 1;
	if (at[1] == '\0' || strlen(at + 1) > 5)
		return 0;
	for (p = at + 1; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		port = port * 10 + (*p - '0');
	}
	return port >= 1 && port <= 65535;
}

/* A relay host: a host name or a numeric IPv4 or IPv6 address. */
int
conf_host_valid(const char *h)
{
	unsigned char	 bin[sizeof(struct in6_addr)];

	if (conf_hostname_valid(h))
		return 1;
	return inet_pton(AF_INET, h, bin) == 1 ||
	    inet_pton(AF_INET6, h, bin) == 1;
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

/*
 * "ADDRESS" or "ADDRESS/PREFIX", numeric IPv4 or IPv6.  The host bits
 * are cleared so that matching compares only the network part; an
 * IPv4-mapped IPv6 peer matches an IPv4 network (see conf_net_match).
 */
int
conf_net_parse(struct conf_net *n, const char *text)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&n->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&n->ss;
	char			 addr[INET6_ADDRSTRLEN + 1];
	const char		*slash, *p;
	unsigned char		*bytes;
	size_t			 alen, nbytes, i;
	int			 prefix = -1, max;

	if (strlen(text) >= sizeof(n->text))
		return -1;
	slash = strchr(text, '/');
	alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (slash != NULL) {
		if (slash[1] == '\0' || strlen(slash + 1) > 3)
			return -1;
		prefix = 0;
		for (p = slash + 1; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			prefix = prefix * 10 + (*p - '0');
		}
	}
	memset(&n->ss, 0, sizeof(n->ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		bytes = (unsigned char *)&sin->sin_addr;
		nbytes = 4;
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		bytes = (unsigned char *)&sin6->sin6_addr;
		nbytes = 16;
	} else
		return -1;
	max = (int)nbytes * 8;
	if (prefix == -1)
		prefix = max;
	if (prefix > max)
		return -1;
	for (i = 0; i < nbytes; i++) {
		if ((int)(i * 8) >= prefix)
			bytes[i] = 0;
		else if ((int)(i * 8 + 8) > prefix)
			bytes[i] &= (unsigned char)(0xff << (8 - (prefix % 8)));
	}
	n->prefixlen = prefix;
	memcpy(n->text, text, strlen(text) + 1);
	return 0;
}

static int
conf_prefix_equal(const unsigned char *a, const unsigned char *b,
    int prefix)
{
	int	full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int
conf_net_match(const struct conf_net_list *nets, const struct sockaddr *sa)
{
	static const unsigned char	 mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	const struct conf_net		*n;
	const unsigned char		*a4 = NULL, *a6 = NULL;
	const unsigned char		*nb;

	if (sa->sa_family == AF_INET)
		a4 = (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		a6 = (const unsigned char *)
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		/* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket. */
		if (memcmp(a6, mapped, sizeof(mapped)) == 0)
			a4 = a6 + 12;
	} else
		return 0;

	TAILQ_FOREACH(n, nets, entry) {
		if (n->ss.ss_family == AF_INET && a4 != NULL) {
			nb = (const unsigned char *)&((const struct
			    sockaddr_in *)(const void *)&n->ss)->sin_addr;
			if (conf_prefix_equal(a4, nb, n->prefixlen))
				return 1;
		} else if (n->ss.ss_family == AF_INET6 && a6 != NULL) {
			nb = (const unsigned char *)&((const struct
			    sockaddr_in6 *)(const void *)&n->ss)->sin6_addr;
			if (conf_prefix_equal(a6, nb, n->prefixlen))
				return 1;
		}
	}
	return 0;
}
