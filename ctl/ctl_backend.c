/*
 * Choosing the backend of each table from tsamba.conf, and the few
 * operations every command uses on top of the backends' own.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "ctl_backend.h"

static const char	*names[TAB_N] = {
	[TAB_DOMAINS] = "domains",
	[TAB_USERS] = "users",
	[TAB_ALIASES] = "aliases",
};

const char *
table_name(enum ctl_tab id)
{
	return names[id];
}

static const struct conf_table *
conf_table_of(const struct conf *conf, enum ctl_tab id)
{
	switch (id) {
	case TAB_DOMAINS:
		return &conf->domains;
	case TAB_USERS:
		return &conf->users;
	case TAB_ALIASES:
		return &conf->aliases;
	default:
		return NULL;
	}
}

struct table *
table_open(const struct conf *conf, enum ctl_tab id, int write)
{
	struct table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		ctl_warn("calloc");
		return NULL;
	}
	t->id = id;
	t->name = names[id];
	t->ct = conf_table_of(conf, id);
	switch (t->ct->backend) {
	case TABLE_FILE:
		t->ops = &file_ops;
		break;
	case TABLE_MYSQL:
		t->ops = &mysql_ops;
		break;
	default:
		ctl_warnx("no %s table in %s", t->name, ctl->conffile);
		free(t);
		return NULL;
	}
	if (t->ops->open(t, write) == -1) {
		free(t);
		return NULL;
	}
	t->open = 1;
	return t;
}

int
table_commit(struct table *t)
{
	return t->ops->commit(t);
}

void
table_rollback(struct table *t)
{
	t->ops->rollback(t);
}

void
table_close(struct table *t)
{
	if (t == NULL)
		return;
	if (t->open)
		t->ops->close(t);
	free(t);
}

static int
found_row(void *arg, const char *key, const char *value)
{
	*(int *)arg = 1;
	return 1;
}

int
table_has(struct table *t, const char *key)
{
	int	 found = 0;

	if (t->ops->rows(t, key, found_row, &found) == -1)
		return -1;
	return found;
}

struct list_filter {
	const char	*domain;	/* NULL: every row */
	int		 values;
};

static int
print_row(void *arg, const char *key, const char *value)
{
	struct list_filter	*f = arg;
	const char		*at;

	at = strrchr(key, '@');
	if (f->domain != NULL && (at == NULL || strcmp(at + 1, f->domain) != 0))
		return 0;
	if (f->values)
		printf("%s: %s\n", key, value);
	else
		printf("%s\n", key);
	return 0;
}

int
table_list(enum ctl_tab id, int values, int argc, char *argv[])
{
	struct list_filter	 f = { NULL, values };
	struct table		*t;
	char			 domain[CTL_KEY_MAX];
	int			 rv;

	if (argc > 2)
		ctl_usage();
	if (argc == 2) {
		if (name_domain(argv[1], domain, sizeof(domain)) == -1)
			return -1;
		f.domain = domain;
	}
	if ((t = table_open(ctl_conf(), id, 0)) == NULL)
		return -1;
	rv = t->ops->rows(t, NULL, print_row, &f);
	table_close(t);
	return rv;
}
