/*
 * imapd.control.sock: tsambactl asks the parent who is connected and
 * kicks a user's sessions here.  The socket is mode 0600 and
 * SO_PEERCRED admits only root.  Requests: CTL_SESSION_LIST (one
 * CTL_SESSION_ENTRY per mail process, then CTL_DONE) and
 * CTL_SESSION_KICK (CTL_DONE saying how many sessions were told to go).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "control.h"
#include "imsg.h"
#include "log.h"
#include "imapd.h"

static const struct channel_type ctl_types[] = {
	{ IMSG_CTL_SESSION_LIST, 0 },
	{ IMSG_CTL_SESSION_KICK, 0 },
	{ 0, 0 }
};

static void	 ctl_request(struct channel *, struct imsg *, union imsg_msg *,
		    void *);

static struct control	 ctl = { .us = "imapd control",
	.task = "control imapd", .types = ctl_types, .request = ctl_request };

struct list_arg {
	struct control_client	*c;
	uint64_t		 id;
};

static int
ctl_entry(const struct mail_proc_info *i, void *arg)
{
	struct list_arg			*la = arg;
	struct msg_ctl_session_entry	 m = { .id = la->id, .user = i->user,
	    .ip = i->ip, .proto = i->proto, .since = (uint64_t)i->since,
	    .pid = (uint32_t)i->pid };

	if (la->c->dead)
		return -1;
	control_send(la->c, msg_ctl_session_entry_pack(&m, -1));
	return 0;
}

static void
ctl_kick(struct control_client *c, struct msg_ctl_session_kick *m)
{
	char		 msg[64];
	unsigned int	 n;

	if (m->user[0] == '\0') {
		control_done(c, m->id, 1, "no user given");
		return;
	}
	n = mail_procs_kick(m->user);
	snprintf(msg, sizeof(msg), "%u session%s ended", n, n == 1 ? "" :
	    "s");
	control_done(c, m->id, 0, msg);
}

static void
ctl_request(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct control_client	*c = arg;
	struct list_arg		 la;

	if (c->dead)
		return;
	switch (imsg->hdr.type) {
	case IMSG_CTL_SESSION_LIST:
		la.c = c;
		la.id = m->ctl_session_list.id;
		mail_procs_walk(ctl_entry, &la);
		if (!c->dead)
			control_done(c, la.id, 0, "");
		break;
	case IMSG_CTL_SESSION_KICK:
		ctl_kick(c, &m->ctl_session_kick);
		break;
	}
}

/* In the parent's event loop, which stays root. */
void
imapd_control_listen(void)
{
	char	 path[PATH_MAX];

	conf_sockpath(imapd_conf, "imapd.control.sock", path, sizeof(path));
	control_listen(&ctl, path);
	control_start(&ctl, -1);
}

void
imapd_control_shutdown(void)
{
	control_shutdown(&ctl);
}
