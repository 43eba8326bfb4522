/*
 * fuzz_maildir: libFuzzer target for the pure parsers of lib/maildir
 * (lib/maildir_name.c), which the IMAP server will run on names from
 * clients and from the disk.  Besides crashes it checks what they
 * promise: flags read from a name are written back canonically and
 * read again the same; a mailbox name maps to a directory that cannot
 * leave the Maildir (one component, starting with '.', no empty level,
 * no control character) and back to the same name; a directory name
 * maps to a mailbox and back to itself; an accepted Maildir path has
 * no "..", "." or empty component and does not start at '/'; the limits
 * read from a maildirsize file are written back and read the same.
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_maildir
 *   ./regress/fuzz/fuzz_maildir -max_total_time=60 -max_len=512
 */

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "maildir.h"

#define IN_MAX	1024

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 in[IN_MAX + 1];

static void
fuzz_flags(void)
{
	struct maildir_flags	 f, g;
	char			 out[IN_MAX + 64], again[IN_MAX + 64];
	size_t			 s;

	if (maildir_flags_parse(in, &f) == -1)
		return;
	if (f.std & ~0x3fU)
		abort();
	if (maildir_name_set_flags(in, &f, out, sizeof(out)) == -1)
		abort();
	/* The unique part is kept, the info part replaced. */
	if (strncmp(out, in, strcspn(in, ":")) != 0 ||
	    out[strcspn(in, ":")] != ':')
		abort();
	if (maildir_flags_parse(out, &g) == -1 || g.std != f.std ||
	    g.keywords != f.keywords)
		abort();
	if (maildir_name_set_flags(out, &g, again, sizeof(again)) == -1 ||
	    strcmp(out, again) != 0)
		abort();
	/* A size, if any, lies before the info part either way. */
	if ((maildir_name_size(in, 'S', &s) == 0) !=
	    (maildir_name_size(out, 'S', &s) == 0))
		abort();
}

static int
dir_safe(const char *dir)
{
	const char	*c;

	if (dir[0] == '\0')
		return 1;
	if (dir[0] != '.' || dir[1] == '.' || dir[1] == '\0' ||
	    strlen(dir) > NAME_MAX || strstr(dir, "..") != NULL ||
	    dir[strlen(dir) - 1] == '.')
		return 0;
	for (c = dir; *c != '\0'; c++)
		if (*c == '/' || (unsigned char)*c < 0x20 || *c == 0x7f)
			return 0;
	return 1;
}

static void
fuzz_folders(void)
{
	char	 dir[NAME_MAX + 2], name[IN_MAX + 1], dir2[NAME_MAX + 2];
	size_t	 i;

	if (maildir_folder_dir(in, dir, sizeof(dir)) == 0) {
		if (!dir_safe(dir))
			abort();
		if ((dir[0] == '\0') != (strcasecmp(in, "INBOX") == 0))
			abort();
		if (maildir_folder_name(dir, '/', name, sizeof(name)) == 0) {
			if (maildir_folder_dir(name, dir2, sizeof(dir2)) ==
			    -1 || strcmp(dir, dir2) != 0)
				abort();
			/* Only the separator may have changed. */
			for (i = 0; dir[0] != '\0' && in[i] != '\0'; i++)
				if (name[i] != (in[i] == '.' ? '/' : in[i]))
					abort();
		} else if (strncasecmp(in, "INBOX", 5) != 0 ||
		    (in[5] != '\0' && in[5] != '.' && in[5] != '/'))
			/* Only ".INBOX" itself has no name of its own. */
			abort();
	}
	if (maildir_folder_name(in, '/', name, sizeof(name)) == 0) {
		if (maildir_folder_dir(name, dir, sizeof(dir)) == -1)
			abort();
		if (strcmp(in, ".") != 0 && strcmp(dir, in) != 0)
			abort();
		if (!dir_safe(dir))
			abort();
	}
}

static void
fuzz_path(void)
{
	char	*copy, *s, *c;
	size_t	 len;

	if (!maildir_path_ok(in))
		return;
	if (in[0] == '/' || in[0] == '\0')
		abort();
	if ((copy = strdup(in)) == NULL)
		abort();
	len = strlen(copy);
	while (len > 0 && copy[len - 1] == '/')
		copy[--len] = '\0';
	for (s = copy; (c = strsep(&s, "/")) != NULL; )
		if (*c == '\0' || strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
			abort();
	free(copy);
}

static void
fuzz_quota(const uint8_t *data, size_t size)
{
	struct maildir_quota	 q, r;
	char			 def[MAILDIR_QUOTA_DEF_MAX + 1];
	size_t			 n;

	if (maildir_quota_parse((const char *)data, size, &q) == -1 &&
	    memchr(data, '\n', size) == NULL)
		return;
	if (q.max_bytes < 0 || q.max_count < 0 || q.filesize != size)
		abort();
	if (maildir_quota_def_format(q.max_bytes, q.max_count, def,
	    sizeof(def) - 1) == -1)
		abort();
	n = strlen(def);
	def[n++] = '\n';
	if (maildir_quota_parse(def, n, &r) == -1 || r.bytes != 0 ||
	    r.count != 0)
		abort();
	/* Limits of a bad file may be half read; a good one's are kept. */
	if (maildir_quota_parse((const char *)data, size, &q) == 0 &&
	    (r.max_bytes != q.max_bytes || r.max_count != q.max_count))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > IN_MAX)
		return 0;
	fuzz_quota(data, size);
	if (memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	fuzz_flags();
	fuzz_folders();
	fuzz_path();
	return 0;
}
