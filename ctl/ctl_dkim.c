/*
 * tsambactl dkim: DKIM keys and their DNS records.
 *
 *   dkim keygen DOMAIN SELECTOR [-t rsa|ed25519] [-f]
 *   dkim show DOMAIN
 *   dkim test DOMAIN FILE
 *
 * Where a key lives: the "key" of the matching "dkim" line of
 * tsamba.conf when there is one, so that keygen fills in what the
 * configuration already names; otherwise the directory "dkim" beside
 * tsamba.conf (/etc/tsamba/dkim/ by default), as
 * DOMAIN.SELECTOR.ALG.key.  The key is PEM, mode 0600, owned by the
 * caller (root in production: tsamba-queue reads its keys before it
 * drops root, so no other user needs to read them).  Beside it,
 * ... .txt holds the TXT record to publish.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "dkim_sign.h"
#include "ctl.h"

#define RECORD_MAX	2048
#define TXT_STRING_MAX	255	/* one character-string in DNS */

static const char *
alg_name(int alg)
{
	return alg == DKIM_ED25519 ? "ed25519" : "rsa";
}

/* DNS labels: letters, digits, '-', '_', dots between. */
static int
name_ok(const char *s)
{
	size_t	 i, len = strlen(s);

	if (len == 0 || len >= CONF_NAME_MAX || s[0] == '.' ||
	    s[len - 1] == '.' || strstr(s, "..") != NULL)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = tolower((unsigned char)*s);
}

/* The "dkim" directory beside tsamba.conf. */
static void
default_dir(char *buf, size_t bufsz)
{
	char	 conf[PATH_MAX];

	strlcpy(conf, ctl->conffile, sizeof(conf));
	if ((size_t)snprintf(buf, bufsz, "%s/dkim", dirname(conf)) >= bufsz)
		ctl_errx("path of the dkim directory too long");
}

/* DOMAIN.SELECTOR.ALG.key and .txt paths: the key path minus ".key". */
static void
txt_path(const char *key, char *buf, size_t bufsz)
{
	size_t	 len = strlen(key);

	if (len > 4 && strcmp(key + len - 4, ".key") == 0)
		len -= 4;
	if ((size_t)snprintf(buf, bufsz, "%.*s.txt", (int)len, key) >= bufsz)
		ctl_errx("%s: path too long", key);
}

/*
 * The TXT record (RFC 6376 3.6.1; RFC 8463 for k=ed25519, whose p= is
 * the raw 32-byte key), split into strings of at most 255 bytes.
 */
static int
record(EVP_PKEY *pkey, const char *domain, const char *selector,
    char *out, size_t outsz)
{
	unsigned char	 der[1024], *p = der;
	char		 b64[1500], txt[1600];
	size_t		 len = sizeof(der), i, off, n;
	int		 dlen, ed;

	ed = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
	if (ed) {
		if (EVP_PKEY_get_raw_public_key(pkey, der, &len) != 1)
			return -1;
	} else {
		if ((dlen = i2d_PUBKEY(pkey, NULL)) <= 0 ||
		    (size_t)dlen > sizeof(der) || i2d_PUBKEY(pkey, &p) != dlen)
			return -1;
		len = dlen;
	}
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	snprintf(txt, sizeof(txt), "v=DKIM1; k=%s; p=%s",
	    ed ? "ed25519" : "rsa", b64);
	off = snprintf(out, outsz, "%s._domainkey.%s. IN TXT", selector,
	    domain);
	for (i = 0; txt[i] != '\0'; i += n) {
		n = strlen(txt + i);
		if (n > TXT_STRING_MAX)
			n = TXT_STRING_MAX;
		off += snprintf(out + off, off < outsz ? outsz - off : 0,
		    " \"%.*s\"", (int)n, txt + i);
	}
	return off < outsz ? 0 : -1;
}

static EVP_PKEY *
key_load(const char *path)
{
	EVP_PKEY	*pkey;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	return pkey;
}

/* Written beside the final name, then renamed: never half a file. */
static int
write_atomic(const char *path, mode_t mode, int (*fill)(FILE *, void *),
    void *arg)
{
	char	 tmp[PATH_MAX];
	FILE	*fp;
	int	 fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		ctl_warnx("%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		ctl_warn("%s", tmp);
		return -1;
	}
	if (fchmod(fd, mode) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		ctl_warn("%s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (fill(fp, arg) == -1 || fflush(fp) == EOF || fsync(fd) == -1 ||
	    fclose(fp) == EOF) {
		ctl_warn("cannot write %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		ctl_warn("rename %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
fill_key(FILE *fp, void *arg)
{
	return PEM_write_PrivateKey(fp, arg, NULL, NULL, 0, NULL, NULL) == 1 ?
	    0 : -1;
}

static int
fill_text(FILE *fp, void *arg)
{
	return fprintf(fp, "%s\n", (const char *)arg) < 0 ? -1 : 0;
}

static struct conf_dkim *
conf_key(struct conf *conf, const char *domain, const char *selector)
{
	struct conf_dkim	*cd;

	TAILQ_FOREACH(cd, &conf->dkims, entry)
		if (strcasecmp(cd->domain, domain) == 0 &&
		    strcasecmp(cd->selector, selector) == 0)
			return cd;
	return NULL;
}

static int
dkim_keygen(int argc, char *argv[])
{
	struct conf		*conf = ctl_conf();
	struct conf_dkim	*cd;
	struct stat		 st;
	EVP_PKEY		*pkey;
	char			 domain[CONF_HOST_MAX], selector[CONF_NAME_MAX];
	char			 dir[PATH_MAX], path[PATH_MAX], txt[PATH_MAX];
	char			 rec[RECORD_MAX];
	const char		*pos[2];
	int			 i, npos = 0, force = 0, alg = DKIM_RSA;

	ctl->what = "dkim keygen";
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0)
			force = 1;
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "rsa") == 0)
				alg = DKIM_RSA;
			else if (strcmp(argv[i], "ed25519") == 0)
				alg = DKIM_ED25519;
			else
				ctl_errx("-t rsa or -t ed25519, not %s",
				    argv[i]);
		} else if (argv[i][0] == '-' || npos == 2)
			ctl_usage();
		else
			pos[npos++] = argv[i];
	}
	if (npos != 2)
		ctl_usage();
	if (!name_ok(pos[0]) || !strchr(pos[0], '.'))
		ctl_errx("bad domain %s", pos[0]);
	if (!name_ok(pos[1]))
		ctl_errx("bad selector %s", pos[1]);
	strlcpy(domain, pos[0], sizeof(domain));
	lowercase(domain);
	strlcpy(selector, pos[1], sizeof(selector));

	if ((cd = conf_key(conf, domain, selector)) != NULL) {
		if (cd->algorithm != alg)
			ctl_errx("%s names selector %s of %s as an %s key; "
			    "use -t %s", ctl->conffile, selector, domain,
			    alg_name(cd->algorithm), alg_name(cd->algorithm));
		strlcpy(path, cd->key, sizeof(path));
	} else {
		default_dir(dir, sizeof(dir));
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			ctl_errx("mkdir %s: %s", dir, strerror(errno));
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s.%s.key",
		    dir, domain, selector, alg_name(alg)) >= sizeof(path))
			ctl_errx("key path too long");
	}
	txt_path(path, txt, sizeof(txt));
	if (!force && lstat(path, &st) == 0)
		ctl_errx("%s exists; -f replaces it (and the DNS record "
		    "must change with it)", path);

	if (alg == DKIM_RSA)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL)
		ctl_errx("key generation failed");
	if (record(pkey, domain, selector, rec, sizeof(rec)) == -1)
		ctl_errx("cannot encode the public key");
	if (write_atomic(path, 0600, fill_key, pkey) == -1 ||
	    write_atomic(txt, 0644, fill_text, rec) == -1) {
		EVP_PKEY_free(pkey);
		return -1;
	}
	EVP_PKEY_free(pkey);

	printf("%s\n", rec);
	fprintf(stderr, "private key: %s\n", path);
	if (cd == NULL)
		fprintf(stderr, "add to %s:\n  dkim domain \"%s\" selector "
		    "\"%s\" key \"%s\" %s\n", ctl->conffile, domain, selector,
		    path, alg_name(alg));
	return 0;
}

/* The record of one key: from the key, or its .txt when unreadable. */
static int
show_key(const char *path, const char *domain, const char *selector)
{
	EVP_PKEY	*pkey;
	FILE		*fp;
	char		 rec[RECORD_MAX], txt[PATH_MAX];

	if ((pkey = key_load(path)) != NULL) {
		if (record(pkey, domain, selector, rec, sizeof(rec)) == -1) {
			EVP_PKEY_free(pkey);
			ctl_warnx("%s: cannot encode the public key", path);
			return -1;
		}
		EVP_PKEY_free(pkey);
		printf("%s\n", rec);
		return 0;
	}
	txt_path(path, txt, sizeof(txt));
	if ((fp = fopen(txt, "r")) != NULL &&
	    fgets(rec, sizeof(rec), fp) != NULL) {
		fclose(fp);
		fputs(rec, stdout);
		return 0;
	}
	if (fp != NULL)
		fclose(fp);
	ctl_warnx("%s: cannot read the key nor %s", path, txt);
	return -1;
}

/* Keys in the default directory that tsamba.conf does not name. */
static int
show_unconfigured(struct conf *conf, const char *domain, int *found)
{
	glob_t		 g;
	char		 dir[PATH_MAX], pat[PATH_MAX], sel[CONF_NAME_MAX];
	char		*base, *dot;
	size_t		 i, dl = strlen(domain);
	int		 rv = 0;

	default_dir(dir, sizeof(dir));
	if ((size_t)snprintf(pat, sizeof(pat), "%s/%s.*.key", dir, domain) >=
	    sizeof(pat) || glob(pat, 0, NULL, &g) != 0)
		return 0;
	for (i = 0; i < g.gl_pathc; i++) {
		base = strrchr(g.gl_pathv[i], '/') + 1;
		/* DOMAIN.SELECTOR.ALG.key */
		if (strlen(base) <= dl + 1 ||
		    strlcpy(sel, base + dl + 1, sizeof(sel)) >= sizeof(sel) ||
		    (dot = strrchr(sel, '.')) == NULL)
			continue;
		*dot = '\0';
		if ((dot = strrchr(sel, '.')) == NULL ||
		    (strcmp(dot + 1, "rsa") != 0 &&
		    strcmp(dot + 1, "ed25519") != 0))
			continue;
		*dot = '\0';
		if (conf_key(conf, domain, sel) != NULL)
			continue;
		printf("; %s is not in %s\n", g.gl_pathv[i], ctl->conffile);
		if (show_key(g.gl_pathv[i], domain, sel) == -1)
			rv = -1;
		(*found)++;
	}
	globfree(&g);
	return rv;
}

static int
dkim_show(int argc, char *argv[])
{
	struct conf		*conf = ctl_conf();
	struct conf_dkim	*cd;
	char			 domain[CONF_HOST_MAX];
	int			 found = 0, rv = 0;

	ctl->what = "dkim show";
	if (argc != 3)
		ctl_usage();
	if (!name_ok(argv[2]))
		ctl_errx("bad domain %s", argv[2]);
	strlcpy(domain, argv[2], sizeof(domain));
	lowercase(domain);
	TAILQ_FOREACH(cd, &conf->dkims, entry) {
		if (strcmp(cd->domain, domain) != 0)
			continue;
		found++;
		if (show_key(cd->key, domain, cd->selector) == -1)
			rv = -1;
	}
	if (show_unconfigured(conf, domain, &found) == -1)
		rv = -1;
	if (found == 0)
		ctl_errx("no DKIM key for %s", domain);
	return rv;
}

/* Sign FILE as tsamba-queue would and print the signed message. */
static int
dkim_test(int argc, char *argv[])
{
	struct dkim_signer	*s;
	char			*prefix, buf[8192];
	ssize_t			 n;
	int			 fd, len;

	ctl->what = "dkim test";
	if (argc != 4)
		ctl_usage();
	if ((fd = open(argv[3], O_RDONLY)) == -1)
		ctl_errx("%s: %s", argv[3], strerror(errno));
	/* Refuses (exits) on a key the queue would refuse. */
	if ((s = dkim_signer_load(ctl_conf())) == NULL)
		ctl_errx("no dkim key in %s", ctl->conffile);
	if ((prefix = malloc(DKIM_PREFIX_MAX)) == NULL)
		ctl_errx("out of memory");
	len = dkim_sign_message(s, fd, argv[2], prefix, DKIM_PREFIX_MAX);
	dkim_signer_free(s);
	if (len == 0)
		ctl_errx("no signature: no key for %s, or a header block "
		    "too large", argv[2]);
	if (len == -1)
		ctl_errx("signing failed");
	fwrite(prefix, 1, len, stdout);
	free(prefix);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
	if (n == -1 || fflush(stdout) == EOF)
		ctl_errx("%s: %s", argv[3], strerror(errno));
	return 0;
}

int
cmd_dkim(int argc, char *argv[])
{
	if (argc < 2)
		ctl_usage();
	if (strcmp(argv[1], "keygen") == 0)
		return dkim_keygen(argc, argv);
	if (strcmp(argv[1], "show") == 0)
		return dkim_show(argc, argv);
	if (strcmp(argv[1], "test") == 0)
		return dkim_test(argc, argv);
	ctl_usage();
}
