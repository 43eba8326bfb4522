/*
 * LSUB (RFC 3501 6.3.9) as Dovecot answers it, from the subscriptions
 * file alone (subscriptions.c): every subscribed name that matches is
 * listed with its special use, also when its folder is gone (a server
 * does not drop a subscription, 6.3.6); INBOX only when subscribed; and
 * a level above a subscribed name that a "%" pattern matches where the
 * name does not is listed \Noselect, which in LSUB says "not subscribed
 * itself".  The empty pattern is LIST's, answered in imap_cmd_list.c.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "subscriptions.h"
#include "imapd.h"

static void
lsub_line(struct mail_session *s, const char *name, int noselect)
{
	const char	*attr;
	int		 bit, use, sp = 0;

	fputs("* LSUB (", s->io.out);
	if (noselect)
		fputs("\\Noselect", s->io.out);
	else {
		use = folder_special_use(name) | special_use_of(s->root, name);
		for (bit = 1; bit <= MBOX_SPECIAL_ALL; bit <<= 1)
			if ((use & bit) && (attr = folder_special_name(bit)) !=
			    NULL)
				fprintf(s->io.out, "%s%s", sp++ ? " " : "",
				    attr);
	}
	fputs(") \".\" ", s->io.out);
	imap_name_out(s, s->io.out, name);
	fputs("\r\n", s->io.out);
}

/* The levels above name that l wants and nobody subscribed, once each. */
static void
lsub_parents(struct mail_session *s, const struct imap_list *l,
    const struct subscriptions *subs, const char *name,
    struct subscriptions *shown)
{
	char	 parent[MAILBOX_NAME_MAX];
	char	*sep;

	if (strlcpy(parent, name, sizeof(parent)) >= sizeof(parent))
		return;
	while ((sep = strrchr(parent, MAILBOX_SEP)) != NULL) {
		*sep = '\0';
		if (!imap_list_wants(s, l, parent) || subs_has(subs, parent) ||
		    subs_has(shown, parent))
			continue;
		if (subs_add(shown, parent) == 0)
			lsub_line(s, parent, 1);
	}
}

void
imap_cmd_lsub(struct mail_session *s, struct imap_cmd *cmd)
{
	const struct imap_list	*l = &cmd->u.list;
	struct subscriptions	 subs, shown;
	size_t			 i;

	subs_init(&subs);
	subs_init(&shown);
	if (subs_read(&subs, s->root) == -1) {
		log_warn("%s: subscriptions", s->user);
		subs_clear(&subs);
		imap_tagged(s, cmd, "NO", "[UNAVAILABLE] Cannot read the "
		    "subscriptions");
		return;
	}
	for (i = 0; i < subs.n; i++) {
		if (imap_list_wants(s, l, subs.name[i]))
			lsub_line(s, subs.name[i], 0);
		else
			lsub_parents(s, l, &subs, subs.name[i], &shown);
	}
	subs_clear(&shown);
	subs_clear(&subs);
	imap_tagged(s, cmd, "OK", "LSUB completed");
}
