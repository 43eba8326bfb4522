/*
 * imap_parse.h: what the IMAP command parser (imap_parse.c), the
 * sequence sets (imap_seqset.c) and the mailbox name codings
 * (imap_utf7.c) give a session.  No daemon state: a command comes in as
 * the bytes the client sent (lines and literals, assembled by struct
 * imap_reader) and goes out as a struct imap_cmd whose strings point
 * into those bytes.
 */

#ifndef TSAMBA_IMAP_PARSE_H
#define TSAMBA_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define IMAP_TAG_MAX		64
#define IMAP_DEPTH_MAX		32	/* default parenthesis/search nesting */
#define IMAP_ARGS_MAX		4096	/* default tokens in one command */
#define IMAP_SECTION_MAX	32	/* part numbers in BODY[1.2.3...] */
#define IMAP_NONSYNC_MAX	4096	/* LITERAL- (RFC 7888 4) */

/* Limits the session gives the parser. */
struct imap_limits {
	size_t		 line_max;	/* one line between literals */
	size_t		 literal_max;	/* one literal */
	size_t		 command_max;	/* the whole command, all literals */
	int		 depth_max;	/* nesting of lists and search keys */
	int		 args_max;	/* tokens in one command */
	int		 literal_plus;	/* LITERAL+ offered, else LITERAL- */
};

/*
 * Assembling one command: imap_reader_line() takes each line (CRLF
 * stripped or not), imap_reader_literal() each literal's bytes.
 */
enum imap_read {
	IMAP_READ_DONE,		/* command complete: parse cmd.buf */
	IMAP_READ_LITERAL,	/* read lit_size more literal bytes */
	IMAP_READ_LINE,		/* the literal is in: read the next line */
	IMAP_READ_ERROR,	/* reply BAD with err; the command is lost */
};

struct imap_reader {
	char		*buf;		/* the command so far, NUL ended */
	size_t		 len, size;
	size_t		 lit_size;	/* the literal being waited for */
	int		 lit_sync;	/* the client waits for "+ " */
	int		 lit_skip;	/* a refused non-sync literal to eat */
	const char	*err;
	struct imap_limits lim;
	char		 tag[IMAP_TAG_MAX + 1];	/* "*" if none was valid */
};

void		 imap_reader_init(struct imap_reader *,
		    const struct imap_limits *);
void		 imap_reader_reset(struct imap_reader *);
void		 imap_reader_free(struct imap_reader *);
enum imap_read	 imap_reader_line(struct imap_reader *, const char *,
		    size_t);
enum imap_read	 imap_reader_literal(struct imap_reader *, const char *,
		    size_t);
int		 imap_is_done(const char *, size_t);
void		 imap_line_tag(const char *, size_t, char *, size_t);

/* A string argument: in the command buffer, not NUL ended. */
struct imap_str {
	const char	*s;
	size_t		 len;
	int		 literal;	/* 1 literal, 2 literal8 */
	int		 nil;
};

struct imap_strlist {
	struct imap_str	*v;
	int		 n;
};

/* A sequence set: ranges as written; 0 stands for "*". */
struct imap_range {
	uint32_t	 lo, hi;
};

struct imap_seqset {
	struct imap_range *r;
	int		 n;
	int		 saved;		/* "$": the SEARCHRES result */
};

int		 imap_seqset_contains(const struct imap_seqset *, uint32_t,
		    uint32_t);
int64_t		 imap_seqset_count(const struct imap_seqset *, uint32_t);
int		 imap_seqset_within(const struct imap_seqset *, uint32_t);

struct imap_date {
	int		 year, mon, day;	/* mon 1..12 */
};

/* The cases of RFC 9051 6.4.4 search-key. */
enum imap_skey {
	SK_AND, SK_OR, SK_NOT, SK_ALL, SK_ANSWERED, SK_DELETED, SK_DRAFT,
	SK_FLAGGED, SK_NEW, SK_OLD, SK_RECENT, SK_SEEN, SK_UNANSWERED,
	SK_UNDELETED, SK_UNDRAFT, SK_UNFLAGGED, SK_UNSEEN,
	SK_KEYWORD, SK_UNKEYWORD,
	SK_BCC, SK_BODY, SK_CC, SK_FROM, SK_SUBJECT, SK_TEXT, SK_TO,
	SK_HEADER,
	SK_BEFORE, SK_ON, SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE,
	SK_LARGER, SK_SMALLER, SK_UID, SK_SEQSET, SK_MODSEQ,
	SK_OLDER, SK_YOUNGER,
};

struct imap_search_key {
	enum imap_skey		 type;
	struct imap_str		 str;		/* text, keyword, header name */
	struct imap_str		 value;		/* HEADER value */
	struct imap_date	 date;
	uint64_t		 num;		/* size, modseq, seconds */
	struct imap_seqset	 set;
	struct imap_str		 entry;		/* MODSEQ entry-name */
	struct imap_str		 entry_type;
	struct imap_search_key	*child;		/* AND list, NOT, OR pair */
	struct imap_search_key	*next;
};

enum imap_search_ret {
	SRET_MIN = 1, SRET_MAX = 2, SRET_ALL = 4, SRET_COUNT = 8,
	SRET_SAVE = 16,
};

struct imap_search {
	int			 esearch;	/* RETURN given */
	unsigned int		 ret;		/* SRET_* */
	struct imap_str		 charset;
	struct imap_search_key	*key;		/* an SK_AND */
};

enum imap_sort_key {
	SORT_ARRIVAL, SORT_CC, SORT_DATE, SORT_FROM, SORT_SIZE,
	SORT_SUBJECT, SORT_TO, SORT_DISPLAYFROM, SORT_DISPLAYTO,
};

#define IMAP_SORT_MAX	16
struct imap_sort {
	struct {
		enum imap_sort_key	 key;
		int			 reverse;
	}			 crit[IMAP_SORT_MAX];
	int			 ncrit;
	struct imap_search	 search;
};

enum imap_thread_alg { THREAD_ORDEREDSUBJECT, THREAD_REFERENCES };

struct imap_thread {
	enum imap_thread_alg	 alg;
	struct imap_search	 search;
};

enum imap_section_text {
	SEC_NONE, SEC_HEADER, SEC_HEADER_FIELDS, SEC_HEADER_FIELDS_NOT,
	SEC_TEXT, SEC_MIME,
};

struct imap_section {
	uint32_t		 part[IMAP_SECTION_MAX];
	int			 npart;
	enum imap_section_text	 text;
	struct imap_strlist	 fields;
};

enum imap_fetch_item {
	FA_FLAGS, FA_INTERNALDATE, FA_RFC822_SIZE, FA_ENVELOPE, FA_BODY,
	FA_BODYSTRUCTURE, FA_UID, FA_RFC822, FA_RFC822_HEADER,
	FA_RFC822_TEXT, FA_BODY_SECTION, FA_BINARY, FA_BINARY_SIZE,
	FA_MODSEQ,
};

struct imap_fetch_att {
	enum imap_fetch_item	 item;
	int			 peek;
	struct imap_section	 sec;
	int			 partial;
	uint32_t		 offset, count;
};

struct imap_fetch {
	struct imap_seqset	 set;
	struct imap_fetch_att	*att;
	int			 natt;
	int			 changedsince_set;
	uint64_t		 changedsince;
	int			 vanished;
};

enum imap_store_op { STORE_SET, STORE_ADD, STORE_REMOVE };

struct imap_store {
	struct imap_seqset	 set;
	int			 unchangedsince_set;
	uint64_t		 unchangedsince;
	enum imap_store_op	 op;
	int			 silent;
	struct imap_strlist	 flags;
};

struct imap_append_msg {
	struct imap_strlist	 flags;
	int			 has_flags;
	int			 has_date;
	time_t			 date;		/* UTC */
	int			 tzoff;		/* minutes east */
	struct imap_str		 data;		/* the literal */
	int			 utf8;		/* UTF8 (~{n}) */
};

struct imap_append {
	struct imap_str		 mailbox;
	struct imap_append_msg	*msg;
	int			 nmsg;
};

enum imap_status_item {
	ST_MESSAGES = 1, ST_UIDNEXT = 2, ST_UIDVALIDITY = 4, ST_UNSEEN = 8,
	ST_DELETED = 16, ST_SIZE = 32, ST_RECENT = 64, ST_HIGHESTMODSEQ = 128,
	ST_APPENDLIMIT = 256, ST_DELETED_STORAGE = 512,
};

enum imap_list_sel {
	LSEL_SUBSCRIBED = 1, LSEL_REMOTE = 2, LSEL_RECURSIVEMATCH = 4,
	LSEL_SPECIAL_USE = 8,
};

enum imap_list_ret {
	LRET_SUBSCRIBED = 1, LRET_CHILDREN = 2, LRET_SPECIAL_USE = 4,
	LRET_STATUS = 8,
};

struct imap_list {
	int			 extended;
	unsigned int		 sel;		/* LSEL_* */
	unsigned int		 ret;		/* LRET_* */
	unsigned int		 status;	/* ST_* for RETURN (STATUS) */
	struct imap_str		 ref;
	struct imap_strlist	 patterns;
};

struct imap_select {
	struct imap_str		 mailbox;
	int			 condstore;
	int			 qresync;
	uint32_t		 uidvalidity;
	uint64_t		 modseq;
	struct imap_seqset	 known_uids;	/* n == 0: not given */
	struct imap_seqset	 seq_match;	/* seq-match-data, seqs */
	struct imap_seqset	 uid_match;	/* seq-match-data, uids */
};

struct imap_quota_res {
	struct imap_str		 name;
	uint64_t		 limit;
};

struct imap_setquota {
	struct imap_str		 root;
	struct imap_quota_res	*res;
	int			 nres;
};

enum imap_verb {
	IC_CAPABILITY, IC_NOOP, IC_LOGOUT, IC_STARTTLS, IC_AUTHENTICATE,
	IC_LOGIN, IC_ENABLE, IC_SELECT, IC_EXAMINE, IC_CREATE, IC_DELETE,
	IC_RENAME, IC_SUBSCRIBE, IC_UNSUBSCRIBE, IC_LIST, IC_LSUB,
	IC_NAMESPACE, IC_STATUS, IC_APPEND, IC_IDLE, IC_CHECK, IC_CLOSE,
	IC_UNSELECT, IC_EXPUNGE, IC_SEARCH, IC_FETCH, IC_STORE, IC_COPY,
	IC_MOVE, IC_SORT, IC_THREAD, IC_GETQUOTA, IC_GETQUOTAROOT,
	IC_SETQUOTA, IC_COMPRESS, IC_ID,
	IC_NVERBS
};

struct imap_cmd {
	char			 tag[IMAP_TAG_MAX + 1];
	enum imap_verb		 verb;
	int			 uid;		/* UID FETCH etc. */
	union {
		struct {
			struct imap_str	 mech;
			struct imap_str	 initial;	/* nil: none */
		}			 auth;
		struct {
			struct imap_str	 user, pass;
		}			 login;
		struct imap_strlist	 enable;
		struct imap_select	 select;
		struct {
			struct imap_str	 mailbox;
			struct imap_strlist use;
		}			 create;
		struct imap_str		 mailbox;	/* DELETE, SUB., UNSUB.,
							   GETQUOTAROOT */
		struct {
			struct imap_str	 from, to;
		}			 rename;
		struct imap_list	 list;		/* LIST, LSUB */
		struct {
			struct imap_str	 mailbox;
			unsigned int	 items;
		}			 status;
		struct imap_append	 append;
		struct imap_search	 search;
		struct imap_fetch	 fetch;
		struct imap_store	 store;
		struct {
			struct imap_seqset set;
			struct imap_str	 mailbox;
		}			 copy;		/* COPY, MOVE */
		struct imap_seqset	 expunge;	/* UID EXPUNGE */
		struct imap_sort	 sort;
		struct imap_thread	 thread;
		struct imap_str		 quotaroot;	/* GETQUOTA */
		struct imap_setquota	 setquota;
		struct imap_str		 compress;
		struct imap_strlist	 id;		/* pairs; n 0: NIL */
	}			 u;
	struct imap_arena	*arena;
};

/*
 * Parse an assembled command.  0 on success; -1 with *err set to a
 * reason for BAD (cmd->tag is set when the tag could be read, else
 * empty: reply "* BAD").  imap_cmd_free() releases what the command
 * holds, on success or failure.
 */
int		 imap_parse_command(const char *, size_t,
		    const struct imap_limits *, struct imap_cmd *,
		    const char **);
void		 imap_cmd_free(struct imap_cmd *);
const char	*imap_verb_name(enum imap_verb);
int		 imap_str_eq(const struct imap_str *, const char *);
int		 imap_str_is_inbox(const struct imap_str *);

/* Mailbox names (imap_utf7.c); output NUL ended, -1 on bad input. */
int		 imap_utf7_decode(const char *, size_t, char *, size_t);
int		 imap_utf7_encode(const char *, size_t, char *, size_t);
int		 imap_utf8_valid(const char *, size_t);

#endif
