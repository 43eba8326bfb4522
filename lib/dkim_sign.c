/*
 * DKIM signing: the keys (loaded once, before the privilege drop) and
 * the DKIM-Signature header field (RFC 6376 section 3.5) of a message.
 * The body is hashed while it is read; only the header block is kept,
 * in a buffer of fixed size allocated with the signer.
 *
 * What is signed: the usual set of fields that a recipient sees or that
 * threads and decodes the message, each as often as it occurs, and From
 * once more than it occurs so that no From can be added later
 * ("oversigning", RFC 6376 section 8.15).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "conf.h"
#include "log.h"
#include "dkim_canon.h"
#include "dkim_sign.h"

#define SIG_HEADER_MAX	16384	/* one DKIM-Signature field */
#define SIG_NAMES_MAX	64	/* distinct names in h= */
#define SIG_ENTRIES_MAX	128	/* names in h=, repeats included */
#define SIG_NAMELEN_MAX	64
#define FOLD_COLUMNS	78
#define READ_CHUNK	16384

struct dkim_key {
	TAILQ_ENTRY(dkim_key)	 entry;
	char			 domain[CONF_HOST_MAX];
	char			 selector[CONF_NAME_MAX];
	int			 algorithm;	/* DKIM_* */
	EVP_PKEY		*pkey;
};

/* A header name chosen for h= and how often it is listed. */
struct sig_name {
	const char		*name;		/* in the header buffer */
	size_t			 len;
	size_t			 count;
};

struct dkim_signer {
	TAILQ_HEAD(, dkim_key)	 keys;
	struct dkim_msg		 msg;
	struct sig_name		 names[SIG_NAMES_MAX];
	size_t			 nnames;
	char			 hdr[DKIM_HEADER_MAX];
	char			 chunk[READ_CHUNK];
	char			 sig[SIG_HEADER_MAX];
	char			 canon[SIG_HEADER_MAX];
};

static const char *signed_names[] = {
	"from", "reply-to", "subject", "date", "to", "cc",
	"in-reply-to", "references", "message-id", "mime-version",
	"content-type", "content-transfer-encoding",
};
static const char *signed_prefixes[] = { "resent-", "list-" };

/* A key file only root and the queue user may own and read. */
static void
key_check(const char *path, int fd, uid_t queue_uid)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		fatal("dkim key %s", path);
	if (!S_ISREG(st.st_mode))
		fatalx("dkim key %s: not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		fatalx("dkim key %s: readable by group or others "
		    "(mode %03o): chmod 600 it", path,
		    (unsigned int)(st.st_mode & 0777));
	if (st.st_uid != 0 && st.st_uid != queue_uid &&
	    st.st_uid != geteuid())
		fatalx("dkim key %s: owned by uid %u, not by root or the "
		    "queue user", path, (unsigned int)st.st_uid);
}

static EVP_PKEY *
key_read(const char *path, int algorithm, uid_t queue_uid)
{
	EVP_PKEY	*pkey;
	FILE		*fp;
	int		 fd, type;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fatal("dkim key %s", path);
	key_check(path, fd, queue_uid);
	if ((fp = fdopen(fd, "r")) == NULL)
		fatal("dkim key %s", path);
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pkey == NULL)
		fatalx("dkim key %s: not a PEM private key", path);
	type = EVP_PKEY_get_base_id(pkey);
	if (type == EVP_PKEY_RSA && algorithm != DKIM_ED25519) {
		/* RFC 8301: verifiers reject less than 1024 bits. */
		if (EVP_PKEY_get_bits(pkey) < 1024)
			fatalx("dkim key %s: RSA key of %d bits, at least "
			    "1024 (better 2048) needed", path,
			    EVP_PKEY_get_bits(pkey));
		if (EVP_PKEY_get_bits(pkey) < 2048)
			log_warnx("dkim key %s: RSA key of %d bits, 2048 "
			    "recommended", path, EVP_PKEY_get_bits(pkey));
	} else if (type != EVP_PKEY_ED25519 || algorithm == DKIM_RSA)
		fatalx("dkim key %s: not an %s private key", path,
		    algorithm == DKIM_ED25519 ? "Ed25519" : "RSA");
	return pkey;
}

struct dkim_signer *
dkim_signer_load(struct conf *conf)
{
	struct dkim_signer	*s;
	struct dkim_key		*k;
	struct conf_dkim	*cd;
	struct passwd		*pw;
	uid_t			 queue_uid;

	if (TAILQ_EMPTY(&conf->dkims))
		return NULL;
	/* No such user (a non-root demo): the caller's uid stands in. */
	pw = getpwnam(conf->user_queue);
	queue_uid = pw != NULL ? pw->pw_uid : geteuid();
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("dkim signer");
	TAILQ_INIT(&s->keys);
	TAILQ_FOREACH(cd, &conf->dkims, entry) {
		if ((k = calloc(1, sizeof(*k))) == NULL)
			fatal("dkim key");
		strlcpy(k->domain, cd->domain, sizeof(k->domain));
		strlcpy(k->selector, cd->selector, sizeof(k->selector));
		k->pkey = key_read(cd->key, cd->algorithm, queue_uid);
		k->algorithm = EVP_PKEY_get_base_id(k->pkey) ==
		    EVP_PKEY_ED25519 ? DKIM_ED25519 : DKIM_RSA;
		TAILQ_INSERT_TAIL(&s->keys, k, entry);
		log_debug("dkim: %s key for %s, selector %s",
		    k->algorithm == DKIM_RSA ? "rsa" : "ed25519", k->domain,
		    k->selector);
	}
	return s;
}

void
dkim_signer_free(struct dkim_signer *s)
{
	struct dkim_key	*k;

	if (s == NULL)
		return;
	while ((k = TAILQ_FIRST(&s->keys)) != NULL) {
		TAILQ_REMOVE(&s->keys, k, entry);
		EVP_PKEY_free(k->pkey);
		free(k);
	}
	explicit_bzero(s, sizeof(*s));
	free(s);
}

static void
hash_out(void *arg, const void *data, size_t len)
{
	/* Cannot fail for SHA-256 in memory; checked at the final step. */
	(void)EVP_DigestUpdate(arg, data, len);
}

/* Reads the message; the body into the hash, the header block kept. */
static int
read_message(struct dkim_signer *s, int fd, EVP_MD_CTX *bh)
{
	off_t	 off = 0;
	ssize_t	 n;

	if (EVP_DigestInit_ex(bh, EVP_sha256(), NULL) != 1) {
		log_warnx("dkim: SHA-256 not available");
		return -1;
	}
	dkim_msg_init(&s->msg, s->hdr, sizeof(s->hdr), hash_out, bh);
	for (;;) {
		n = pread(fd, s->chunk, sizeof(s->chunk), off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("dkim: read message");
			return -1;
		}
		if (n == 0)
			break;
		dkim_msg_update(&s->msg, s->chunk, n);
		off += n;
	}
	return 0;
}

/* Names of RFC 5322 fields are printable ASCII without ':' and ';'. */
static int
name_signable(const char *name, size_t len)
{
	size_t	 i, plen;

	if (len == 0 || len > SIG_NAMELEN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~' || name[i] == ':' ||
		    name[i] == ';')
			return 0;
	for (i = 0; i < sizeof(signed_names) / sizeof(signed_names[0]); i++)
		if (strlen(signed_names[i]) == len &&
		    strncasecmp(name, signed_names[i], len) == 0)
			return 1;
	for (i = 0; i < sizeof(signed_prefixes) / sizeof(signed_prefixes[0]);
	    i++) {
		plen = strlen(signed_prefixes[i]);
		if (len > plen && strncasecmp(name, signed_prefixes[i],
		    plen) == 0)
			return 1;
	}
	return 0;
}

/* The h= list: From first (possibly 0 times present), then by order. */
static void
choose_names(struct dkim_signer *s)
{
	struct dkim_field	*f;
	const char		*name;
	size_t			 i, j, entries = 1;

	s->names[0].name = "from";
	s->names[0].len = 4;
	s->names[0].count = 0;
	s->nnames = 1;
	for (i = 0; i < s->msg.nfields; i++) {
		f = &s->msg.fields[i];
		name = s->hdr + f->off;
		if (!name_signable(name, f->namelen))
			continue;
		for (j = 0; j < s->nnames; j++)
			if (s->names[j].len == f->namelen &&
			    strncasecmp(s->names[j].name, name,
			    f->namelen) == 0)
				break;
		if (j == s->nnames) {
			if (s->nnames == SIG_NAMES_MAX)
				continue;
			s->names[j].name = name;
			s->names[j].len = f->namelen;
			s->names[j].count = 0;
			s->nnames++;
		}
		/* Left out ones are above the signed ones: still valid. */
		if (entries < SIG_ENTRIES_MAX) {
			s->names[j].count++;
			entries++;
		}
	}
}

/* The nth field called like sn, counted from the bottom. */
static struct dkim_field *
field_from_bottom(struct dkim_signer *s, const struct sig_name *sn,
    size_t nth)
{
	struct dkim_field	*f;
	size_t			 i;

	for (i = s->msg.nfields; i > 0; i--) {
		f = &s->msg.fields[i - 1];
		if (f->namelen == sn->len && strncasecmp(s->hdr + f->off,
		    sn->name, sn->len) == 0 && nth-- == 0)
			return f;
	}
	return NULL;
}

/* The signed header fields, in h= order, into the hash. */
static void
hash_headers(struct dkim_signer *s, EVP_MD_CTX *hh)
{
	struct dkim_sink	 sink;
	struct dkim_field	*f;
	size_t			 i, n;

	dkim_sink_init(&sink, hash_out, hh);
	for (i = 0; i < s->nnames; i++)
		for (n = 0; n < s->names[i].count; n++) {
			f = field_from_bottom(s, &s->names[i], n);
			if (f != NULL)
				dkim_header_relaxed(&sink, s->hdr + f->off,
				    f->len);
		}
	dkim_sink_flush(&sink);
}

/* A header field under construction, folded at FOLD_COLUMNS. */
struct fold {
	char	*buf;
	size_t	 sz;
	size_t	 len;
	size_t	 col;
	int	 full;
};

static void
fold_put(struct fold *f, const char *s, size_t n)
{
	if (f->full || f->len + n >= f->sz) {
		f->full = 1;
		return;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
	f->col += n;
}

static void
fold_break(struct fold *f)
{
	fold_put(f, "\r\n\t", 3);
	f->col = 1;
}

/* Space before a new tag of at least need columns, or a new line. */
static void
fold_space(struct fold *f, size_t need)
{
	if (f->col + 1 + need > FOLD_COLUMNS)
		fold_break(f);
	else
		fold_put(f, " ", 1);
}

static void
fold_tag(struct fold *f, const char *tag, const char *value, int last)
{
	char	 t[CONF_HOST_MAX + 16];
	int	 n;

	n = snprintf(t, sizeof(t), "%s=%s%s", tag, value, last ? "" : ";");
	if (n < 0 || (size_t)n >= sizeof(t)) {
		f->full = 1;
		return;
	}
	fold_space(f, n);
	fold_put(f, t, n);
}

/* A base64 value may be broken anywhere (RFC 6376 base64string). */
static void
fold_chunks(struct fold *f, const char *value)
{
	size_t	 len = strlen(value), n;

	while (len > 0) {
		if (f->col >= FOLD_COLUMNS - 1)
			fold_break(f);
		n = FOLD_COLUMNS - 1 - f->col;
		if (n > len)
			n = len;
		fold_put(f, value, n);
		value += n;
		len -= n;
	}
}

static void
lowercase(char *p)
{
	for (; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
}

static void
fold_names(struct fold *f, struct dkim_signer *s)
{
	char	 piece[SIG_NAMELEN_MAX + 2];
	size_t	 i, n, total = 0, done = 0;

	for (i = 0; i < s->nnames; i++)
		total += s->names[i].count + (i == 0);
	fold_space(f, 2 + 4 + 1);
	fold_put(f, "h=", 2);
	for (i = 0; i < s->nnames; i++) {
		/* From is listed once more than it occurs. */
		for (n = 0; n < s->names[i].count + (i == 0); n++) {
			snprintf(piece, sizeof(piece), "%.*s%c",
			    (int)s->names[i].len, s->names[i].name,
			    ++done == total ? ';' : ':');
			lowercase(piece);
			if (f->col + strlen(piece) > FOLD_COLUMNS)
				fold_break(f);
			fold_put(f, piece, strlen(piece));
		}
	}
}

static void
base64(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	if (outsz < 4 * ((len + 2) / 3) + 1)
		fatalx("dkim: base64 buffer too small");
	EVP_EncodeBlock((unsigned char *)out, in, len);
}

static void
mem_out(void *arg, const void *data, size_t len)
{
	struct fold	*f = arg;

	fold_put(f, data, len);
}

/*
 * The signature over the hash of the signed fields followed by this
 * DKIM-Signature field with an empty b= and without its final CRLF
 * (RFC 6376 section 3.7).  RSA: PKCS#1 v1.5 over SHA-256; Ed25519:
 * PureEd25519 over the SHA-256 digest (RFC 8463 section 3).
 */
static int
sign_hash(struct dkim_key *k, const unsigned char *md, size_t mdlen,
    unsigned char *sig, size_t *siglen)
{
	EVP_PKEY_CTX	*pctx = NULL;
	EVP_MD_CTX	*mctx = NULL;
	int		 ok = 0;

	if (k->algorithm == DKIM_RSA) {
		ok = (pctx = EVP_PKEY_CTX_new(k->pkey, NULL)) != NULL &&
		    EVP_PKEY_sign_init(pctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(pctx, sig, siglen, md, mdlen) == 1;
		EVP_PKEY_CTX_free(pctx);
	} else {
		ok = (mctx = EVP_MD_CTX_new()) != NULL &&
		    EVP_DigestSignInit(mctx, NULL, NULL, NULL,
		    k->pkey) == 1 &&
		    EVP_DigestSign(mctx, sig, siglen, md, mdlen) == 1;
		EVP_MD_CTX_free(mctx);
	}
	return ok ? 0 : -1;
}

/* One DKIM-Signature field into s->sig; its length or -1. */
static int
sign_key(struct dkim_signer *s, struct dkim_key *k, EVP_MD_CTX *hh,
    const char *bh, time_t now)
{
	struct fold		 f = { s->sig, sizeof(s->sig), 0, 0, 0 };
	struct fold		 c = { s->canon, sizeof(s->canon), 0, 0, 0 };
	struct dkim_sink	 sink;
	EVP_MD_CTX		*ctx;
	unsigned char		 md[EVP_MAX_MD_SIZE], sig[1024];
	char			 b[1400], t[32];
	unsigned int		 mdlen;
	size_t			 siglen = sizeof(sig);
	int			 ok;

	fold_put(&f, "DKIM-Signature: v=1;", 20);
	fold_tag(&f, "a", k->algorithm == DKIM_RSA ? "rsa-sha256" :
	    "ed25519-sha256", 0);
	fold_tag(&f, "c", "relaxed/relaxed", 0);
	fold_tag(&f, "d", k->domain, 0);
	fold_tag(&f, "s", k->selector, 0);
	snprintf(t, sizeof(t), "%lld", (long long)now);
	fold_tag(&f, "t", t, 0);
	fold_names(&f, s);
	/* bh= whole on a line when it fits there. */
	fold_space(&f, 3 + strlen(bh) + 1);
	fold_put(&f, "bh=", 3);
	fold_chunks(&f, bh);
	fold_put(&f, ";", 1);
	fold_space(&f, FOLD_COLUMNS);	/* b= on a line of its own */
	fold_put(&f, "b=", 2);
	if (f.full) {
		log_warnx("dkim: signature header too long");
		return -1;
	}

	dkim_sink_init(&sink, mem_out, &c);
	dkim_header_relaxed(&sink, f.buf, f.len);
	dkim_sink_flush(&sink);
	if (c.full || c.len < 2)
		return -1;
	ok = (ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_MD_CTX_copy_ex(ctx, hh) == 1 &&
	    EVP_DigestUpdate(ctx, c.buf, c.len - 2) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok || sign_hash(k, md, mdlen, sig, &siglen) == -1 ||
	    siglen > 768) {
		log_warnx("dkim: %s signature for %s failed",
		    k->algorithm == DKIM_RSA ? "rsa" : "ed25519", k->domain);
		return -1;
	}
	base64(sig, siglen, b, sizeof(b));
	fold_chunks(&f, b);
	fold_put(&f, "\r\n", 2);
	if (f.full) {
		log_warnx("dkim: signature header too long");
		return -1;
	}
	return f.len;
}

int
dkim_sign_message(struct dkim_signer *s, int fd, const char *domain,
    char *prefix, size_t prefixsz)
{
	struct dkim_key	*k;
	EVP_MD_CTX	*bh = NULL, *hh = NULL;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	char		 bhb64[EVP_MAX_MD_SIZE * 2];
	time_t		 now = time(NULL);
	size_t		 len = 0;
	int		 n, rv = -1;

	if (s == NULL)
		return 0;
	TAILQ_FOREACH(k, &s->keys, entry)
		if (strcasecmp(k->domain, domain) == 0)
			break;
	if (k == NULL)
		return 0;

	if ((bh = EVP_MD_CTX_new()) == NULL ||
	    (hh = EVP_MD_CTX_new()) == NULL) {
		log_warnx("dkim: out of memory");
		goto done;
	}
	if (read_message(s, fd, bh) == -1)
		goto done;
	if (dkim_msg_final(&s->msg) == -1) {
		log_warnx("dkim: header block over %d bytes or %d fields, "
		    "message for %s not signed", DKIM_HEADER_MAX,
		    DKIM_FIELDS_MAX, domain);
		rv = 0;
		goto done;
	}
	if (EVP_DigestFinal_ex(bh, md, &mdlen) != 1 ||
	    EVP_DigestInit_ex(hh, EVP_sha256(), NULL) != 1) {
		log_warnx("dkim: SHA-256 failed");
		goto done;
	}
	base64(md, mdlen, bhb64, sizeof(bhb64));
	choose_names(s);
	hash_headers(s, hh);

	TAILQ_FOREACH(k, &s->keys, entry) {
		if (strcasecmp(k->domain, domain) != 0)
			continue;
		if ((n = sign_key(s, k, hh, bhb64, now)) == -1)
			goto done;
		if (len + n > prefixsz) {
			log_warnx("dkim: no room for the signatures of %s",
			    domain);
			goto done;
		}
		memcpy(prefix + len, s->sig, n);
		len += n;
	}
	rv = len;
 done:
	EVP_MD_CTX_free(bh);
	EVP_MD_CTX_free(hh);
	return rv;
}
