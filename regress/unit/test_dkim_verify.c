/*
 * test_dkim_verify: lib/dkim_verify.c and lib/dkim_tags.c on messages
 * signed by python3-dkim (rsa 512/1024/2048, ed25519; simple and
 * relaxed; l=, x=, t=), committed in dkim_fixtures.h as written by
 * dkim_fixtures.py, and on tampered copies that must fail.  Each
 * message is fed in several chunk sizes: the verdict must not depend
 * on where the stream is cut.  tsamba's own signer (lib/dkim_sign.c,
 * which oversigns From) must verify too.
 */

#include <sys/queue.h>

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "dkim_canon.h"
#include "dkim_sign.h"
#include "dkim_verify.h"
#include "unit.h"
#include "zone.h"
#include "dkim_fixtures.h"

#define NOW	(FIXTURE_T0 + 2 * 86400)

static struct zone	 zone;
static struct dnsq_answer answer;

/* Verifies msg fed in chunks of chunk bytes; asks DNS in between. */
/* Every key question out at once, answered last first. */
static void
ask_all(struct dkim_verify *v)
{
	struct dnsq_query	 q[DKIM_VERIFY_SIGS_MAX];
	size_t			 idx[DKIM_VERIFY_SIGS_MAX], n = 0;

	while (n < DKIM_VERIFY_SIGS_MAX &&
	    dkim_verify_next_key(v, &idx[n], &q[n]))
		n++;
	CHECK(!dkim_verify_done(v) || n == 0);
	while (n-- > 0) {
		zone_answer(&zone, &q[n], &answer);
		dkim_verify_key(v, idx[n], &answer);
	}
}

static struct dkim_verify *
verify(const char *msg, size_t chunk, int early_dns)
{
	struct dkim_verify	*v;
	struct dnsq_query	 q;
	size_t			 len = strlen(msg), off, n;
	int			 r, steps = 0;
	const struct dnsq_answer *a = NULL;

	v = dkim_verify_new();
	dkim_verify_set_time(v, NOW);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		dkim_verify_update(v, msg + off, n);
		if (early_dns == 2 && off > len / 2 && a == NULL) {
			ask_all(v);
			a = &answer;
		}
		/* Keys may be asked for while the body still streams. */
		if (early_dns == 1 && off > len / 2 && a == NULL) {
			r = dkim_verify_step(v, NULL, &q);
			while (r == DKIM_STEP_DNS && steps++ < 20) {
				zone_answer(&zone, &q, &answer);
				a = &answer;
				r = dkim_verify_step(v, a, &q);
			}
			CHECK(r == DKIM_STEP_WAIT);
		}
	}
	dkim_verify_final(v);
	if (early_dns == 2) {
		ask_all(v);
		CHECK(dkim_verify_done(v));
		return v;
	}
	r = dkim_verify_step(v, NULL, &q);
	while (r == DKIM_STEP_DNS && steps++ < 20) {
		zone_answer(&zone, &q, &answer);
		r = dkim_verify_step(v, &answer, &q);
	}
	CHECK(r == DKIM_STEP_DONE);
	return v;
}

static void
test_fixtures(void)
{
	/* 64 twice: keys asked early one by one, then all at once. */
	static const size_t	 chunks[] = { 100000, 1, 7, 64, 64 };
	const struct fixture	*f;
	const struct dkim_result *res;
	struct dkim_verify	*v;
	size_t			 i, c, j, want;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		f = &fixtures[i];
		want = f->want[0] == NULL ? 0 : f->want[1] == NULL ? 1 : 2;
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			v = verify(f->msg, chunks[c], c >= 3 ? c - 2 : 0);
			CHECKF(dkim_verify_count(v) == want, "%s: %zu sigs",
			    f->name, dkim_verify_count(v));
			for (j = 0; j < want && j < dkim_verify_count(v);
			    j++) {
				res = dkim_verify_result(v, j);
				CHECKF(strcmp(dkim_result_name(res->result),
				    f->want[j]) == 0, "%s chunk %zu sig %zu: "
				    "%s (%s), want %s", f->name, chunks[c], j,
				    dkim_result_name(res->result),
				    res->reason, f->want[j]);
			}
			dkim_verify_free(v);
		}
	}
}

static const char *
fixture(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		if (strcmp(fixtures[i].name, name) == 0)
			return fixtures[i].msg;
	return "";
}

static void
test_details(void)
{
	struct dkim_verify		*v;
	const struct dkim_result	*r;

	v = verify(fixture("length_appended"), 4096, 0);
	r = dkim_verify_result(v, 0);
	CHECK(r != NULL && r->result == DKIM_PASS && r->limited);
	dkim_verify_free(v);

	v = verify(fixture("rsa1024"), 4096, 0);
	r = dkim_verify_result(v, 0);
	CHECK(r->result == DKIM_PASS && !r->limited && r->bits == 1024);
	CHECK(strcmp(r->domain, "example.org") == 0);
	CHECK(strcmp(r->selector, "rsa1024") == 0);
	CHECK(strcmp(r->identity, "@example.org") == 0);
	CHECK(strlen(r->bprefix) == 16 &&
	    strstr(fixture("rsa1024"), r->bprefix) != NULL);
	dkim_verify_free(v);

	v = verify(fixture("ed25519"), 4096, 0);
	r = dkim_verify_result(v, 0);
	CHECK(r->result == DKIM_PASS && r->alg == DKIM_ALG_ED25519_SHA256);
	dkim_verify_free(v);

	v = verify(fixture("rsa512"), 4096, 0);
	r = dkim_verify_result(v, 0);
	CHECK(r->result == DKIM_FAIL && strstr(r->reason, "1024") != NULL);
	dkim_verify_free(v);

	v = verify(fixture("expired"), 4096, 0);
	r = dkim_verify_result(v, 0);
	CHECK(r->result == DKIM_FAIL && strstr(r->reason, "x=") != NULL);
	dkim_verify_free(v);

	/* The same message before its x= passes. */
	v = dkim_verify_new();
	{
		struct dnsq_query	 q;
		const char		*m = fixture("expired");
		int			 st;

		dkim_verify_set_time(v, FIXTURE_T0 + 60);
		dkim_verify_update(v, m, strlen(m));
		dkim_verify_final(v);
		st = dkim_verify_step(v, NULL, &q);
		while (st == DKIM_STEP_DNS) {
			zone_answer(&zone, &q, &answer);
			st = dkim_verify_step(v, &answer, &q);
		}
		r = dkim_verify_result(v, 0);
		CHECK(r->result == DKIM_PASS);
	}
	dkim_verify_free(v);
}

/* One verifier for several messages. */
static void
test_reset(void)
{
	struct dkim_verify	*v;
	struct dnsq_query	 q;
	const char		*m;
	int			 i, st;

	v = dkim_verify_new();
	for (i = 0; i < 3; i++) {
		m = fixture(i == 1 ? "rsa2048_body_tampered" : "two_signatures");
		dkim_verify_reset(v);
		dkim_verify_set_time(v, NOW);
		dkim_verify_update(v, m, strlen(m));
		dkim_verify_final(v);
		st = dkim_verify_step(v, NULL, &q);
		while (st == DKIM_STEP_DNS) {
			zone_answer(&zone, &q, &answer);
			st = dkim_verify_step(v, &answer, &q);
		}
		CHECK(st == DKIM_STEP_DONE);
		CHECK(dkim_verify_count(v) == (i == 1 ? 1 : 2));
		CHECK(dkim_verify_result(v, 0)->result ==
		    (i == 1 ? DKIM_FAIL : DKIM_PASS));
	}
	dkim_verify_free(v);
}

/* A key lookup that fails is a temperror, not a fail. */
static void
test_servfail(void)
{
	struct dkim_verify	*v;
	struct dnsq_query	 q;
	const char		*m = fixture("rsa2048_simple");

	v = dkim_verify_new();
	dkim_verify_set_time(v, NOW);
	CHECK(dkim_verify_step(v, NULL, &q) == DKIM_STEP_WAIT);
	dkim_verify_update(v, m, strlen(m));
	dkim_verify_final(v);
	CHECK(dkim_verify_step(v, NULL, &q) == DKIM_STEP_DNS);
	CHECK(q.type == DNSQ_TXT &&
	    strcmp(q.name, "rsa2048._domainkey.example.org") == 0);
	dnsq_answer_init(&answer, DNSQ_SERVFAIL);
	CHECK(dkim_verify_step(v, &answer, &q) == DKIM_STEP_DONE);
	CHECK(dkim_verify_result(v, 0)->result == DKIM_TEMPERROR);
	dkim_verify_free(v);
}

static void
test_taglist(void)
{
	struct dkim_tag	 t[8];
	size_t		 n;
	const char	*s;

	s = " a = 1 ;b=x y\r\n\tz; c= ;";
	CHECK(dkim_taglist_parse(s, strlen(s), t, 8, &n) == 0 && n == 3);
	CHECK(t[0].namelen == 1 && t[0].valuelen == 1 && t[0].value[0] ==
	    '1');
	CHECK(t[1].valuelen == 7 && memcmp(t[1].value, "x y\r\n\tz", 7) ==
	    0);
	CHECK(t[2].valuelen == 0);
	CHECK(dkim_taglist_parse("", 0, t, 8, &n) == 0 && n == 0);
	CHECK(dkim_taglist_parse("a=1; a=2", 8, t, 8, &n) == -1);
	CHECK(dkim_taglist_parse("a", 1, t, 8, &n) == -1);
	CHECK(dkim_taglist_parse("1a=1", 4, t, 8, &n) == -1);
	CHECK(dkim_taglist_parse("a=1;;b=2", 8, t, 8, &n) == -1);
	CHECK(dkim_taglist_parse("a=\001", 3, t, 8, &n) == -1);
	CHECK(dkim_taglist_parse("a=1;b=2;c=3", 11, t, 2, &n) == -1);
}

static void
test_sig_parse(void)
{
	struct dkim_sig	*sig = malloc(sizeof(*sig));
	char		 err[96];
	const char	*s;
	static const char *bad[] = {
		/* no From in h= */
		"v=1; a=rsa-sha256; d=x.test; s=s; h=to; bh=47DEQpj8HBSa+/"
		    "TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		/* v=2 */
		"v=2; a=rsa-sha256; d=x.test; s=s; h=from; bh=47DEQpj8HBSa+/"
		    "TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		/* rsa-sha1 is not accepted */
		"v=1; a=rsa-sha1; d=x.test; s=s; h=from; bh=47DEQpj8HBSa+/"
		    "TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		/* i= outside d= */
		"v=1; a=rsa-sha256; d=x.test; s=s; h=from; i=@y.test; "
		    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		/* x= before t= */
		"v=1; a=rsa-sha256; d=x.test; s=s; h=from; t=10; x=5; "
		    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		/* bad base64, short bh= */
		"v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=47DEQ; b=AAAA",
		"v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=47DEQpj8HBSa+/"
		    "TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=A*AA",
		/* bad c= and l= */
		"v=1; a=rsa-sha256; d=x.test; s=s; h=from; c=loose; bh=47DE"
		    "Qpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		"v=1; a=rsa-sha256; d=x.test; s=s; h=from; l=-1; bh=47DE"
		    "Qpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		/* missing s= */
		"v=1; a=rsa-sha256; d=x.test; h=from; bh=47DEQpj8HBSa+/"
		    "TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
	};
	size_t		 i;

	s = "v=1; a=ed25519-sha256; c=relaxed; d=Mail.X.test; s=sel;\r\n"
	    "\th=From : To; i=u@sub.mail.x.test; l=10; t=5; x=6;\r\n"
	    "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
	    "\tb=AAAA BBBB\r\n";
	CHECK(dkim_sig_parse(sig, s, strlen(s), err, sizeof(err)) == 0);
	CHECK(sig->alg == DKIM_ALG_ED25519_SHA256);
	CHECK(sig->hcanon == DKIM_CANON_RELAXED &&
	    sig->bcanon == DKIM_CANON_SIMPLE);
	CHECK(strcmp(sig->d, "mail.x.test") == 0);
	CHECK(sig->nhnames == 2 && strcmp(sig->hnames[1], "To") == 0);
	CHECK(sig->l == 10 && sig->t == 5 && sig->x == 6);
	CHECK(sig->blen == 6 && strcmp(sig->bprefix, "AAAABBBB") == 0);
	CHECK(sig->bhlen == 32);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(dkim_sig_parse(sig, bad[i], strlen(bad[i]), err,
		    sizeof(err)) == -1, "bad[%zu] accepted", i);
	free(sig);
}

static void
test_key_parse(void)
{
	struct dkim_pubkey	 k;
	char			 err[96];
	const char		*s;

	s = "v=DKIM1; k=ed25519; t=y:s; s=email; h=sha256; p=AAAA";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == 0);
	CHECK(k.alg == DKIM_ALG_ED25519_SHA256 && k.plen == 3);
	CHECK(k.flags == (DKIM_KEY_TESTING | DKIM_KEY_STRICT));
	s = "p=AAAA";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == 0 &&
	    k.alg == DKIM_ALG_RSA_SHA256 && !k.revoked);
	s = "v=DKIM1; p=";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == 0 &&
	    k.revoked);
	s = "k=rsa; v=DKIM1; p=AAAA";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DKIM1; h=sha1; p=AAAA";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DKIM1; k=dsa; p=AAAA";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DKIM1; s=web; p=AAAA";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DKIM1; k=rsa";
	CHECK(dkim_key_parse(&k, s, strlen(s), err, sizeof(err)) == -1);
}

/* Simple body canonicalization, which signing never uses. */
struct out {
	char	 buf[256];
	size_t	 len;
};

static void
out_fn(void *arg, const void *data, size_t len)
{
	struct out	*o = arg;

	memcpy(o->buf + o->len, data, len);
	o->len += len;
}

static void
test_simple_canon(void)
{
	struct dkim_body	 b;
	struct out		 o;

	memset(&o, 0, sizeof(o));
	dkim_body_init(&b, DKIM_CANON_SIMPLE, out_fn, &o);
	dkim_body_update(&b, " a  b \r\n\r\nc\n\r\n\r\n", 16);
	dkim_body_final(&b);
	CHECK(o.len == 13 && memcmp(o.buf, " a  b \r\n\r\nc\r\n", 13) == 0);
	memset(&o, 0, sizeof(o));
	dkim_body_init(&b, DKIM_CANON_SIMPLE, out_fn, &o);
	dkim_body_final(&b);
	CHECK(o.len == 2 && memcmp(o.buf, "\r\n", 2) == 0);
	memset(&o, 0, sizeof(o));
	dkim_body_init(&b, DKIM_CANON_RELAXED, out_fn, &o);
	dkim_body_final(&b);
	CHECK(o.len == 0);
}

/* A new key in a PEM file; its DNS record into rec. */
static EVP_PKEY *
new_key(const char *type, const char *path, char *rec, size_t recsz)
{
	EVP_PKEY	*pk;
	FILE		*fp;
	unsigned char	 der[2048], *p = der, b64[4 * sizeof(der) / 3 + 4];
	size_t		 rawlen = 32;
	int		 fd, n;

	pk = strcmp(type, "RSA") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL)
		abort();
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL ||
	    PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	fclose(fp);
	if (strcmp(type, "RSA") == 0) {
		if ((n = i2d_PUBKEY(pk, &p)) <= 0 || n > (int)sizeof(der))
			abort();
	} else {
		if (EVP_PKEY_get_raw_public_key(pk, der, &rawlen) != 1)
			abort();
		n = rawlen;
	}
	EVP_EncodeBlock(b64, der, n);
	snprintf(rec, recsz, "v=DKIM1; k=%s; p=%s",
	    strcmp(type, "RSA") == 0 ? "rsa" : "ed25519", b64);
	return pk;
}

static const char own_message[] =
    "From: Sender <sender@example.org>\r\n"
    "To: a@example.net,\r\n"
    "    b@example.net\r\n"
    "Subject:   a  folded\r\n\tsubject   \r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Hello  there \r\n"
    "\r\n\r\n";

/* Signed by tsamba-queue's code, verified by this one. */
static void
test_own_signer(void)
{
	struct conf		 conf;
	struct conf_dkim	 d1, d2;
	struct dkim_signer	*signer;
	struct dkim_verify	*v;
	struct zone		 z;
	EVP_PKEY		*k1, *k2;
	char			 dir[] = "/tmp/test_dkim_verify.XXXXXX";
	char			 path[3][PATH_MAX], rec[2][4096];
	char			 ztext[2 * 4096 + 128], prefix[DKIM_PREFIX_MAX];
	char			 msg[DKIM_PREFIX_MAX + sizeof(own_message) + 64];
	struct dnsq_query	 q;
	int			 fd, n, r, st;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path[0], sizeof(path[0]), "%s/rsa.key", dir);
	snprintf(path[1], sizeof(path[1]), "%s/ed.key", dir);
	snprintf(path[2], sizeof(path[2]), "%s/msg", dir);
	k1 = new_key("RSA", path[0], rec[0], sizeof(rec[0]));
	k2 = new_key("ED25519", path[1], rec[1], sizeof(rec[1]));
	snprintf(ztext, sizeof(ztext), "r1._domainkey.example.org TXT %s\n"
	    "e1._domainkey.example.org TXT %s\n", rec[0], rec[1]);
	zone_load(&z, ztext);

	memset(&conf, 0, sizeof(conf));
	TAILQ_INIT(&conf.dkims);
	snprintf(conf.user_queue, sizeof(conf.user_queue), "root");
	memset(&d1, 0, sizeof(d1));
	snprintf(d1.domain, sizeof(d1.domain), "example.org");
	snprintf(d1.selector, sizeof(d1.selector), "r1");
	snprintf(d1.key, sizeof(d1.key), "%s", path[0]);
	d1.algorithm = DKIM_RSA;
	d2 = d1;
	snprintf(d2.selector, sizeof(d2.selector), "e1");
	snprintf(d2.key, sizeof(d2.key), "%s", path[1]);
	d2.algorithm = DKIM_ED25519;
	TAILQ_INSERT_TAIL(&conf.dkims, &d1, entry);
	TAILQ_INSERT_TAIL(&conf.dkims, &d2, entry);
	signer = dkim_signer_load(&conf);
	CHECK(signer != NULL);
	if ((fd = open(path[2], O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, own_message, strlen(own_message)) !=
	    (ssize_t)strlen(own_message))
		abort();
	n = dkim_sign_message(signer, fd, "example.org", prefix,
	    sizeof(prefix));
	CHECK(n > 0);
	close(fd);
	snprintf(msg, sizeof(msg), "%.*s%s", n > 0 ? n : 0, prefix,
	    own_message);

	for (r = 0; r < 2; r++) {
		/* The second time with a From added below: must fail. */
		if (r == 1)
			snprintf(msg, sizeof(msg), "%.*sFrom: evil@example.com"
			    "\r\n%s", n > 0 ? n : 0, prefix, own_message);
		v = dkim_verify_new();
		dkim_verify_update(v, msg, strlen(msg));
		dkim_verify_final(v);
		st = dkim_verify_step(v, NULL, &q);
		while (st == DKIM_STEP_DNS) {
			zone_answer(&z, &q, &answer);
			st = dkim_verify_step(v, &answer, &q);
		}
		CHECK(st == DKIM_STEP_DONE && dkim_verify_count(v) == 2);
		CHECKF(dkim_verify_count(v) == 2 &&
		    dkim_verify_result(v, 0)->result ==
		    (r == 0 ? DKIM_PASS : DKIM_FAIL) &&
		    dkim_verify_result(v, 1)->result ==
		    (r == 0 ? DKIM_PASS : DKIM_FAIL), "round %d: %s, %s", r,
		    dkim_verify_result(v, 0)->reason,
		    dkim_verify_result(v, 1)->reason);
		dkim_verify_free(v);
	}
	dkim_signer_free(signer);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	unlink(path[0]);
	unlink(path[1]);
	unlink(path[2]);
	rmdir(dir);
	zone_free(&z);
}

int
main(void)
{
	test_own_signer();
	zone_load(&zone, fixture_zone);
	test_fixtures();
	test_details();
	test_servfail();
	test_reset();
	test_taglist();
	test_sig_parse();
	test_key_parse();
	test_simple_canon();
	zone_free(&zone);
	return unit_done("test_dkim_verify");
}
