/*
 * tsambactl health: tsamba-imapd, when tsamba.conf gives it listeners.
 * Its parent answers the imsg hello on imapd.control.sock (the socket
 * of tsambactl who and kick); each IMAP listener greets "* OK" and each
 * POP3 one "+OK", an imaps or pop3s one after the TLS handshake; a tls
 * or tls-require one takes STARTTLS (RFC 9051 6.2.1) or STLS (RFC 2595
 * 4) and shakes hands, and the certificate is judged as for SMTP.  The
 * session ends with LOGOUT or QUIT, before any login.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include <tls.h>

#include "conf.h"
#include "ctl.h"
#include "ctl_health.h"

/* How an IMAP or a POP3 server says yes. */
struct mail_proto {
	const char	*name;		/* "imap", "pop3" */
	const char	*implicit;	/* "imaps", "pop3s" */
	const char	*greeting;	/* a good greeting starts so */
	const char	*starttls;	/* the command */
	const char	*ok;		/* its good answer starts so */
	const char	*logout;
	const char	*bye;		/* the last line of the logout */
	int		 untagged;	/* "* " lines may come before */
};

static const struct mail_proto imap_proto = {
	"imap", "imaps", "* OK", "h1 STARTTLS", "h1 OK", "h2 LOGOUT", "h2 ", 1
};

static const struct mail_proto pop3_proto = {
	"pop3", "pop3s", "+OK", "STLS", "+OK", "QUIT", "", 0
};

/*
 * The answer to the last command: IMAP's untagged lines (a CAPABILITY
 * a server may send first) are read past up to the tagged one.
 */
static int
answer(struct hconv *c, const struct mail_proto *p, char *line,
    size_t linesz)
{
	int	 n;

	for (n = 0; n < 100; n++) {
		if (hconv_line(c, line, linesz) == -1)
			return -1;
		if (!p->untagged || strncmp(line, "* ", 2) != 0)
			return 0;
	}
	snprintf(c->err, sizeof(c->err), "more than 100 untagged lines");
	return -1;
}

/* STARTTLS or STLS and the handshake: 0, or -1 and why in c->err. */
static int
mail_starttls(struct health *h, struct hconv *c, const struct mail_proto *p,
    struct tls_config *cfg)
{
	char	 line[HCONV_LINE_MAX];

	if (hconv_send(c, p->starttls) == -1 ||
	    answer(c, p, line, sizeof(line)) == -1)
		return -1;
	if (strncmp(line, p->ok, strlen(p->ok)) != 0) {
		snprintf(c->err, sizeof(c->err), "answers \"%.200s\" to %s",
		    line, p->starttls);
		return -1;
	}
	return hconv_starttls(c, cfg, h->conf->hostname);
}

static void
mail_logout(struct hconv *c, const struct mail_proto *p)
{
	char	 line[HCONV_LINE_MAX];

	if (hconv_send(c, p->logout) == -1)
		return;
	while (hconv_line(c, line, sizeof(line)) == 0)
		if (strncmp(line, p->bye, strlen(p->bye)) == 0)
			break;
}

static void
mail_listener(struct health *h, const struct conf_listen *l,
    const struct mail_proto *p, struct tls_config *cfg)
{
	struct sockaddr_storage	 ss;
	struct hconv		 c;
	char			 where[CONF_HOST_MAX];
	char			 lname[HEALTH_NAME_MAX];
	char			 tname[HEALTH_NAME_MAX];
	char			 line[HCONV_LINE_MAX];
	int			 implicit, tls;

	implicit = l->flags & LISTEN_IMPLICIT;
	tls = l->flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE | LISTEN_IMPLICIT);
	health_listen_name(l, where, sizeof(where));
	snprintf(lname, sizeof(lname), "listen %s %s", implicit ?
	    p->implicit : p->name, where);
	snprintf(tname, sizeof(tname), "tls %s %s", implicit ? p->implicit :
	    p->name, where);
	health_listen_target(l, &ss);
	if (hconv_tcp(&c, (struct sockaddr *)&ss, l->sslen) == -1) {
		health_add(h, HEALTH_FAIL, lname, "%s", c.err);
		goto done;
	}
	if (implicit && hconv_starttls(&c, cfg, h->conf->hostname) == -1) {
		health_add(h, HEALTH_FAIL, lname, "%s: %s", p->implicit,
		    c.err);
		goto done;
	}
	if (hconv_line(&c, line, sizeof(line)) == -1) {
		health_add(h, HEALTH_FAIL, lname, "%s", c.err);
		goto done;
	}
	if (strncmp(line, p->greeting, strlen(p->greeting)) != 0) {
		health_add(h, HEALTH_FAIL, lname, "greets with \"%.200s\"",
		    line);
		goto done;
	}
	health_add(h, HEALTH_OK, lname, "\"%s\"", line);
	if (tls && !implicit && mail_starttls(h, &c, p, cfg) == -1) {
		health_add(h, HEALTH_FAIL, tname, "%s", c.err);
		goto done;
	}
	if (tls)
		health_cert_judge(h, &c, tname);
	mail_logout(&c, p);
 done:
	hconv_close(&c);
}

void
health_imapd(struct health *h)
{
	struct tls_config	*cfg;
	struct conf_listen	*l;

	if (TAILQ_EMPTY(&h->conf->imap_listens) &&
	    TAILQ_EMPTY(&h->conf->pop3_listens))
		return;
	health_hello(h, "daemon imapd", "imapd.control.sock",
	    "tsamba-imapd");
	cfg = health_tls_client();
	TAILQ_FOREACH(l, &h->conf->imap_listens, entry)
		mail_listener(h, l, &imap_proto, cfg);
	TAILQ_FOREACH(l, &h->conf->pop3_listens, entry)
		mail_listener(h, l, &pop3_proto, cfg);
	tls_config_free(cfg);
}
