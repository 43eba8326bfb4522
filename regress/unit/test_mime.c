/*
 * test_mime: the MIME structure parser and the FETCH writers
 * (imapd/mime.c, mime_write.c).  The corpus in regress/unit/mime/ has
 * each message's FETCH answers as Dovecot 2.3 gives them (*.dovecot,
 * written by dovecot_fetch.py); every answer tsamba gives must be the
 * same bytes.  Then the cases a corpus does not show well: limits,
 * sections that do not exist, offsets and sizes with CRLF.
 *
 * "test_mime -d FILE ITEM..." prints tsamba's answers for a message in
 * the format of the *.dovecot files, for regress/integration.
 */

#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "../../imapd/imap_parse.h"
#include "../../imapd/mime.h"

#define CORPUS	"regress/unit/mime"

static const struct mime_limits	 mlim = { MIME_DEPTH_MAX, MIME_PARTS_MAX };
static const struct imap_limits	 ilim = {
	.line_max = 8192, .literal_max = 65536, .command_max = 65536,
	.depth_max = 8, .args_max = 100, .literal_plus = 1,
};

static char *
read_file(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if ((buf = malloc(n + 1)) == NULL || fread(buf, 1, n, f) !=
	    (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static const char *const text_names[] = {
	[MT_NONE] = "", [MT_HEADER] = "HEADER",
	[MT_HEADER_FIELDS] = "HEADER.FIELDS",
	[MT_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT", [MT_TEXT] = "TEXT",
	[MT_MIME] = "MIME",
};

/* BODY[section]<partial> as a FETCH answer names it and its contents. */
static void
write_section(FILE *f, struct mime_msg *m, const struct imap_fetch_att *a)
{
	const char	*fields[64];
	char		*data, name[256];
	size_t		 len, off, cnt, i;
	int		 k, nf = a->sec.fields.n;

	fputs("BODY[", f);
	for (k = 0; k < a->sec.npart; k++)
		fprintf(f, "%s%u", k > 0 ? "." : "", a->sec.part[k]);
	if (a->sec.text != SEC_NONE)
		fprintf(f, "%s%s", a->sec.npart > 0 ? "." : "",
		    text_names[a->sec.text]);
	if (nf > 64)
		nf = 64;
	for (k = 0; k < nf; k++) {
		snprintf(name, sizeof(name), "%.*s",
		    (int)a->sec.fields.v[k].len, a->sec.fields.v[k].s);
		for (i = 0; name[i] != '\0'; i++)
			name[i] = toupper((unsigned char)name[i]);
		fprintf(f, "%s%s", k == 0 ? " (" : " ", name);
		fields[k] = strndup(a->sec.fields.v[k].s,
		    a->sec.fields.v[k].len);
	}
	fputs(nf > 0 ? ")]" : "]", f);
	(void)mime_section_contents(m, a->sec.part, a->sec.npart,
	    (enum mime_text)a->sec.text, fields, nf, &data, &len);
	off = 0;
	cnt = len;
	if (a->partial) {
		fprintf(f, "<%u>", a->offset);
		off = a->offset < len ? a->offset : len;
		cnt = len - off < a->count ? len - off : a->count;
	}
	fprintf(f, " {%zu}\r\n", cnt);
	if (data != NULL)
		fwrite(data + off, 1, cnt, f);
	free(data);
	for (k = 0; k < nf; k++)
		free((char *)fields[k]);
}

/* One FETCH item's answer, as the server sends it. */
static char *
answer(struct mime_msg *m, const char *item, size_t *len)
{
	struct imap_cmd	 cmd;
	const char	*err;
	char		 line[1024], *out = NULL;
	FILE		*f;
	int		 i;

	snprintf(line, sizeof(line), "a FETCH 1 (%s)\r\n", item);
	if (imap_parse_command(line, strlen(line), &ilim, &cmd, &err) == -1) {
		fprintf(stderr, "%s: %s\n", item, err);
		imap_cmd_free(&cmd);
		return NULL;
	}
	if ((f = open_memstream(&out, len)) == NULL)
		return NULL;
	for (i = 0; i < cmd.u.fetch.natt; i++) {
		const struct imap_fetch_att *a = &cmd.u.fetch.att[i];

		if (i > 0)
			fputc(' ', f);
		switch (a->item) {
		case FA_BODYSTRUCTURE:
			fputs("BODYSTRUCTURE ", f);
			mime_write_bodystructure(f, m, m->root, 1);
			break;
		case FA_BODY:
			fputs("BODY ", f);
			mime_write_bodystructure(f, m, m->root, 0);
			break;
		case FA_ENVELOPE:
			fputs("ENVELOPE ", f);
			mime_write_envelope(f, m, m->root);
			break;
		case FA_BODY_SECTION:
			write_section(f, m, a);
			break;
		default:
			fputs("?", f);
			break;
		}
	}
	fclose(f);
	imap_cmd_free(&cmd);
	return out;
}

static int
dump(const char *path, char **items, int n)
{
	struct mime_msg	*m;
	char		*buf, *a;
	size_t		 len, alen;
	int		 i;

	if ((buf = read_file(path, &len)) == NULL ||
	    (m = mime_parse(buf, len, &mlim)) == NULL) {
		perror(path);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if ((a = answer(m, items[i], &alen)) == NULL)
			return 1;
		printf("%s\n%zu\n", items[i], alen);
		fwrite(a, 1, alen, stdout);
		putchar('\n');
		free(a);
	}
	mime_free(m);
	free(buf);
	return 0;
}

/* Every answer of one *.dovecot file against tsamba's. */
static void
check_corpus_file(const char *base)
{
	struct mime_msg	*m;
	char		 path[512], item[512], *exp, *msg, *p, *end, *a;
	size_t		 elen, mlen, n, alen;

	snprintf(path, sizeof(path), "%s/%s.dovecot", CORPUS, base);
	exp = read_file(path, &elen);
	snprintf(path, sizeof(path), "%s/%s.eml", CORPUS, base);
	msg = read_file(path, &mlen);
	CHECKF(exp != NULL && msg != NULL, "%s: unreadable", base);
	if (exp == NULL || msg == NULL)
		return;
	m = mime_parse(msg, mlen, &mlim);
	CHECK(m != NULL);
	for (p = exp, end = exp + elen; m != NULL && p < end; ) {
		n = strcspn(p, "\n");
		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		p += n + 1;
		n = strtoul(p, &p, 10);
		p++;
		if (p + n > end)
			break;
		a = answer(m, item, &alen);
		CHECKF(a != NULL && alen == n && memcmp(a, p, n) == 0,
		    "%s %s:\n  dovecot: %.*s\n  tsamba:  %.*s", base, item,
		    (int)n, p, a ? (int)alen : 0, a ? a : "");
		free(a);
		p += n + 1;
	}
	mime_free(m);
	free(exp);
	free(msg);
}

static void
test_corpus(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 base[256];
	size_t		 n;
	int		 files = 0;

	if ((d = opendir(CORPUS)) == NULL) {
		CHECKF(0, "%s: run from the top of the tree", CORPUS);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 9 || strcmp(de->d_name + n - 8, ".dovecot") != 0)
			continue;
		snprintf(base, sizeof(base), "%.*s", (int)(n - 8), de->d_name);
		check_corpus_file(base);
		files++;
	}
	closedir(d);
	CHECK(files >= 10);
}

static struct mime_msg *
parse_str(const char *s)
{
	return mime_parse(s, strlen(s), &mlim);
}

static void
test_structure(void)
{
	struct mime_msg		*m;
	struct mime_part	*p;
	struct mime_limits	 tiny = { 2, 3 };
	struct mime_range	 r;
	const char		*nested = "Content-Type: multipart/mixed; "
	    "boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n\nx\n"
	    "--c--\n--b--\n--a--\n";
	const uint32_t		 s1[] = { 1 }, s11[] = { 1, 1 }, s2[] = { 2 };
	char			*v;
	int			 folded;

	/* An empty message: one empty text/plain part. */
	m = parse_str("");
	CHECK(m != NULL && m->nparts == 1 && m->root->body.len == 0);
	CHECK(mime_section_part(m, s1, 1) == m->root);
	CHECK(mime_section_part(m, s2, 1) == NULL);
	CHECK(mime_section_part(m, s11, 2) == NULL);
	mime_free(m);

	/* Sizes count LF as CRLF; offsets stay those of the buffer. */
	m = parse_str("Subject: x\n\nab\ncd\n");
	CHECK(m->root->header.len == 12 && m->root->header.vsize == 14 &&
	    m->root->body.off == 12 && m->root->body.vsize == 8 &&
	    m->root->body.lines == 2);
	CHECK(mime_header_get(m, &m->root->header, "subject", &v,
	    &folded) == 0 && strcmp(v, "x") == 0 && !folded);
	free(v);
	CHECK(mime_header_get(m, &m->root->header, "Subj", &v, NULL) == -1);
	CHECK(mime_section_range(m, NULL, 0, MT_TEXT, &r) == 0 &&
	    r.off == 12 && r.len == 6);
	CHECK(mime_section_range(m, s1, 1, MT_MIME, &r) == 0);
	CHECK(mime_section_range(m, NULL, 0, MT_MIME, &r) == -1);
	mime_free(m);

	/* Folded fields. */
	m = parse_str("Subject: a\n b\nX-A:\n\tc\n\n");
	CHECK(mime_header_get(m, &m->root->header, "Subject", &v,
	    &folded) == 0 && strcmp(v, "a b") == 0 && folded);
	free(v);
	CHECK(mime_header_get(m, &m->root->header, "x-a", &v, &folded) == 0 &&
	    strcmp(v, "\tc") == 0);
	free(v);
	mime_free(m);

	/* Limits: depth 2 stops at the second multipart. */
	m = mime_parse(nested, strlen(nested), &tiny);
	CHECK(m != NULL && m->truncated && m->nparts <= 3);
	p = mime_section_part(m, s11, 2);
	CHECK(p != NULL && !p->is_multipart);
	mime_free(m);
	m = parse_str(nested);
	CHECK(m != NULL && !m->truncated && m->nparts == 4);
	mime_free(m);

	/* A boundary that is never used: all preamble, one empty part. */
	m = parse_str("Content-Type: multipart/mixed; boundary=q\n\n"
	    "no parts\n");
	CHECK(m->root->is_multipart && m->root->nchildren == 1);
	p = mime_section_part(m, s1, 1);
	CHECK(p != NULL && p->header.len == 0 && p->body.len == 0);
	CHECK(mime_section_part(m, s2, 1) == NULL);
	mime_free(m);

	/* From a file descriptor, bounded. */
	{
		int fd = open(CORPUS "/nested.eml", O_RDONLY);

		CHECK(fd != -1);
		m = mime_parse_fd(fd, 1 << 20, &mlim);
		CHECK(m != NULL && m->root->nchildren == 3);
		mime_free(m);
		lseek(fd, 0, SEEK_SET);
		CHECK(mime_parse_fd(fd, 100, &mlim) == NULL);
		close(fd);
	}
}

static void
test_params(void)
{
	struct mime_param	*v;
	char			*t, *s;
	int			 n;

	CHECK(mime_parse_params("text/plain (c) ; charset = \"a\\\"b\" ; x=y",
	    &t, &s, &v, &n) == 0 && strcmp(t, "text") == 0 &&
	    strcmp(s, "plain") == 0 && n == 2 && strcmp(v[0].value, "a\"b") ==
	    0 && strcmp(v[1].name, "x") == 0);
	free(t);
	free(s);
	mime_params_free(v, n);
	CHECK(mime_parse_params("a/b; t*1=\"2\"; t*0=1; t*2*=%33", &t, &s, &v,
	    &n) == 0 && n == 1 && strcmp(v[0].name, "t*") == 0 &&
	    strcmp(v[0].value, "12%33") == 0);
	free(t);
	free(s);
	mime_params_free(v, n);
	CHECK(mime_parse_params("/plain; a=b", &t, &s, &v, &n) == 0 &&
	    strcmp(t, "") == 0 && strcmp(s, "") == 0 && n == 0);
	free(t);
	free(s);
	mime_params_free(v, n);
	CHECK(mime_parse_params("attachment; filename=a.txt; =bad; b=c", &t,
	    NULL, &v, &n) == 0 && n == 3 && strcmp(v[1].name, "") == 0 &&
	    strcmp(v[1].value, "bad") == 0);
	free(t);
	mime_params_free(v, n);
	CHECK(mime_parse_params("inline; a=b; c; d=e", &t, NULL, &v, &n) == 0 &&
	    n == 1);
	free(t);
	mime_params_free(v, n);
}

int
main(int argc, char *argv[])
{
	if (argc > 2 && strcmp(argv[1], "-d") == 0)
		return dump(argv[2], argv + 3, argc - 3);
	test_corpus();
	test_structure();
	test_params();
	return unit_done("test_mime");
}
