/*
 * tsambactl check: is the configuration usable?  tsamba.conf parses,
 * the mail root is there, the users of the roles exist, and each table
 * can be read as authd reads it: a file table line by line with authd's
 * rules, a mysql table by connecting and preparing each of its queries.
 * One line per check ("ok", "WARN" or "FAIL"); the exit status is 1 if
 * anything failed.
 */

#include <sys/stat.h>

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "ctl_backend.h"

static int
check_conf(struct conf *conf)
{
	if (conf_parse(ctl->conffile, conf) == -1) {
		printf("FAIL config %s does not parse\n", ctl->conffile);
		return -1;
	}
	printf("ok   config %s\n", ctl->conffile);
	return 0;
}

static int
check_mailroot(const struct conf *conf)
{
	struct stat	 st;

	if (stat(conf->mailroot, &st) == -1 || !S_ISDIR(st.st_mode)) {
		printf("FAIL mailroot %s is not a directory\n",
		    conf->mailroot);
		return -1;
	}
	if (geteuid() == 0 && getpwnam(conf->user_vmail) == NULL) {
		printf("FAIL user vmail: %s does not exist\n",
		    conf->user_vmail);
		return -1;
	}
	printf("ok   mailroot %s\n", conf->mailroot);
	return 0;
}

/*
 * The user of each role must exist, and roles with one uid cannot be
 * told apart by authd and the queue (tsamba(7), Roles).  Not root, the
 * daemons run as the one user who starts them: nothing to check.
 */
static int
check_users(const struct conf *conf)
{
	const char	*kinds[] = { "smtpd", "lmtpd", "mta", "queue", "auth" };
	const char	*names[] = { conf->user_smtpd, conf->user_lmtpd,
	    conf->user_mta, conf->user_queue, conf->user_auth };
	struct passwd	*pw;
	uid_t		 uids[5];
	size_t		 i, j;
	int		 rv = 0;

	if (geteuid() != 0)
		return 0;
	for (i = 0; i < 5; i++) {
		if ((pw = getpwnam(names[i])) == NULL) {
			printf("FAIL user %s: %s does not exist\n", kinds[i],
			    names[i]);
			rv = -1;
			uids[i] = (uid_t)-1;
			continue;
		}
		uids[i] = pw->pw_uid;
		for (j = 0; j < i; j++)
			if (uids[j] == uids[i])
				printf("WARN user %s and user %s are both %s: "
				    "authd cannot tell them apart\n",
				    kinds[j], kinds[i], names[i]);
	}
	if (rv == 0)
		printf("ok   users %s %s %s %s %s\n", names[0], names[1],
		    names[2], names[3], names[4]);
	return rv;
}

static int
check_table(const struct conf *conf, enum ctl_tab id)
{
	struct table	*t;
	int		 rv;

	if ((id == TAB_DOMAINS ? conf->domains.backend : id == TAB_USERS ?
	    conf->users.backend : conf->aliases.backend) == TABLE_NONE) {
		printf("WARN no %s table: it is empty\n", table_name(id));
		return 0;
	}
	/* Why it does not open is printed on stderr by the backend. */
	fflush(stdout);
	if ((t = table_open(conf, id, 0)) == NULL) {
		printf("FAIL %s table cannot be opened\n", table_name(id));
		return -1;
	}
	rv = t->ops->check(t, conf);
	table_close(t);
	return rv;
}

int
cmd_check(int argc, char *argv[])
{
	struct conf	*conf = &ctl->conf;
	int		 i, rv = 0;

	if (argc != 1)
		ctl_usage();
	if (check_conf(conf) == -1)
		return -1;
	ctl->conf_loaded = 1;
	if (check_mailroot(conf) == -1)
		rv = -1;
	if (check_users(conf) == -1)
		rv = -1;
	for (i = 0; i < TAB_N; i++)
		if (check_table(conf, i) == -1)
			rv = -1;
	return rv;
}
