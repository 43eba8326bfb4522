/*
 * The user's storage quota in the mail process: APPEND and COPY/MOVE
 * are refused with NO [OVERQUOTA] when they would go over it.  Usage is
 * kept where Dovecot and lmtpd keep it, the Maildir++ "maildirsize" in
 * the mail home.  The limit is the user's quota from authd when it has
 * one (then the file's first line is kept equal to it), else the one
 * maildirsize itself carries (set by Dovecot or an administrator); with
 * neither, nothing is counted.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "imapd.h"

static struct maildir_uniq	 quota_uniq;
static int			 quota_uniq_ready;

/*
 * The sums and limits, recalculated when the file asks for it or its
 * limit is not the user's quota (lib/maildir_quota.c).
 */
static int
quota_load(struct mail_session *s, struct maildir_quota *q)
{
	char	 host[128];

	if (!quota_uniq_ready) {
		if (gethostname(host, sizeof(host)) == -1)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		maildir_uniq_init(&quota_uniq, host);
		quota_uniq_ready = 1;
	}
	if (maildir_quota_sync(s->root, &quota_uniq, s->quota, q) == -1) {
		if (errno != ENOENT)
			log_warn("%s: maildirsize", s->user);
		return -1;		/* nothing counted */
	}
	return 0;
}

/* Would bytes in count more messages go over the quota?  1 or 0. */
int
mail_quota_over(struct mail_session *s, int64_t bytes, int64_t count)
{
	struct maildir_quota	 q;

	if (quota_load(s, &q) == -1)
		return 0;
	return maildir_quota_exceeded(&q, bytes, count);
}

/* Limits and usage for GETQUOTA: 0, or -1 when nothing is counted. */
int
mail_quota_get(struct mail_session *s, struct maildir_quota *q)
{
	return quota_load(s, q);
}

/* Count what was stored (lmtpd counts what it delivers the same way). */
void
mail_quota_add(struct mail_session *s, int64_t bytes, int64_t count)
{
	if (maildir_quota_add(s->root, bytes, count) == -1 &&
	    errno != ENOENT)
		log_warn("%s: maildirsize", s->user);
}

/* The stored size of messages of mb (S= in the name, or the file's). */
int64_t
mail_quota_size(const struct mailbox *mb, const uint32_t *uids, size_t n)
{
	const struct mbox_msg	*m;
	struct stat		 st;
	size_t			 i, size;
	int64_t			 sum = 0;

	for (i = 0; i < n; i++) {
		if ((m = mailbox_find(mb, uids[i])) == NULL)
			continue;
		if (maildir_name_size(m->name, 'S', &size) == 0)
			sum += (int64_t)size;
		else if (fstatat(mb->md, m->name, &st, 0) == 0)
			sum += st.st_size;
	}
	return sum;
}
