/*
 * tsambactl check: is the configuration usable?  tsamba.conf parses,
 * the mail root is there, the users of the roles exist, and each table
 * can be read as authd reads it: a file table line by line with authd's
 * rules, a mysql table by connecting and preparing each of its queries.
 * Then each user's password hash: a scheme no one can log in with is a
 * FAIL, a weak one (fast digest, clear text) a WARN naming the user.
 * One line per check ("ok", "WARN" or "FAIL"); the exit status is 1 if
 * anything failed.
 */

#include <sys/stat.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "passwd.h"
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

struct hash_census {
	struct table	*t;
	char		**need;		/* users listed without their hash */
	size_t		 nneed;
	size_t		 users, weak, unusable;
	int		 error;
};

/* One user's hash judged and, unless strong, reported by name. */
static void
hash_judge(struct hash_census *hc, const char *user, const char *hash)
{
	char	 scheme[32];

	hc->users++;
	if (*hash == '\0' || *hash == '!' || *hash == '*') {
		/* The usual marks of an account shut on purpose. */
		printf("WARN user %s: login disabled (password field \"%.1s"
		    "\")\n", user, hash);
		return;
	}
	switch (passwd_strength(hash, scheme, sizeof(scheme))) {
	case PASSWD_STRONG:
		break;
	case PASSWD_WEAK:
		hc->weak++;
		printf("WARN user %s: weak password scheme %s: set a new "
		    "password (tsambactl user passwd)\n", user, scheme);
		break;
	default:
		hc->unusable++;
		printf("FAIL user %s: password hash %s%scannot be verified: "
		    "the user cannot log in\n", user, scheme,
		    *scheme ? " " : "");
		break;
	}
}

static int
census_row(void *arg, const char *key, const char *value)
{
	struct hash_census	*hc = arg;
	char			**v;

	if (value != NULL) {
		hash_judge(hc, key, value);
		return 0;
	}
	/* mysql lists the addresses only: the hash is asked per user. */
	if ((v = reallocarray(hc->need, hc->nneed + 1, sizeof(*v))) == NULL ||
	    (v[hc->nneed] = strdup(key)) == NULL) {
		if (v != NULL)
			hc->need = v;
		hc->error = 1;
		return 1;
	}
	hc->need = v;
	hc->nneed++;
	return 0;
}

static int
census_one(void *arg, const char *key, const char *value)
{
	struct hash_census	*hc = arg;

	hash_judge(hc, key, value != NULL ? value : "");
	return 1;
}

/*
 * Every user's hash, as authd would check it at login: the users with
 * a hash no scheme of passwd.h reads cannot log in (FAIL); weak ones
 * are named so that the admin can have them changed.
 */
static int
check_hashes(const struct conf *conf)
{
	struct hash_census	 hc;
	size_t			 i;
	int			 rv = 0;

	if (conf->users.backend == TABLE_NONE)
		return 0;
	memset(&hc, 0, sizeof(hc));
	fflush(stdout);
	if ((hc.t = table_open(conf, TAB_USERS, 0)) == NULL)
		return -1;	/* check_table said why */
	if (hc.t->ops->rows(hc.t, NULL, census_row, &hc) == -1)
		hc.error = 1;
	for (i = 0; i < hc.nneed; i++) {
		if (!hc.error && hc.t->ops->rows(hc.t, hc.need[i],
		    census_one, &hc) == -1)
			hc.error = 1;
		free(hc.need[i]);
	}
	free(hc.need);
	table_close(hc.t);
	if (hc.error) {
		printf("FAIL users table: cannot read the password hashes\n");
		return -1;
	}
	if (hc.unusable > 0)
		rv = -1;
	if (hc.weak == 0 && hc.unusable == 0)
		printf("ok   password hashes of %zu users\n", hc.users);
	else
		printf("%s password hashes of %zu users: %zu weak, %zu "
		    "unusable\n", rv ? "FAIL" : "WARN", hc.users, hc.weak,
		    hc.unusable);
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
	if (rv == 0 && check_hashes(conf) == -1)
		rv = -1;
	return rv;
}
