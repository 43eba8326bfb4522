/*
 * dovecot-keywords: which IMAP keyword each letter a..z in a Maildir
 * file name stands for, per folder, shared with Dovecot.
 */

#ifndef TSAMBA_KEYWORDS_H
#define TSAMBA_KEYWORDS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KEYWORDS_FILE		"dovecot-keywords"
#define KEYWORDS_MAX		26	/* letters a..z */
#define KEYWORD_LEN_MAX		255

struct keywords {
	char		*name[KEYWORDS_MAX];	/* NULL: letter unused */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	int		 exists;
};

void	keywords_init(struct keywords *);
void	keywords_clear(struct keywords *);
int	keywords_valid(const char *name);
int	keywords_parse(struct keywords *, const char *buf, size_t len);
int	keywords_format(const struct keywords *, char *buf, size_t bufsz);
int	keywords_read(struct keywords *, int md);
int	keywords_changed(const struct keywords *, int md);
int	keywords_find(const struct keywords *, const char *name);
int	keywords_add(struct keywords *, int md, const char *name);
const char *keywords_name(const struct keywords *, unsigned int idx);

#endif
