/*
 * The folder tree of a Maildir++ root as IMAP shows it: LIST (with
 * CHILDREN and SPECIAL-USE attributes), CREATE, DELETE, RENAME.
 */

#ifndef TSAMBA_FOLDER_H
#define TSAMBA_FOLDER_H

#include <stddef.h>

#include "mailbox.h"

/* Special-use attributes of a folder (RFC 6154). */
#define MBOX_SPECIAL_SENT	0x01
#define MBOX_SPECIAL_DRAFTS	0x02
#define MBOX_SPECIAL_TRASH	0x04
#define MBOX_SPECIAL_JUNK	0x08
#define MBOX_SPECIAL_ARCHIVE	0x10
#define MBOX_SPECIAL_ALL	0x1f

struct folder {
	char		 name[MAILBOX_NAME_MAX];	/* '.' between levels */
	int		 special;	/* MBOX_SPECIAL_* */
	int		 children;	/* a folder below it exists */
	int		 exists;	/* 0: only a parent of others */
};

struct folder_list {
	struct folder	*f;
	size_t		 n;
};

int	folder_special_use(const char *name);
/* "\\Sent" <-> MBOX_SPECIAL_SENT...: 0 / NULL for one we do not keep. */
int	folder_special_attr(const char *attr);
const char *folder_special_name(int bit);
int	folder_list(int root, struct folder_list *);
int	folder_name_cmp(const char *, const char *);
void	folder_list_free(struct folder_list *);
int	folder_create(int root, const char *name);
int	folder_delete(int root, const char *name);
int	folder_rename(int root, const char *from, const char *to);

/* special_use.c: attributes given by CREATE-SPECIAL-USE. */
void	special_use_apply(int root, struct folder_list *);
int	special_use_set(int root, const char *name, int bits);
int	special_use_move(int root, const char *from, const char *to);
int	special_use_of(int root, const char *name);

#endif
