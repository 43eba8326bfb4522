/*
 * test_dkim: relaxed canonicalization against RFC 6376 section 3.4.5
 * and edge cases, then DKIM signatures (rsa-sha256, ed25519-sha256)
 * checked by a small verifier written here on top of OpenSSL, and a
 * message altered after signing that must fail.
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "conf.h"
#include "log.h"
#include "dkim_canon.h"
#include "dkim_sign.h"
#include "unit.h"

struct mem {
	char	buf[65536];
	size_t	len;
};

static void
mem_out(void *arg, const void *data, size_t len)
{
	struct mem	*m = arg;

	if (m->len + len < sizeof(m->buf)) {
		memcpy(m->buf + m->len, data, len);
		m->len += len;
		m->buf[m->len] = '\0';
	}
}

static struct dkim_msg	 msg;
static char		 hdrbuf[DKIM_HEADER_MAX];

/* The canonical header fields and body of a message fed in steps. */
static int
canon(const char *text, size_t step, struct mem *hdrs, struct mem *body)
{
	struct dkim_sink	 sink;
	size_t			 i, len = strlen(text), n;

	memset(hdrs, 0, sizeof(*hdrs));
	memset(body, 0, sizeof(*body));
	dkim_msg_init(&msg, hdrbuf, sizeof(hdrbuf), mem_out, body);
	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		dkim_msg_update(&msg, text + i, n);
	}
	if (dkim_msg_final(&msg) == -1)
		return -1;
	dkim_sink_init(&sink, mem_out, hdrs);
	for (i = 0; i < msg.nfields; i++)
		dkim_header_relaxed(&sink, hdrbuf + msg.fields[i].off,
		    msg.fields[i].len);
	dkim_sink_flush(&sink);
	return 0;
}

static void
test_canon(void)
{
	static const struct {
		const char	*in, *hdrs, *body;
	} t[] = {
		/* RFC 6376 section 3.4.5. */
		{ "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n",
		  "a:X\r\nb:Y Z\r\n", " C\r\nD E\r\n" },
		/* The same with LF line ends. */
		{ "A: X\nB : Y\t\n\tZ  \n\n C \nD \t E\n\n\n",
		  "a:X\r\nb:Y Z\r\n", " C\r\nD E\r\n" },
		/* Empty bodies are empty (RFC 6376 errata 3133). */
		{ "Subject: x\r\n\r\n", "subject:x\r\n", "" },
		{ "Subject: x\r\n\r\n\r\n \t\r\n", "subject:x\r\n", "" },
		{ "Subject: x\r\n", "subject:x\r\n", "" },
		/* A last line without CRLF gets one. */
		{ "Subject: x\r\n\r\nabc", "subject:x\r\n", "abc\r\n" },
		/* Inner empty lines stay, whitespace lines become empty. */
		{ "S:\r\n\r\n\r\na  \r\n  \r\nb\t\r\n\r\n",
		  "s:\r\n", "\r\na\r\n\r\nb\r\n" },
		/* A bare CR is text. */
		{ "S: a\r\n\r\nx\ry\r\n", "s:a\r\n", "x\ry\r\n" },
		/* Folding with several lines and odd spacing. */
		{ "SUBJECT\t :  a  b\r\n  c\r\n\t\td \r\nTo:x\r\n\r\n",
		  "subject:a b c d\r\nto:x\r\n", "" },
		/* No headers at all. */
		{ "\r\nbody\r\n", "", "body\r\n" },
	};
	struct mem	*h, *b;
	size_t		 i, step;

	h = calloc(1, sizeof(*h));
	b = calloc(1, sizeof(*b));
	if (h == NULL || b == NULL)
		abort();
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (step = 1; step <= 64; step *= 4) {
			CHECKF(canon(t[i].in, step, h, b) == 0, "case %zu", i);
			CHECKF(strcmp(h->buf, t[i].hdrs) == 0,
			    "case %zu step %zu headers [%s]", i, step, h->buf);
			CHECKF(strcmp(b->buf, t[i].body) == 0,
			    "case %zu step %zu body [%s]", i, step, b->buf);
		}
	free(h);
	free(b);
}

/* A field name without a colon is kept but never matches a name. */
static void
test_fields(void)
{
	struct mem	*h, *b;

	h = calloc(1, sizeof(*h));
	b = calloc(1, sizeof(*b));
	if (h == NULL || b == NULL)
		abort();
	CHECK(canon("From: a\r\nbogus line\r\n To: b\r\nTo : c\r\n\r\nx",
	    7, h, b) == 0);
	CHECK(msg.nfields == 3);
	CHECK(dkim_field_is(&msg, &msg.fields[0], "FROM"));
	CHECK(msg.fields[1].namelen == 0);
	CHECK(dkim_field_is(&msg, &msg.fields[2], "to"));
	free(h);
	free(b);
}

static EVP_PKEY *
keygen(const char *type, const char *path)
{
	EVP_PKEY	*pkey;
	FILE		*fp;
	int		 fd;

	if (strcmp(type, "RSA") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, type);
	if (pkey == NULL)
		abort();
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL ||
	    PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	fclose(fp);
	return pkey;
}

/* The value of tag in a DKIM-Signature, whitespace removed. */
static int
sig_tag(const char *sig, const char *tag, char *out, size_t outsz)
{
	const char	*p = sig;
	size_t		 tl = strlen(tag), n = 0;

	while ((p = strstr(p, tag)) != NULL) {
		if ((p[-1] == ' ' || p[-1] == '\t' || p[-1] == ';') &&
		    p[tl] == '=')
			break;
		p++;
	}
	if (p == NULL)
		return -1;
	for (p += tl + 1; *p != '\0' && *p != ';'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' &&
		    n + 1 < outsz)
			out[n++] = *p;
	out[n] = '\0';
	return 0;
}

/*
 * The verifier: body hash, then each name of h= from the bottom up,
 * then the signature field with b= emptied; the signature over the
 * SHA-256 of that.
 */
static int
verify(const char *sig, const char *message, EVP_PKEY *pkey, int ed)
{
	static struct mem	 h, b, c;
	struct dkim_sink	 sink;
	unsigned char		 md[32], bhraw[64], braw[1024];
	char			 hl[4096], bh[128], bb[2048], name[128];
	char			*np, *last;
	int			 used[DKIM_FIELDS_MAX] = { 0 };
	size_t			 i, len, siglen;
	EVP_MD_CTX		*ctx;
	EVP_PKEY_CTX		*pctx;
	int			 ok;

	if (canon(message, 4096, &h, &b) == -1 ||
	    sig_tag(sig, "h", hl, sizeof(hl)) == -1 ||
	    sig_tag(sig, "bh", bh, sizeof(bh)) == -1 ||
	    sig_tag(sig, "b", bb, sizeof(bb)) == -1)
		return -1;
	EVP_Digest(b.buf, b.len, md, NULL, EVP_sha256(), NULL);
	if (EVP_DecodeBlock(bhraw, (unsigned char *)bh, strlen(bh)) < 32 ||
	    memcmp(md, bhraw, 32) != 0)
		return -2;

	memset(&c, 0, sizeof(c));
	dkim_sink_init(&sink, mem_out, &c);
	for (np = strtok_r(hl, ":", &last); np != NULL;
	    np = strtok_r(NULL, ":", &last)) {
		strlcpy(name, np, sizeof(name));
		for (i = msg.nfields; i > 0; i--)
			if (!used[i - 1] &&
			    dkim_field_is(&msg, &msg.fields[i - 1], name))
				break;
		if (i == 0)
			continue;
		used[i - 1] = 1;
		dkim_header_relaxed(&sink, hdrbuf + msg.fields[i - 1].off,
		    msg.fields[i - 1].len);
	}
	/* The signature field up to its last "b=", the value left out. */
	np = strstr(sig, "\tb=");
	if (np == NULL)
		return -1;
	len = np + 3 - sig;
	dkim_header_relaxed(&sink, sig, len);
	dkim_sink_flush(&sink);
	c.len -= 2;
	EVP_Digest(c.buf, c.len, md, NULL, EVP_sha256(), NULL);

	/* EVP_DecodeBlock counts the bytes the padding stands for. */
	siglen = EVP_DecodeBlock(braw, (unsigned char *)bb, strlen(bb));
	for (i = strlen(bb); i > 0 && bb[i - 1] == '='; i--)
		siglen--;
	if (ed) {
		ctx = EVP_MD_CTX_new();
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		    EVP_DigestVerify(ctx, braw, siglen, md, 32) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		pctx = EVP_PKEY_CTX_new(pkey, NULL);
		ok = EVP_PKEY_verify_init(pctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_verify(pctx, braw, siglen, md, 32) == 1;
		EVP_PKEY_CTX_free(pctx);
	}
	return ok ? 0 : -3;
}

static int
write_file(const char *path, const char *text)
{
	int	 fd;

	unlink(path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	return fd;
}

/* Every line of the prefix within 78 columns and ending in CRLF. */
static int
folded_ok(const char *p, int len)
{
	const char	*nl;

	for (; len > 0; len -= nl + 1 - p, p = nl + 1) {
		if ((nl = memchr(p, '\n', len)) == NULL || nl == p ||
		    nl[-1] != '\r' || nl - p - 1 > 78)
			return 0;
	}
	return 1;
}

static const char message[] =
    "Received: from x by y; Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "From: Sender <sender@example.org>\r\n"
    "To: a@example.net,\r\n"
    "    b@example.net\r\n"
    "Subject:   a  folded\r\n\tsubject   \r\n"
    "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "List-Id: <list.example.org>\r\n"
    "X-Other: not signed\r\n"
    "To: c@example.net\r\n"
    "\r\n"
    "Hello  there \r\n"
    "\r\n"
    "\tbye\r\n"
    "\r\n\r\n";

static void
test_sign(void)
{
	struct conf		 conf;
	struct conf_dkim	 d1, d2;
	struct dkim_signer	*s;
	EVP_PKEY		*rsa, *ed;
	char			 dir[] = "/tmp/test_dkim.XXXXXX";
	char			 prefix[DKIM_PREFIX_MAX], sig[8192];
	char			 path[3][PATH_MAX], *second, hl[4096];
	int			 fd, n;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path[0], sizeof(path[0]), "%s/rsa.key", dir);
	snprintf(path[1], sizeof(path[1]), "%s/ed.key", dir);
	snprintf(path[2], sizeof(path[2]), "%s/msg", dir);
	rsa = keygen("RSA", path[0]);
	ed = keygen("ED25519", path[1]);

	memset(&conf, 0, sizeof(conf));
	TAILQ_INIT(&conf.dkims);
	strlcpy(conf.user_queue, "_tsambaq", sizeof(conf.user_queue));
	memset(&d1, 0, sizeof(d1));
	strlcpy(d1.domain, "example.org", sizeof(d1.domain));
	strlcpy(d1.selector, "r1", sizeof(d1.selector));
	strlcpy(d1.key, path[0], sizeof(d1.key));
	d1.algorithm = DKIM_RSA;
	d2 = d1;
	strlcpy(d2.selector, "e1", sizeof(d2.selector));
	strlcpy(d2.key, path[1], sizeof(d2.key));
	d2.algorithm = DKIM_ED25519;
	TAILQ_INSERT_TAIL(&conf.dkims, &d1, entry);
	TAILQ_INSERT_TAIL(&conf.dkims, &d2, entry);
	CHECK(dkim_signer_load(&(struct conf){ .dkims =
	    TAILQ_HEAD_INITIALIZER(conf.dkims) }) == NULL);
	s = dkim_signer_load(&conf);
	CHECK(s != NULL);

	fd = write_file(path[2], message);
	CHECK(dkim_sign_message(s, fd, "other.example", prefix,
	    sizeof(prefix)) == 0);
	n = dkim_sign_message(s, fd, "EXAMPLE.org", prefix, sizeof(prefix));
	CHECK(n > 0);
	prefix[n > 0 ? n : 0] = '\0';
	CHECK(folded_ok(prefix, n));
	second = strstr(prefix + 1, "DKIM-Signature:");
	CHECK(strncmp(prefix, "DKIM-Signature: v=1; a=rsa-sha256;", 34) == 0);
	CHECK(second != NULL &&
	    strncmp(second, "DKIM-Signature: v=1; a=ed25519-sha256;", 38) == 0);
	if (second == NULL)
		return;
	snprintf(sig, sizeof(sig), "%.*s", (int)(second - prefix), prefix);
	CHECK(sig_tag(sig, "h", hl, sizeof(hl)) == 0);
	CHECK(strcmp(hl, "from:from:to:to:subject:date:message-id:list-id")
	    == 0);
	CHECK(strstr(sig, "c=relaxed/relaxed;") != NULL);
	CHECK(strstr(sig, "d=example.org;") != NULL);
	CHECK(strstr(sig, "s=r1;") != NULL);
	CHECK(verify(sig, message, rsa, 0) == 0);
	CHECK(verify(second, message, ed, 1) == 0);
	close(fd);

	/* The same message with LF line ends signs the same content. */
	{
		char	 lf[sizeof(message)], *p, *q;

		for (p = (char *)message, q = lf; *p != '\0'; p++)
			if (*p != '\r')
				*q++ = *p;
		*q = '\0';
		fd = write_file(path[2], lf);
		n = dkim_sign_message(s, fd, "example.org", prefix,
		    sizeof(prefix));
		CHECK(n > 0);
		prefix[n > 0 ? n : 0] = '\0';
		second = strstr(prefix + 1, "DKIM-Signature:");
		CHECK(second != NULL && verify(second, message, ed, 1) == 0);
		close(fd);
	}

	/* Altered body, altered signed header, added From: all fail. */
	{
		char	 bad[sizeof(message) + 64], *p;

		strlcpy(bad, message, sizeof(bad));
		p = strstr(bad, "Hello");
		p[0] = 'J';
		CHECK(verify(sig, bad, rsa, 0) == -2);
		CHECK(verify(second, bad, ed, 1) != 0);
		strlcpy(bad, message, sizeof(bad));
		p = strstr(bad, "folded");
		p[0] = 'F';
		CHECK(verify(sig, bad, rsa, 0) == -3);
		CHECK(verify(second, bad, ed, 1) == -3);
		snprintf(bad, sizeof(bad), "%.*sFrom: evil@example.com\r\n%s",
		    (int)(strstr(message, "\r\n\r\n") + 2 - message), message,
		    strstr(message, "\r\n\r\n") + 2);
		CHECK(verify(sig, bad, rsa, 0) == -3);
		/* An unsigned field may change. */
		strlcpy(bad, message, sizeof(bad));
		p = strstr(bad, "not signed");
		p[0] = 'N';
		CHECK(verify(sig, bad, rsa, 0) == 0);
	}

	/* A header block over the limit: nothing signed. */
	{
		static char	 big[DKIM_HEADER_MAX + 4096];
		size_t		 len = 0;

		while (len < DKIM_HEADER_MAX + 100)
			len += snprintf(big + len, sizeof(big) - len,
			    "X-Filler: %0*d\r\n", 60, 0);
		snprintf(big + len, sizeof(big) - len,
		    "From: a@example.org\r\n\r\nbody\r\n");
		fd = write_file(path[2], big);
		CHECK(dkim_sign_message(s, fd, "example.org", prefix,
		    sizeof(prefix)) == 0);
		close(fd);
	}
	/* Too small a buffer for the prefix is an error. */
	fd = write_file(path[2], message);
	CHECK(dkim_sign_message(s, fd, "example.org", prefix, 100) == -1);
	close(fd);

	dkim_signer_free(s);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	unlink(path[0]);
	unlink(path[1]);
	unlink(path[2]);
	rmdir(dir);
}

int
main(void)
{
	log_init(1, "test_dkim");
	test_canon();
	test_fields();
	test_sign();
	return unit_done("dkim");
}
