/*
 * tsambactl health: does each daemon answer?  tsamba-authd and
 * tsamba-queue on their control sockets with the imsg hello (root only,
 * as for the other commands); tsamba-lmtpd on its LMTP socket with a
 * greeting and LHLO (root may always deliver there, lmtpd.c), and on
 * each LMTP TCP listener; tsamba-smtpd by its listeners' greetings,
 * which ctl_health_tls.c collects.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "ctl_health.h"

void
health_hello(struct health *h, const char *name, const char *sockname,
    const char *peer)
{
	struct ctl_imsg	 ci;
	char		 path[PATH_MAX], err[HEALTH_DETAIL_MAX];
	int		 r;

	conf_sockpath(h->conf, sockname, path, sizeof(path));
	health_capture(err, sizeof(err));
	r = ctl_imsg_open(&ci, h->conf, sockname, peer, ctl_hello_types);
	health_capture(NULL, 0);
	if (r == -1) {
		health_add(h, HEALTH_FAIL, name, "%s", err);
		return;
	}
	ctl_imsg_close(&ci);
	health_add(h, HEALTH_OK, name, "answers the hello on %s", path);
}

/* Greeting, LHLO, QUIT: 0 with the greeting in text, or -1 and why. */
static int
lmtp_talk(struct hconv *c, const struct conf *conf, char *text,
    size_t textsz)
{
	char	 cmd[CONF_HOST_MAX + 8];
	int	 code;

	if ((code = hconv_reply(c, text, textsz, NULL, NULL)) == -1)
		return -1;
	if (code != 220) {
		snprintf(c->err, sizeof(c->err), "greets with \"%.200s\"",
		    text);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "LHLO %s", conf->hostname);
	if (hconv_send(c, cmd) == -1 ||
	    (code = hconv_reply(c, NULL, 0, NULL, NULL)) == -1)
		return -1;
	if (code != 250) {
		snprintf(c->err, sizeof(c->err), "answers %d to LHLO", code);
		return -1;
	}
	hconv_quit(c);
	return 0;
}

static void
daemon_lmtp_socket(struct health *h)
{
	struct hconv	 c;
	char		 text[HCONV_LINE_MAX];

	if (hconv_unix(&c, h->conf->lmtp_socket) == -1 ||
	    lmtp_talk(&c, h->conf, text, sizeof(text)) == -1)
		health_add(h, HEALTH_FAIL, "daemon lmtpd", "%s: %s",
		    h->conf->lmtp_socket, c.err);
	else
		health_add(h, HEALTH_OK, "daemon lmtpd", "answers LHLO on %s",
		    h->conf->lmtp_socket);
	hconv_close(&c);
}

static void
daemon_lmtp_tcp(struct health *h, const struct conf_listen *l)
{
	struct sockaddr_storage	 ss;
	struct hconv		 c;
	char			 name[HEALTH_NAME_MAX];
	char			 where[CONF_HOST_MAX];
	char			 text[HCONV_LINE_MAX];

	health_listen_name(l, where, sizeof(where));
	snprintf(name, sizeof(name), "listen lmtp %s", where);
	health_listen_target(l, &ss);
	if (hconv_tcp(&c, (struct sockaddr *)&ss, l->sslen) == -1 ||
	    lmtp_talk(&c, h->conf, text, sizeof(text)) == -1)
		health_add(h, HEALTH_FAIL, name, "%s", c.err);
	else
		health_add(h, HEALTH_OK, name, "answers LHLO");
	hconv_close(&c);
}

void
health_daemons(struct health *h)
{
	struct conf_listen	*l;

	health_hello(h, "daemon authd", "authd.control.sock", "tsamba-authd");
	health_hello(h, "daemon queue", "queue.control.sock", "tsamba-queue");
	daemon_lmtp_socket(h);
	TAILQ_FOREACH(l, &h->conf->lmtp_listens, entry)
		daemon_lmtp_tcp(h, l);
}

void
health_smtpd(struct health *h)
{
	if (TAILQ_EMPTY(&h->conf->listens))
		health_add(h, HEALTH_WARN, "daemon smtpd",
		    "no listen statement in %s", ctl->conffile);
	else if (h->smtp_greeted)
		health_add(h, HEALTH_OK, "daemon smtpd",
		    "its listeners greet");
	else
		health_add(h, HEALTH_FAIL, "daemon smtpd",
		    "none of its listeners greets");
}
