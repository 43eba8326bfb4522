/*
 * tsambactl health: the DKIM record of each key that tsamba-queue
 * signs a hosted domain's mail with ("dkim domain ... selector ... key
 * ..." in tsamba.conf): SELECTOR._domainkey.DOMAIN must hold a TXT
 * record (RFC 6376 3.6.1) whose k= is the key's algorithm and whose p=
 * is its public key (the DER SubjectPublicKeyInfo for rsa, the raw 32
 * bytes for ed25519, RFC 8463), else receivers fail every signature.
 * The private key is read as the queue reads it (root).
 */

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "ctl_health.h"

#define DKIM_PUB_MAX	1024	/* DER of a 4096-bit RSA key fits */
#define DKIM_RECORDS_MAX	8

/* Our public key in the form of p=: 0, or -1 with why in err. */
static int
key_public(const struct conf_dkim *cd, unsigned char *out, size_t *outlen,
    char *err, size_t errsz)
{
	EVP_PKEY	*pkey;
	FILE		*fp;
	unsigned char	*p = out;
	int		 len;

	if ((fp = fopen(cd->key, "r")) == NULL) {
		snprintf(err, errsz, "cannot read the key %.300s: %s", cd->key,
		    strerror(errno));
		return -1;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pkey == NULL) {
		snprintf(err, errsz, "%.300s is not a PEM private key",
		    cd->key);
		return -1;
	}
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		*outlen = DKIM_PUB_MAX;
		len = EVP_PKEY_get_raw_public_key(pkey, out, outlen) == 1 ?
		    0 : -1;
	} else if ((len = i2d_PUBKEY(pkey, NULL)) > 0 &&
	    len <= DKIM_PUB_MAX && i2d_PUBKEY(pkey, &p) == len) {
		*outlen = len;
		len = 0;
	} else
		len = -1;
	EVP_PKEY_free(pkey);
	if (len == -1)
		snprintf(err, errsz, "%.300s: cannot encode the public key",
		    cd->key);
	return len;
}

/* The value of tag in a tag=value; list, whitespace removed. */
static int
tag_value(const char *rec, const char *tag, char *out, size_t outsz)
{
	const char	*p = rec, *v;
	size_t		 tl = strlen(tag), o;

	while (*p != '\0') {
		while (isspace((unsigned char)*p) || *p == ';')
			p++;
		v = p;
		while (*v != '\0' && *v != '=' && *v != ';' &&
		    !isspace((unsigned char)*v))
			v++;
		if ((size_t)(v - p) == tl && strncasecmp(p, tag, tl) == 0) {
			while (isspace((unsigned char)*v))
				v++;
			if (*v != '=')
				return -1;
			for (o = 0, v++; *v != '\0' && *v != ';'; v++)
				if (!isspace((unsigned char)*v) &&
				    o + 1 < outsz)
					out[o++] = *v;
			out[o] = '\0';
			return 0;
		}
		while (*p != '\0' && *p != ';')
			p++;
	}
	return -1;
}

/* base64 into out: length, or -1. */
static int
b64_decode(const char *in, unsigned char *out, size_t outsz)
{
	size_t	 len = strlen(in), pad = 0;
	int	 n;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > outsz)
		return -1;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, len)) < 0)
		return -1;
	return n - (int)pad;
}

/* One record against our key: OK, or why not in why. */
static enum health_status
record_judge(const struct conf_dkim *cd, const char *rec,
    const unsigned char *pub, size_t publen, char *why, size_t whysz)
{
	unsigned char	 dns[HDNS_TXT_MAX];
	char		 k[32], p[HDNS_TXT_MAX];
	const char	*alg;
	int		 n;

	alg = cd->algorithm == DKIM_ED25519 ? "ed25519" : "rsa";
	if (tag_value(rec, "k", k, sizeof(k)) == -1)
		strlcpy(k, "rsa", sizeof(k));
	if (tag_value(rec, "p", p, sizeof(p)) == -1) {
		snprintf(why, whysz, "record without p=");
		return HEALTH_FAIL;
	}
	if (strcasecmp(k, alg) != 0) {
		snprintf(why, whysz, "record is k=%s, the key %.300s is %s", k,
		    cd->key, alg);
		return HEALTH_FAIL;
	}
	if (p[0] == '\0') {
		snprintf(why, whysz, "record has an empty p= (key revoked)");
		return HEALTH_FAIL;
	}
	if ((n = b64_decode(p, dns, sizeof(dns))) == -1) {
		snprintf(why, whysz, "p= is not base64");
		return HEALTH_FAIL;
	}
	if ((size_t)n != publen || memcmp(dns, pub, publen) != 0) {
		snprintf(why, whysz, "published key is not the key in %.300s "
		    "(tsambactl dkim show prints the record to publish)",
		    cd->key);
		return HEALTH_FAIL;
	}
	snprintf(why, whysz, "k=%s, matches %.300s", alg, cd->key);
	return HEALTH_OK;
}

static void
dkim_one(struct health *h, const struct conf_dkim *cd)
{
	unsigned char		 pub[DKIM_PUB_MAX];
	char			*txt[DKIM_RECORDS_MAX];
	char			 name[HEALTH_NAME_MAX];
	char			 qname[HDNS_NAME_MAX * 2];
	char			 err[HEALTH_DETAIL_MAX];
	char			 why[HEALTH_DETAIL_MAX];
	enum health_status	 st = HEALTH_FAIL, s;
	enum hdns_result	 r;
	char			 v[16];
	size_t			 publen, n, i;

	snprintf(qname, sizeof(qname), "%s._domainkey.%s", cd->selector,
	    cd->domain);
	snprintf(name, sizeof(name), "dns dkim %.280s", qname);
	if (key_public(cd, pub, &publen, err, sizeof(err)) == -1) {
		health_add(h, HEALTH_FAIL, name, "%s", err);
		return;
	}
	if ((r = hdns_txt(qname, txt, DKIM_RECORDS_MAX, &n, err,
	    sizeof(err))) != HDNS_DATA) {
		health_add(h, HEALTH_FAIL, name, "%s%s", err, r == HDNS_NONE ?
		    ": receivers cannot verify the signatures" : "");
		return;
	}
	strlcpy(why, "no DKIM key record", sizeof(why));
	for (i = 0; i < n && st != HEALTH_OK; i++) {
		/* Another kind of record at the name (v= of its own). */
		if (strstr(txt[i], "p=") == NULL ||
		    (tag_value(txt[i], "v", v, sizeof(v)) == 0 &&
		    strcmp(v, "DKIM1") != 0))
			continue;
		s = record_judge(cd, txt[i], pub, publen, why, sizeof(why));
		if (s < st)
			st = s;
	}
	hdns_txt_free(txt, n);
	health_add(h, st, name, "%s", why);
}

void
health_dkim(struct health *h, const char *domain)
{
	struct conf_dkim	*cd;
	char			 name[HEALTH_NAME_MAX];
	int			 found = 0;

	TAILQ_FOREACH(cd, &h->conf->dkims, entry) {
		if (strcasecmp(cd->domain, domain) != 0)
			continue;
		found = 1;
		dkim_one(h, cd);
	}
	if (!found) {
		snprintf(name, sizeof(name), "dns dkim %s", domain);
		health_add(h, HEALTH_WARN, name, "no dkim key for %s in "
		    "tsamba.conf: its mail leaves unsigned", domain);
	}
}
