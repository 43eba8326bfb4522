/*
 * The Maildir writer process: it runs as one mailbox owner, chrooted in
 * the mail root, and turns each DELIVER from the parent into a file in
 * <maildir>/new/ through lib/maildir (tmp/, fsync, then new/: a reader
 * never sees half a message, and a crash leaves at worst a stale file
 * in tmp/, which a later delivery removes after 36 hours).  Mailboxes
 * are created on first delivery.
 *
 * Messages are stored with LF line ends, as Dovecot and Postfix store
 * them; the name carries S= (file size) and W= (size with CRLF) so an
 * IMAP server need not read the file to know either.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "esc.h"
#include "imsg.h"
#include "log.h"
#include "maildir.h"
#include "privdrop.h"
#include "proto.h"
#include "lmtpd.h"

#define COPY_BUFSZ	65536
#define CLEAN_SLOTS	256	/* Maildirs whose tmp/ cleaning is timed */
#define CLEAN_INTERVAL	3600	/* look at one tmp/ at most this often */

static struct maildir_uniq	 uniq;

static const struct channel_type writer_types[] = {
	{ IMSG_LMTP_DELIVER, 0 },
	{ 0, 0 }
};

static void	writer_dispatch(struct channel *, struct imsg *,
		    struct msg_lmtp_deliver *);
static int	writer_deliver(const struct msg_lmtp_deliver *, int, char *,
		    size_t);
static int	writer_open_maildir(const char *, struct maildir_tmp *);
static int	writer_quota_over(int, const char *, uint64_t, size_t);
static void	writer_quota_add(int, const char *, size_t);
static void	writer_clean_tmp(int, const char *);
static int	copy_body(struct maildir_tmp *, int);
static int	errno_status(int, char *, size_t);

void
writer_main(int fd, uid_t uid, gid_t gid)
{
	struct channel	 ch;
	struct imsg	 imsg;
	union imsg_msg	 m;
	int		 flags;

	log_procname("writer");
	/* Relative paths then work chrooted (root) or not (demo user). */
	if (chdir(conf->mailroot) == -1)
		fatal("chdir %s", conf->mailroot);
	priv_drop_ids(uid, gid, conf->mailroot, "writer");
	maildir_uniq_init(&uniq, conf->hostname);
	umask(077);

	/* One delivery at a time: the channel's blocking use is enough. */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		fatal("fcntl");
	channel_init(&ch, "parent", "lmtpd writer", writer_types, NULL, NULL);
	if (channel_sync_hello(&ch, fd, -1) == -1)
		exit(1);
	for (;;) {
		if (channel_sync_get(&ch, &imsg, &m, -1) == -1) {
			/* The parent closed: done; anything else: stop. */
			if (ch.state == CHANNEL_DOWN)
				exit(0);
			fatalx("malformed imsg from parent");
		}
		writer_dispatch(&ch, &imsg, &m.lmtp_deliver);
		imsg_free(&imsg);
	}
}

static void
writer_dispatch(struct channel *ch, struct imsg *imsg,
    struct msg_lmtp_deliver *m)
{
	struct msg_lmtp_delivered	 a = { .id = m->id };
	char				 text[LMTP_REPLY_MAX];

	if (imsg->fd == -1)
		fatalx("DELIVER from parent without a message");
	a.status = writer_deliver(m, imsg->fd, text, sizeof(text));
	close(imsg->fd);
	imsg->fd = -1;
	a.text = text;
	if (channel_sync_send(ch, msg_lmtp_delivered_pack(&a, -1)) == -1)
		fatalx("DELIVERED to parent");
}

/*
 * Write prefix and body into <maildir>/new/; a deliver_status.  The
 * Maildir (and its parents) is made on first delivery.  The quota is
 * checked once the message is in tmp/, when its stored size is known
 * exactly; over it, the file goes and the answer is 552 5.2.2, a
 * permanent failure as Dovecot's LMTP gives by default.
 */
static int
writer_deliver(const struct msg_lmtp_deliver *m, int bodyfd, char *text,
    size_t textsz)
{
	const char		*maildir = m->maildir, *prefix = m->prefix;
	struct maildir_tmp	 t;
	char			 md[PATH_MAX], name[MAILDIR_NAME_MAX];
	size_t			 len;
	int			 mdfd, error;

	/* "domain/user/" from authd: the trailing slash is noise here. */
	len = strlcpy(md, maildir, sizeof(md));
	while (len > 1 && md[len - 1] == '/')
		md[--len] = '\0';
	if (len >= sizeof(md) || !maildir_path_ok(md)) {
		log_warnx("refusing mailbox path \"%s\"", maildir);
		(void)esc_reply(text, textsz, 550, ESC_OTHER_MAILBOX_STATUS,
		    "Invalid mailbox path");
		return DELIVER_PERMFAIL;
	}
	if ((mdfd = writer_open_maildir(md, &t)) == -1)
		return errno_status(errno, text, textsz);
	if (maildir_tmp_write(&t, prefix, strlen(prefix)) == -1 ||
	    copy_body(&t, bodyfd) == -1) {
		error = errno;
		log_warn("write %s/tmp/%s", md, t.base);
		maildir_tmp_abort(mdfd, &t);
		close(mdfd);
		return errno_status(error, text, textsz);
	}
	if (writer_quota_over(mdfd, md, m->quota, t.size)) {
		maildir_tmp_abort(mdfd, &t);
		close(mdfd);
		(void)esc_reply(text, textsz, 552, ESC_MAILBOX_FULL,
		    "Mailbox full");
		return DELIVER_PERMFAIL;
	}
	if (maildir_tmp_commit(mdfd, &t, NULL, name, sizeof(name)) == -1) {
		error = errno;
		log_warn("deliver %s/new/%s", md, t.base);
		close(mdfd);
		return errno_status(error, text, textsz);
	}
	log_info("delivered to %s/new/%s", md, name);
	writer_quota_add(mdfd, md, t.size);
	writer_clean_tmp(mdfd, md);
	close(mdfd);
	(void)esc_reply(text, textsz, 250, ESC_OTHER_STATUS, "Delivered");
	return DELIVER_OK;
}

/* The Maildir open and a new file in its tmp/, creating what is missing. */
static int
writer_open_maildir(const char *md, struct maildir_tmp *t)
{
	int	 mdfd, error;

	if ((mdfd = maildir_open(AT_FDCWD, md)) != -1 &&
	    maildir_tmp_open(mdfd, &uniq, t) == 0)
		return mdfd;
	if (errno != ENOENT) {
		log_warn("open %s", md);
		goto fail;
	}
	if (maildir_create(AT_FDCWD, md, 0) == -1) {
		log_warn("create %s", md);
		goto fail;
	}
	if (mdfd == -1 && (mdfd = maildir_open(AT_FDCWD, md)) == -1) {
		log_warn("open %s", md);
		return -1;
	}
	if (maildir_tmp_open(mdfd, &uniq, t) == -1) {
		log_warn("open %s/tmp", md);
		goto fail;
	}
	return mdfd;
 fail:
	if (mdfd != -1) {
		error = errno;
		close(mdfd);
		errno = error;
	}
	return -1;
}

/*
 * Would size more bytes go over the mailbox's limit?  The limit is the
 * quota from authd, else the one in maildirsize (Dovecot's); the file
 * is brought in line with it first (lib/maildir_quota.c).  A
 * maildirsize that cannot be read does not stop mail: 0.
 */
static int
writer_quota_over(int mdfd, const char *md, uint64_t quota, size_t size)
{
	struct maildir_quota	 q;

	if (maildir_quota_sync(mdfd, &uniq, quota, &q) == -1) {
		if (errno != ENOENT)
			log_warn("%s/maildirsize", md);
		return 0;
	}
	if (!maildir_quota_exceeded(&q, (int64_t)size, 1))
		return 0;
	log_info("%s: over quota (%lld of %lld bytes, %lld of %lld "
	    "messages), refusing %zu bytes", md, (long long)q.bytes,
	    (long long)q.max_bytes, (long long)q.count,
	    (long long)q.max_count, size);
	return 1;
}

/*
 * Count the delivery in maildirsize, if the Maildir keeps one: one more
 * line, and a file grown too long is recalculated.  A failure here
 * never fails the delivery: the message is already in new/.
 */
static void
writer_quota_add(int mdfd, const char *md, size_t size)
{
	struct maildir_quota	 q;
	int			 r;

	if ((r = maildir_quota_add(mdfd, (int64_t)size, 1)) == -1) {
		if (errno != ENOENT)
			log_warn("%s/maildirsize", md);
		return;
	}
	if (r == 0)
		return;
	if (maildir_quota_read(mdfd, &q) == -1 && errno != EINVAL) {
		log_warn("%s/maildirsize", md);
		return;
	}
	if (maildir_quota_recalc(mdfd, &uniq, &q) == -1)
		log_warn("recalculate %s/maildirsize", md);
}

/* 64-bit FNV-1a: a Maildir's slot in the cleaning table. */
static uint64_t
path_hash(const char *s)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * What a killed writer left in tmp/ goes after 36 hours (the Maildir
 * rule).  Looking costs a directory read, so each Maildir is looked at
 * once an hour at most; the table is small and lossy, and a collision
 * costs one extra look, never a missed delivery.
 */
static void
writer_clean_tmp(int mdfd, const char *md)
{
	static struct {
		uint64_t	 hash;
		time_t		 when;
	}		 done[CLEAN_SLOTS];
	uint64_t	 h = path_hash(md);
	time_t		 now = time(NULL);
	size_t		 slot = h % CLEAN_SLOTS;
	int		 n;

	if (done[slot].hash == h && done[slot].when <= now &&
	    now - done[slot].when < CLEAN_INTERVAL)
		return;
	done[slot].hash = h;
	done[slot].when = now;
	if ((n = maildir_tmp_clean(mdfd, now)) == -1)
		log_warn("clean %s/tmp", md);
	else if (n > 0)
		log_info("removed %d stale file%s from %s/tmp", n,
		    n == 1 ? "" : "s", md);
}

static int
errno_status(int error, char *text, size_t textsz)
{
	if (error == ENOSPC || error == EDQUOT) {
		(void)esc_reply(text, textsz, 452, ESC_MAILBOX_FULL,
		    "Mailbox full");
		return DELIVER_TEMPFAIL;
	}
	(void)esc_reply(text, textsz, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
	    "Local delivery failed: %s", strerror(error));
	return DELIVER_TEMPFAIL;
}

/* The body from offset 0, after the prefix. */
static int
copy_body(struct maildir_tmp *t, int bodyfd)
{
	char	 buf[COPY_BUFSZ];
	ssize_t	 n;
	off_t	 off = 0;

	for (;;) {
		if ((n = pread(bodyfd, buf, sizeof(buf), off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		if (maildir_tmp_write(t, buf, n) == -1)
			return -1;
		off += n;
	}
}
