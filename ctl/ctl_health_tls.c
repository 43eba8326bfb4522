/*
 * tsambactl health: each SMTP listener of tsamba.conf accepts and
 * greets with 220; a "tls" or "tls-require" one offers STARTTLS after
 * EHLO, an "smtps" one starts with the handshake (RFC 8314).  Then the
 * certificate the handshake showed (libtls as the client): it must name
 * the hostname of tsamba.conf (subjectAltName, else the common name)
 * and not expire soon: WARN under HEALTH_CERT_WARN_DAYS days left, FAIL
 * under HEALTH_CERT_FAIL_DAYS or once expired.  The chain is not
 * verified against a CA store: a certificate of one's own CA is a valid
 * choice for a mail host, which remote senders rarely verify.
 *
 * A listener on a wildcard address is reached on the loopback address
 * of its family.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <tls.h>

#include "conf.h"
#include "timefmt.h"
#include "ctl.h"
#include "ctl_health.h"

#define HEALTH_CERT_WARN_DAYS	21
#define HEALTH_CERT_FAIL_DAYS	7

void
health_listen_name(const struct conf_listen *l, char *buf, size_t bufsz)
{
	char	 a[INET6_ADDRSTRLEN];

	if (l->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&l->ss)->
		    sin6_addr, a, sizeof(a));
		snprintf(buf, bufsz, "[%s]:%u", a, l->port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&l->ss)->
		    sin_addr, a, sizeof(a));
		snprintf(buf, bufsz, "%s:%u", a, l->port);
	}
}

void
health_listen_target(const struct conf_listen *l,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memcpy(ss, &l->ss, sizeof(*ss));
	if (ss->ss_family == AF_INET &&
	    sin->sin_addr.s_addr == htonl(INADDR_ANY))
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
		sin6->sin6_addr = in6addr_loopback;
}

void
health_cert_judge(struct health *h, struct hconv *c, const char *name)
{
	const char	*host = h->conf->hostname;
	char		 until[TIME_ISO8601_SIZE];
	time_t		 notafter, now = time(NULL);
	long long	 days;

	if (!tls_peer_cert_provided(c->tls)) {
		health_add(h, HEALTH_FAIL, name, "no certificate shown");
		return;
	}
	if (tls_peer_cert_contains_name(c->tls, host) != 1) {
		health_add(h, HEALTH_FAIL, name, "certificate %s does not "
		    "name %s", tls_peer_cert_subject(c->tls), host);
		return;
	}
	if ((notafter = tls_peer_cert_notafter(c->tls)) == -1) {
		health_add(h, HEALTH_FAIL, name, "certificate without an "
		    "expiry date");
		return;
	}
	time_iso8601(notafter, until, sizeof(until));
	days = ((long long)notafter - now) / 86400;
	if (notafter <= now)
		health_add(h, HEALTH_FAIL, name, "certificate for %s expired "
		    "on %s", host, until);
	else if (days < HEALTH_CERT_FAIL_DAYS)
		health_add(h, HEALTH_FAIL, name, "certificate for %s expires "
		    "in %lld days, on %s", host, days, until);
	else if (days < HEALTH_CERT_WARN_DAYS)
		health_add(h, HEALTH_WARN, name, "certificate for %s expires "
		    "in %lld days, on %s", host, days, until);
	else
		health_add(h, HEALTH_OK, name, "%s, certificate for %s valid "
		    "until %s (%lld days)", tls_conn_version(c->tls), host,
		    until, days);
}

/* Greeting 220: 0, or -1 and the reason in c->err. */
static int
smtp_greeting(struct hconv *c, char *text, size_t textsz)
{
	int	 code;

	if ((code = hconv_reply(c, text, textsz, NULL, NULL)) == -1)
		return -1;
	if (code != 220) {
		snprintf(c->err, sizeof(c->err), "greets with \"%.200s\"",
		    text);
		return -1;
	}
	return 0;
}

/* EHLO, then STARTTLS if offered: 0, or -1 and the reason in c->err. */
static int
smtp_starttls(struct health *h, struct hconv *c, struct tls_config *cfg)
{
	char	 cmd[CONF_HOST_MAX + 8];
	int	 code, offered;

	snprintf(cmd, sizeof(cmd), "EHLO %s", h->conf->hostname);
	if (hconv_send(c, cmd) == -1 ||
	    (code = hconv_reply(c, NULL, 0, "STARTTLS", &offered)) == -1)
		return -1;
	if (code != 250) {
		snprintf(c->err, sizeof(c->err), "answers %d to EHLO", code);
		return -1;
	}
	if (!offered) {
		snprintf(c->err, sizeof(c->err), "STARTTLS not offered");
		return -1;
	}
	if (hconv_send(c, "STARTTLS") == -1 ||
	    (code = hconv_reply(c, NULL, 0, NULL, NULL)) == -1)
		return -1;
	if (code != 220) {
		snprintf(c->err, sizeof(c->err), "answers %d to STARTTLS",
		    code);
		return -1;
	}
	return hconv_starttls(c, cfg, h->conf->hostname);
}

static void
listener_check(struct health *h, const struct conf_listen *l,
    struct tls_config *cfg)
{
	struct sockaddr_storage	 ss;
	struct hconv		 c;
	char			 where[CONF_HOST_MAX];
	char			 lname[HEALTH_NAME_MAX];
	char			 tname[HEALTH_NAME_MAX];
	char			 text[HCONV_LINE_MAX];
	int			 smtps, tls;

	smtps = l->flags & LISTEN_SMTPS;
	tls = l->flags & (LISTEN_TLS | LISTEN_SMTPS);
	health_listen_name(l, where, sizeof(where));
	snprintf(lname, sizeof(lname), "listen %s", where);
	snprintf(tname, sizeof(tname), "tls %s", where);
	health_listen_target(l, &ss);
	if (hconv_tcp(&c, (struct sockaddr *)&ss, l->sslen) == -1) {
		health_add(h, HEALTH_FAIL, lname, "%s", c.err);
		goto done;
	}
	if (smtps && hconv_starttls(&c, cfg,
	    h->conf->hostname) == -1) {
		health_add(h, HEALTH_FAIL, lname, "smtps: %s", c.err);
		goto done;
	}
	if (smtp_greeting(&c, text, sizeof(text)) == -1) {
		health_add(h, HEALTH_FAIL, lname, "%s", c.err);
		goto done;
	}
	h->smtp_greeted = 1;
	health_add(h, HEALTH_OK, lname, "%s\"%s\"", smtps ? "smtps, " : "",
	    text);
	if (!tls) {
		hconv_quit(&c);
		goto done;
	}
	if (!smtps && smtp_starttls(h, &c, cfg) == -1) {
		health_add(h, HEALTH_FAIL, tname, "%s", c.err);
		goto done;
	}
	health_cert_judge(h, &c, tname);
	hconv_quit(&c);
 done:
	hconv_close(&c);
}

struct tls_config *
health_tls_client(void)
{
	struct tls_config	*cfg;

	/* The name is judged by health_cert_judge, the chain not at all. */
	if ((cfg = tls_config_new()) == NULL ||
	    tls_config_set_protocols(cfg, TLS_PROTOCOLS_ALL) == -1)
		ctl_errx("cannot set up a TLS client");
	tls_config_insecure_noverifycert(cfg);
	tls_config_insecure_noverifyname(cfg);
	return cfg;
}

void
health_listeners(struct health *h)
{
	struct tls_config	*cfg;
	struct conf_listen	*l;

	cfg = health_tls_client();
	TAILQ_FOREACH(l, &h->conf->listens, entry)
		listener_check(h, l, cfg);
	tls_config_free(cfg);
}
