/*
 * storedump: a Maildir as tsamba's storage layer (imapd/mailbox.c,
 * folder.c, keywords.c, subscriptions.c, pop3_uidl.c) reads it, for
 * the Dovecot interoperability test; and the changes that test makes
 * through the same layer.
 *
 *	storedump MAILDIR			print everything (below)
 *	storedump MAILDIR append FOLDER FILE [FLAG...]
 *	storedump MAILDIR store FOLDER UID +|- FLAG...
 *	storedump MAILDIR expunge FOLDER UID
 *	storedump MAILDIR create FOLDER
 *	storedump MAILDIR subscribe FOLDER
 *	storedump MAILDIR lock FOLDER	hold its dovecot-uidlist.lock until
 *					stdin ends ("locked" when taken)
 *
 * Output, one item a line, fields separated by TAB:
 *	folder NAME UIDVALIDITY NEXTUID
 *	msg FOLDER UID UIDL FLAGS	(IMAP flags and keywords, by ' ')
 *	sub NAME
 * A FLAG is \Seen \Answered \Flagged \Deleted \Draft or a keyword.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fileio.h"
#include "folder.h"
#include "mailbox.h"
#include "pop3_uidl.h"
#include "subscriptions.h"

static const struct {
	const char	*name;
	unsigned int	 bit;
} sysflags[] = {
	{ "\\Draft", MAILDIR_FLAG_DRAFT },
	{ "\\Flagged", MAILDIR_FLAG_FLAGGED },
	{ "\\Answered", MAILDIR_FLAG_REPLIED },
	{ "\\Seen", MAILDIR_FLAG_SEEN },
	{ "\\Deleted", MAILDIR_FLAG_TRASHED },
};
#define NSYSFLAGS	(sizeof(sysflags) / sizeof(sysflags[0]))

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: storedump maildir [append|store|expunge|"
	    "create|subscribe ...]\n");
	exit(2);
}

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "storedump: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct mailbox *
open_synced(int root, const char *name)
{
	struct mailbox	*mb;

	if (mailbox_open(root, name, 0, &mb) == -1)
		die(name);
	if (mailbox_sync(mb, NULL) == -1)
		die("sync");
	return mb;
}

/* IMAP flag names to Maildir flags of mb (keywords created). */
static void
parse_flags(struct mailbox *mb, char **av, int ac, struct maildir_flags *f)
{
	const char	*kw[1];
	uint32_t	 bits;
	size_t		 i;
	int		 j;

	f->std = f->keywords = 0;
	for (j = 0; j < ac; j++) {
		for (i = 0; i < NSYSFLAGS; i++)
			if (strcasecmp(av[j], sysflags[i].name) == 0)
				break;
		if (i < NSYSFLAGS) {
			f->std |= sysflags[i].bit;
			continue;
		}
		kw[0] = av[j];
		if (mailbox_keyword_bits(mb, kw, 1, 1, &bits) == -1)
			die(av[j]);
		f->keywords |= bits;
	}
}

static void
print_msg(struct mailbox *mb, struct mbox_msg *m)
{
	struct uidlist_rec	*r;
	const char		*kn;
	char			 uidl[POP3_UIDL_MAX] = "-";
	size_t			 i;
	int			 sp = 0;

	if ((r = uidlist_get(&mb->ul, m->uid)) != NULL)
		pop3_uidl(&mb->ul, r, uidl, sizeof(uidl));
	printf("msg\t%s\t%u\t%s\t", mb->name, m->uid, uidl);
	for (i = 0; i < NSYSFLAGS; i++)
		if (m->flags.std & sysflags[i].bit) {
			printf("%s%s", sp++ ? " " : "", sysflags[i].name);
		}
	for (i = 0; i < KEYWORDS_MAX; i++)
		if ((m->flags.keywords & (1U << i)) &&
		    (kn = keywords_name(&mb->kw, i)) != NULL)
			printf("%s%s", sp++ ? " " : "", kn);
	printf("\n");
}

static void
dump(int root)
{
	struct folder_list	 fl;
	struct subscriptions	 s;
	struct mailbox		*mb;
	size_t			 i, j;

	if (folder_list(root, &fl) == -1)
		die("folders");
	for (i = 0; i < fl.n; i++) {
		if (!fl.f[i].exists)
			continue;
		mb = open_synced(root, fl.f[i].name);
		printf("folder\t%s\t%u\t%u\n", mb->name, mb->ul.uidvalidity,
		    mb->ul.nextuid);
		for (j = 0; j < mb->nmsg; j++)
			print_msg(mb, &mb->msg[j]);
		mailbox_close(mb);
	}
	folder_list_free(&fl);
	subs_init(&s);
	if (subs_read(&s, root) == -1)
		die("subscriptions");
	for (i = 0; i < s.n; i++)
		printf("sub\t%s\n", s.name[i]);
	subs_clear(&s);
}

static void
cmd_append(int root, char **av, int ac)
{
	struct mailbox		*mb;
	struct maildir_flags	 f;
	char			*buf;
	size_t			 len;
	uint32_t		 uid;
	int			 fd;

	if (ac < 2)
		usage();
	mb = open_synced(root, av[0]);
	if ((fd = open(av[1], O_RDONLY)) == -1 ||
	    fileio_read_fd(fd, 64 << 20, &buf, &len) == -1)
		die(av[1]);
	close(fd);
	parse_flags(mb, av + 2, ac - 2, &f);
	if (mailbox_append(mb, buf, len, &f, 0, &uid) == -1)
		die("append");
	printf("appended\t%s\t%u\n", mb->name, uid);
	free(buf);
	mailbox_close(mb);
}

static void
cmd_store(int root, char **av, int ac)
{
	struct mailbox		*mb;
	struct maildir_flags	 f;

	if (ac < 4 || (strcmp(av[2], "+") != 0 && strcmp(av[2], "-") != 0))
		usage();
	mb = open_synced(root, av[0]);
	parse_flags(mb, av + 3, ac - 3, &f);
	if (mailbox_store(mb, strtoul(av[1], NULL, 10), av[2][0] == '+' ?
	    MB_STORE_ADD : MB_STORE_REMOVE, &f) == -1)
		die("store");
	mailbox_close(mb);
}

static void
cmd_expunge(int root, char **av, int ac)
{
	struct mailbox	*mb;
	uint32_t	 uid;

	if (ac != 2)
		usage();
	mb = open_synced(root, av[0]);
	uid = strtoul(av[1], NULL, 10);
	if (mailbox_find(mb, uid) == NULL) {
		errno = ENOENT;
		die(av[1]);
	}
	if (mailbox_expunge(mb, &uid, 1) == -1)
		die("expunge");
	mailbox_close(mb);
}

static void
cmd_lock(int root, const char *name)
{
	struct mailbox	*mb;
	struct dotlock	 l;
	char		 buf[64];

	if (mailbox_open(root, name, 0, &mb) == -1)
		die(name);
	if (uidlist_lock(mb->md, &l) == -1)
		die("lock");
	printf("locked\n");
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	dotlock_release(&l);
	mailbox_close(mb);
}

int
main(int argc, char *argv[])
{
	int	 root;

	if (argc < 2)
		usage();
	if ((root = open(argv[1], O_RDONLY | O_DIRECTORY)) == -1)
		die(argv[1]);
	if (argc == 2)
		dump(root);
	else if (strcmp(argv[2], "append") == 0)
		cmd_append(root, argv + 3, argc - 3);
	else if (strcmp(argv[2], "store") == 0)
		cmd_store(root, argv + 3, argc - 3);
	else if (strcmp(argv[2], "expunge") == 0)
		cmd_expunge(root, argv + 3, argc - 3);
	else if (strcmp(argv[2], "create") == 0 && argc == 4) {
		if (folder_create(root, argv[3]) == -1)
			die(argv[3]);
	} else if (strcmp(argv[2], "lock") == 0 && argc == 4) {
		cmd_lock(root, argv[3]);
	} else if (strcmp(argv[2], "subscribe") == 0 && argc == 4) {
		if (subs_update(root, argv[3], 1) == -1)
			die(argv[3]);
	} else
		usage();
	close(root);
	return 0;
}
