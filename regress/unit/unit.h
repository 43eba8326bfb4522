/*
 * unit.h: the smallest test harness that does the job.  CHECK() reports
 * a failed expression with its file and line and counts it; a test
 * program ends with "return unit_done();", which prints a summary and
 * gives a nonzero exit status when anything failed.
 */

#ifndef TSAMBA_UNIT_H
#define TSAMBA_UNIT_H

#include <stdio.h>

static int	unit_checks;
static int	unit_failures;

#define CHECK(expr) do {						\
	unit_checks++;							\
	if (!(expr)) {							\
		unit_failures++;					\
		fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,		\
		    __LINE__, #expr);					\
	}								\
} while (0)

/* Like CHECK, with a printf-style note saying which case failed. */
#define CHECKF(expr, ...) do {						\
	unit_checks++;							\
	if (!(expr)) {							\
		unit_failures++;					\
		fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__,		\
		    __LINE__, #expr);					\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

static inline int
unit_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, unit_checks,
	    unit_failures);
	return unit_failures != 0;
}

#endif
