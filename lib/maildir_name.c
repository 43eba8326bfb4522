/*
 * Maildir names, without I/O: the unique part of a new file, the sizes
 * and the ":2," flags a file name carries, folder names, and the check
 * that a Maildir path from a table stays below the mail root.
 *
 * The names follow the Maildir specification as Dovecot writes them:
 * "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<vsize>:2,<flags>", with
 * '/' and ':' in the host written as "\057" and "\072".  Folders are
 * Maildir++ directories: mailbox "a/b" (or "a.b") is ".a.b" below the
 * Maildir, and INBOX is the Maildir itself.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"

/* The standard flags' letters, by bit (MAILDIR_FLAG_*), ASCII order. */
static const char	 flag_letters[] = "DFPRST";

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * A Maildir path as a table gives it ("domain/user", a trailing '/'
 * allowed): relative, no empty, "." or ".." component and no control
 * character, so it cannot leave the directory it is taken from.
 */
int
maildir_path_ok(const char *path)
{
	const char	*c, *end;
	size_t		 n;

	if (*path == '\0' || *path == '/')
		return 0;
	for (c = path; *c != '\0'; c++)
		if (is_ctl(*c))
			return 0;
	end = path + strlen(path);
	while (end > path && end[-1] == '/')
		end--;
	for (c = path; c < end; c += n + 1) {
		n = strcspn(c, "/");
		if (c + n > end)
			n = end - c;
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
	}
	return 1;
}

/*
 * The directory below the Maildir that holds a mailbox: "" for INBOX
 * (any case, as IMAP wants), ".Sent" for "Sent", ".a.b" for "a/b" or
 * "a.b".  Both '/' and '.' separate levels, since a client sees one or
 * the other depending on the server's separator.  Names that would
 * escape the Maildir or hide in it (empty levels, so no "..", no
 * leading dot and no "/x") and control characters are refused: -1.
 */
int
maildir_folder_dir(const char *mailbox, char *dir, size_t dirsz)
{
	const char	*c;
	size_t		 n = 0;
	int		 sep = 1;

	if (strcasecmp(mailbox, "INBOX") == 0) {
		if (dirsz == 0)
			return -1;
		dir[0] = '\0';
		return 0;
	}
	if (*mailbox == '\0' || dirsz < 2)
		return -1;
	dir[n++] = '.';
	for (c = mailbox; *c != '\0'; c++) {
		if (is_ctl(*c))
			return -1;
		if (*c == '/' || *c == '.') {
			if (sep)
				return -1;
			sep = 1;
		} else
			sep = 0;
		if (n + 1 >= dirsz || n + 1 > NAME_MAX)
			return -1;
		dir[n++] = *c == '/' ? '.' : *c;
	}
	if (sep)
		return -1;
	dir[n] = '\0';
	return 0;
}

/*
 * The mailbox name of a directory below a Maildir: "" (or ".") is
 * INBOX, ".a.b" is "a<sep>b".  -1 for anything that is not a folder
 * directory: no leading dot, an empty level, a '/', a control
 * character, or ".INBOX", which would name the Maildir itself.
 */
int
maildir_folder_name(const char *dir, char sep, char *mailbox,
    size_t mailboxsz)
{
	const char	*c;
	size_t		 n = 0;
	int		 prev_sep = 1;

	if (dir[0] == '\0' || strcmp(dir, ".") == 0) {
		if (strlcpy(mailbox, "INBOX", mailboxsz) >= mailboxsz)
			return -1;
		return 0;
	}
	if (dir[0] != '.' || dir[1] == '\0' || strlen(dir) > NAME_MAX)
		return -1;
	for (c = dir + 1; *c != '\0'; c++) {
		if (is_ctl(*c) || *c == '/' || (*c == sep && sep != '.'))
			return -1;
		if (*c == '.') {
			if (prev_sep)
				return -1;
			prev_sep = 1;
		} else
			prev_sep = 0;
		if (n + 1 >= mailboxsz)
			return -1;
		mailbox[n++] = *c == '.' ? sep : *c;
	}
	if (prev_sep)
		return -1;
	mailbox[n] = '\0';
	if (strcasecmp(mailbox, "INBOX") == 0)
		return -1;
	return 0;
}

/* The host part: '/' and ':' would break a name, so they are escaped. */
void
maildir_uniq_init(struct maildir_uniq *u, const char *hostname)
{
	char	*d = u->host;
	size_t	 left = sizeof(u->host) - 1;

	for (; *hostname != '\0' && left >= 4; hostname++) {
		if (*hostname == '/' || *hostname == ':') {
			snprintf(d, 5, "\\%03o", (unsigned char)*hostname);
			d += 4;
			left -= 4;
		} else {
			*d++ = *hostname;
			left--;
		}
	}
	*d = '\0';
	u->count = 0;
}

/* <sec>.M<usec>P<pid>Q<count>.<host>; -1 if it does not fit. */
int
maildir_uniq_format(char *buf, size_t bufsz, long long sec, long usec,
    long pid, unsigned int count, const char *host)
{
	int	 n;

	n = snprintf(buf, bufsz, "%lld.M%ldP%ldQ%u.%s", sec, usec, pid,
	    count, host);
	if (n < 0 || (size_t)n >= bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Unique per host, process and delivery: the Maildir rule. */
int
maildir_uniq_next(struct maildir_uniq *u, char *buf, size_t bufsz)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return maildir_uniq_format(buf, bufsz, (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (long)getpid(), ++u->count, u->host);
}

/*
 * The flags after ":2," in a file name; none if the name has no info
 * part.  Reading is lenient where the specification allows it: letters
 * out of order are taken, and an upper-case letter not defined yet is
 * ignored (it is dropped when the name is rewritten).  -1 if the info
 * is not "2," (experimental semantics) or holds a non-letter.
 */
int
maildir_flags_parse(const char *name, struct maildir_flags *f)
{
	const char	*info, *p, *l;

	f->std = 0;
	f->keywords = 0;
	if ((info = strchr(name, ':')) == NULL)
		return 0;
	if (info[1] != '2' || info[2] != ',')
		return -1;
	for (p = info + 3; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z')
			f->keywords |= 1U << (*p - 'a');
		else if (*p >= 'A' && *p <= 'Z') {
			if ((l = strchr(flag_letters, *p)) != NULL)
				f->std |= 1U << (l - flag_letters);
		} else
			return -1;
	}
	return 0;
}

/* ":2," and the letters in ASCII order, as the specification wants. */
int
maildir_flags_format(const struct maildir_flags *f, char *buf,
    size_t bufsz)
{
	char	 out[3 + sizeof(flag_letters) + 26];
	size_t	 n = 0, i;

	out[n++] = ':';
	out[n++] = '2';
	out[n++] = ',';
	for (i = 0; i < sizeof(flag_letters) - 1; i++)
		if (f->std & (1U << i))
			out[n++] = flag_letters[i];
	for (i = 0; i < 26; i++)
		if (f->keywords & (1U << i))
			out[n++] = 'a' + i;
	out[n] = '\0';
	if (strlcpy(buf, out, bufsz) >= bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* name with its info part replaced by these flags. */
int
maildir_name_set_flags(const char *name, const struct maildir_flags *f,
    char *buf, size_t bufsz)
{
	char	 info[3 + sizeof(flag_letters) + 26];
	size_t	 base;
	int	 n;

	base = strcspn(name, ":");
	if (maildir_flags_format(f, info, sizeof(info)) == -1)
		return -1;
	n = snprintf(buf, bufsz, "%.*s%s", (int)base, name, info);
	if (n < 0 || (size_t)n >= bufsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * The size a name carries as ",S=<n>" (key 'S', bytes on disk) or
 * ",W=<n>" (key 'W', with CRLF line ends): 0, or -1 if it has none.
 */
int
maildir_name_size(const char *name, char key, size_t *size)
{
	const char		*p, *end;
	unsigned long long	 v = 0;

	end = name + strcspn(name, ":");
	for (p = name; (p = memchr(p, ',', end - p)) != NULL; p++) {
		if (p + 3 > end || p[1] != key || p[2] != '=')
			continue;
		if (p + 3 == end || p[3] < '0' || p[3] > '9')
			return -1;
		for (p += 3; p < end && *p >= '0' && *p <= '9'; p++) {
			if (v > (SIZE_MAX - 9) / 10)
				return -1;
			v = v * 10 + (*p - '0');
		}
		if (p < end && *p != ',')
			return -1;
		*size = v;
		return 0;
	}
	return -1;
}

/* Leading decimal digits of *p as a number, *p moved past them. */
static unsigned long long
name_number(const char **p)
{
	unsigned long long	 v = 0;

	for (; **p >= '0' && **p <= '9'; (*p)++)
		if (v < ULLONG_MAX / 10)
			v = v * 10 + (**p - '0');
	return v;
}

/*
 * Delivery order of two names: the seconds, then the microseconds of
 * "<sec>.M<usec>", numerically, then the names as strings.  This is the
 * order in which Dovecot gives UIDs to files it finds, so a mailbox
 * that either server numbers gets the same UIDs.
 */
int
maildir_name_cmp(const char *a, const char *b)
{
	struct maildir_order	 oa, ob;

	maildir_name_order(a, &oa);
	maildir_name_order(b, &ob);
	return maildir_order_cmp(&oa, &ob);
}

/* The numbers maildir_name_cmp() orders by, worked out once (sorts). */
void
maildir_name_order(const char *name, struct maildir_order *o)
{
	const char	*p = name;

	o->name = name;
	o->sec = name_number(&p);
	o->usec = 0;
	if (p[0] == '.' && p[1] == 'M') {
		p += 2;
		o->usec = name_number(&p);
	}
}

int
maildir_order_cmp(const struct maildir_order *a,
    const struct maildir_order *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->usec != b->usec)
		return a->usec < b->usec ? -1 : 1;
	return strcmp(a->name, b->name);
}

/*
 * Two names compared by their unique part, the text before ':', in
 * one pass (the sorts of a folder scan call this a million times).
 */
int
maildir_base_cmp(const char *a, const char *b)
{
	unsigned char	 ca, cb;

	for (;; a++, b++) {
		ca = *a == ':' ? '\0' : *a;
		cb = *b == ':' ? '\0' : *b;
		if (ca != cb || ca == '\0')
			return (ca > cb) - (ca < cb);
	}
}
