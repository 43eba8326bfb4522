/*
 * tsambactl who and kick: the IMAP and POP3 sessions of tsamba-imapd
 * over its control socket (imapd.control.sock in the run directory,
 * root only).  who lists user, client address, protocol and since when;
 * kick ends every session of one user, the client seeing a BYE first.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "proto.h"
#include "timefmt.h"
#include "ctl.h"

#define WHO_REQID		1

static const struct channel_type who_types[] = {
	{ IMSG_CTL_SESSION_ENTRY, CHANNEL_PART },
	{ IMSG_CTL_DONE, CHANNEL_ANSWER },
	{ 0, 0 }
};

struct who_out {
	int	 json;
	size_t	 n;
};

/* A JSON string of text the daemon sent: quotes and controls escaped. */
static void
json_text(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
who_entry(struct who_out *o, const struct msg_ctl_session_entry *e)
{
	char		 t[TIME_ISO8601_SIZE];
	const char	*proto = e->proto == 0 ? "imap" : "pop3";

	time_iso8601((time_t)e->since, t, sizeof(t));
	if (!o->json) {
		printf("%-32s %-20s %-5s %-25s %u\n", e->user, e->ip, proto,
		    t, e->pid);
		o->n++;
		return;
	}
	printf("%s\n  {\"user\": ", o->n > 0 ? "," : "");
	json_text(e->user);
	printf(", \"ip\": ");
	json_text(e->ip);
	printf(", \"protocol\": \"%s\", \"since\": \"%s\", \"pid\": %u}",
	    proto, t, e->pid);
	o->n++;
}

static int
who_answer(struct imsg *imsg, union imsg_msg *m, void *arg)
{
	if (imsg->hdr.type == IMSG_CTL_SESSION_ENTRY) {
		who_entry(arg, &m->ctl_session_entry);
		return 0;
	}
	if (m->ctl_done.failed) {
		ctl_warnx("%s", *m->ctl_done.message ? m->ctl_done.message :
		    "refused");
		return -1;
	}
	return 0;
}

int
cmd_who(int argc, char *argv[])
{
	struct ctl_imsg	 ci;
	struct who_out	 o = { 0, 0 };
	int		 ch, rv;

	ctl->what = "who";
	while ((ch = getopt(argc, argv, "j")) != -1) {
		switch (ch) {
		case 'j':
			o.json = 1;
			break;
		default:
			ctl_usage();
		}
	}
	if (optind != argc)
		ctl_usage();
	if (ctl_imsg_open(&ci, ctl_conf(), "imapd.control.sock",
	    "tsamba-imapd", who_types) == -1)
		return 1;
	if (o.json)
		printf("{\"sessions\": [");
	else
		printf("%-32s %-20s %-5s %-25s %s\n", "USER", "IP", "PROTO",
		    "SINCE", "PID");
	rv = ctl_imsg_request(&ci, msg_ctl_session_list_pack(
	    &(struct msg_ctl_session_list){ .id = WHO_REQID }, -1),
	    WHO_REQID, who_answer, &o);
	ctl_imsg_close(&ci);
	if (o.json)
		printf("\n]}\n");
	fflush(stdout);
	return rv == -1 ? 1 : 0;
}

static int
kick_answer(struct imsg *imsg, union imsg_msg *m, void *arg)
{
	if (m->ctl_done.failed) {
		ctl_warnx("%s", *m->ctl_done.message ? m->ctl_done.message :
		    "refused");
		return -1;
	}
	printf("%s\n", m->ctl_done.message);
	return 0;
}

static const struct channel_type kick_types[] = {
	{ IMSG_CTL_DONE, CHANNEL_ANSWER },
	{ 0, 0 }
};

int
cmd_kick(int argc, char *argv[])
{
	struct ctl_imsg	 ci;
	int		 rv;

	ctl->what = "kick";
	if (argc != 2)
		ctl_usage();
	if (strlen(argv[1]) > ADDR_MAX || strchr(argv[1], '@') == NULL)
		ctl_errx("\"%s\" is not a user address", argv[1]);
	if (ctl_imsg_open(&ci, ctl_conf(), "imapd.control.sock",
	    "tsamba-imapd", kick_types) == -1)
		return 1;
	rv = ctl_imsg_request(&ci, msg_ctl_session_kick_pack(
	    &(struct msg_ctl_session_kick){ .id = WHO_REQID,
	    .user = argv[1] }, -1), WHO_REQID, kick_answer, NULL);
	ctl_imsg_close(&ci);
	return rv == -1 ? 1 : 0;
}
