/*
 * The Maildir writer: a process running as one mailbox owner, chrooted in
 * the mail root, that turns each DELIVER into a file in <maildir>/new/.
 * The Maildir rules (tmp/, fsync, then new/) make a delivery atomic: a
 * reader never sees half a message, and a crash leaves at worst a stale
 * file in tmp/.  Mailboxes are created on first delivery.
 *
 * Messages are stored with LF line ends, as Dovecot and Postfix store
 * them; the name carries S= (file size) and W= (size with CRLF) so an
 * IMAP server need not read the file to know either.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "fileio.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "lmtpd.h"

#define COPY_BUFSZ	65536

static char		 uniq_host[128];	/* keeps names under NAME_MAX */
static unsigned int	 uniq_counter;

static void	writer_dispatch(struct imsgbuf *, struct imsg *);
static int	maildir_deliver(const char *, const char *, int, char *,
		    size_t);
static int	maildir_path_ok(const char *);
static int	maildir_create(const char *);
static int	mkdir_fsync(const char *);
static int	copy_message(int, int, const char *, size_t *, size_t *);
static void	uniq_sethost(const char *);
static void	uniq_name(char *, size_t);
static int	errno_status(int, char *, size_t);

void
writer_main(int fd, uid_t uid, gid_t gid)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 rv, flags;

	log_procname("writer");
	/* Relative paths then work chrooted (root) or not (demo user). */
	if (chdir(conf->mailroot) == -1)
		fatal("chdir %s", conf->mailroot);
	priv_drop_ids(uid, gid, conf->mailroot, "writer");
	uniq_sethost(conf->hostname);
	umask(077);

	/* One delivery at a time: a plain blocking loop is enough. */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		fatal("fcntl");
	imsgbuf_init(&ib, fd);
	if (imsg_send_hello(&ib, "lmtpd writer") == -1 ||
	    imsgbuf_flush(&ib) == -1)
		fatal("hello to parent");
	for (;;) {
		if ((n = imsgbuf_read(&ib)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("read from parent");
		}
		if (n == 0)
			exit(0);
		while ((rv = imsg_get(&ib, &imsg)) == 1) {
			writer_dispatch(&ib, &imsg);
			imsg_free(&imsg);
		}
		if (rv == -1)
			fatalx("malformed imsg from parent");
		if (imsgbuf_flush(&ib) == -1)
			fatal("write to parent");
	}
}

static void
writer_dispatch(struct imsgbuf *ib, struct imsg *imsg)
{
	static int	 hello;
	char		 maildir[PATH_MAX], prefix[LMTP_PREFIX_MAX];
	char		 text[LMTP_REPLY_MAX];
	struct ibuf	*b;
	uint64_t	 id, quota;
	uint32_t	 uid, gid;
	int		 status;

	if (!hello) {
		if (imsg_check_hello(imsg, "writer") == -1)
			exit(1);
		hello = 1;
		return;
	}
	if (imsg->hdr.type != IMSG_LMTP_DELIVER || imsg->fd == -1 ||
	    imsg_get_u64(imsg, &id) == -1 ||
	    imsg_get_str(imsg, maildir, sizeof(maildir)) == -1 ||
	    imsg_get_u32(imsg, &uid) == -1 || imsg_get_u32(imsg, &gid) == -1 ||
	    imsg_get_u64(imsg, &quota) == -1 ||
	    imsg_get_str(imsg, prefix, sizeof(prefix)) == -1 ||
	    imsg_get_end(imsg) == -1)
		fatalx("malformed DELIVER from parent");

	status = maildir_deliver(maildir, prefix, imsg->fd, text,
	    sizeof(text));
	close(imsg->fd);

	if ((b = imsg_create(IMSG_LMTP_DELIVERED, 0, -1)) == NULL ||
	    ibuf_add_u64(b, id) == -1 || ibuf_add_u8(b, status) == -1 ||
	    ibuf_add_str(b, text) == -1 || imsg_close(ib, b) == -1)
		fatalx("DELIVERED to parent");
}

/* Write prefix and body into <maildir>/new/; a deliver_status. */
static int
maildir_deliver(const char *maildir, const char *prefix, int bodyfd,
    char *text, size_t textsz)
{
	char	 md[PATH_MAX], base[NAME_MAX], tmp[PATH_MAX], new[PATH_MAX];
	size_t	 len, size, vsize;
	int	 fd, n;

	/* "domain/user/" from authd: the trailing slash is noise here. */
	len = strlcpy(md, maildir, sizeof(md));
	while (len > 1 && md[len - 1] == '/')
		md[--len] = '\0';
	maildir = md;
	if (!maildir_path_ok(maildir)) {
		log_warnx("refusing mailbox path \"%s\"", maildir);
		snprintf(text, textsz, "550 5.2.0 Invalid mailbox path");
		return DELIVER_PERMFAIL;
	}
	uniq_name(base, sizeof(base));
	n = snprintf(tmp, sizeof(tmp), "%s/tmp/%s", maildir, base);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(text, textsz, "550 5.2.0 Mailbox path too long");
		return DELIVER_PERMFAIL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == ENOENT) {
		if (maildir_create(maildir) == -1)
			return errno_status(errno, text, textsz);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd == -1) {
		log_warn("open %s", tmp);
		return errno_status(errno, text, textsz);
	}
	if (copy_message(fd, bodyfd, prefix, &size, &vsize) == -1 ||
	    fsync(fd) == -1) {
		log_warn("write %s", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("close %s", tmp);
		goto fail;
	}
	fd = -1;
	n = snprintf(new, sizeof(new), "%s/new/%s,S=%zu,W=%zu", maildir,
	    base, size, vsize);
	if (n < 0 || (size_t)n >= sizeof(new)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	/* link(2) rather than rename(2): it never replaces a message. */
	if (link(tmp, new) == -1) {
		log_warn("link %s", new);
		goto fail;
	}
	unlink(tmp);
	n = snprintf(new, sizeof(new), "%s/new", maildir);
	if (n < 0 || (size_t)n >= sizeof(new) || fsync_dir(new) == -1) {
		log_warn("fsync %s", new);
		return errno_status(errno, text, textsz);
	}
	log_info("delivered to %s/new/%s,S=%zu", maildir, base, size);
	snprintf(text, textsz, "250 2.0.0 Delivered");
	return DELIVER_OK;

 fail:
	n = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return errno_status(n, text, textsz);
}

static int
errno_status(int error, char *text, size_t textsz)
{
	if (error == ENOSPC || error == EDQUOT) {
		snprintf(text, textsz, "452 4.2.2 Mailbox full");
		return DELIVER_TEMPFAIL;
	}
	snprintf(text, textsz, "451 4.3.0 Local delivery failed: %s",
	    strerror(error));
	return DELIVER_TEMPFAIL;
}

/* Relative, no "..", no control characters: it cannot leave the root. */
static int
maildir_path_ok(const char *p)
{
	const char	*c;

	if (*p == '\0' || *p == '/')
		return 0;
	for (c = p; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 0;
	for (c = p; *c != '\0'; ) {
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
			return 0;
		if ((c = strchr(c, '/')) == NULL)
			break;
		c++;
	}
	return 1;
}

/* mkdir -p the mailbox and its cur/ new/ tmp/, mode 0700. */
static int
maildir_create(const char *maildir)
{
	static const char	*sub[] = { "cur", "new", "tmp" };
	char			 path[PATH_MAX], *s;
	size_t			 i;

	if (strlcpy(path, maildir, sizeof(path)) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (s = path + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir_fsync(path) == -1)
			return -1;
		*s = '/';
	}
	if (mkdir_fsync(path) == -1)
		return -1;
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", maildir,
		    sub[i]) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir_fsync(path) == -1)
			return -1;
	}
	return 0;
}

/* A new directory is only durable once its parent is synced too. */
static int
mkdir_fsync(const char *path)
{
	char	 parent[PATH_MAX], *s;

	if (mkdir(path, 0700) == -1) {
		if (errno == EEXIST)
			return 0;
		log_warn("mkdir %s", path);
		return -1;
	}
	strlcpy(parent, path, sizeof(parent));
	if ((s = strrchr(parent, '/')) != NULL)
		*s = '\0';
	else
		strlcpy(parent, ".", sizeof(parent));
	return fsync_dir(parent);
}

/* prefix then the body from offset 0; sizes as stored and with CRLF. */
static int
copy_message(int fd, int bodyfd, const char *prefix, size_t *size,
    size_t *vsize)
{
	char		 buf[COPY_BUFSZ];
	const char	*p;
	ssize_t		 n;
	off_t		 off = 0;
	size_t		 lf = 0, len;

	len = strlen(prefix);
	for (p = prefix; (p = memchr(p, '\n', prefix + len - p)) != NULL; p++)
		lf++;
	if (write_all(fd, prefix, len) == -1)
		return -1;
	*size = len;
	for (;;) {
		if ((n = pread(bodyfd, buf, sizeof(buf), off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		for (p = buf; (p = memchr(p, '\n', buf + n - p)) != NULL; p++)
			lf++;
		if (write_all(fd, buf, n) == -1)
			return -1;
		off += n;
		*size += n;
	}
	*vsize = *size + lf;
	return 0;
}

/* '/' and ':' cannot appear in a Maildir name: escape them as Dovecot. */
static void
uniq_sethost(const char *host)
{
	char	*d = uniq_host;
	size_t	 left = sizeof(uniq_host) - 1;

	for (; *host != '\0' && left >= 4; host++) {
		if (*host == '/' || *host == ':') {
			snprintf(d, 5, "\\%03o", (unsigned char)*host);
			d += 4;
			left -= 4;
		} else {
			*d++ = *host;
			left--;
		}
	}
	*d = '\0';
}

/* <sec>.M<usec>P<pid>Q<n>.<host>: unique per process and delivery. */
static void
uniq_name(char *buf, size_t bufsz)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, bufsz, "%lld.M%ldP%dQ%u.%s", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (int)getpid(), ++uniq_counter, uniq_host);
}
