/*
 * Durable writes: whole buffers and directory fsyncs, so that a rename
 * or link that publishes a file survives a crash; directories opened
 * below a directory fd; and whole reads of small files, bounded.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"

int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
fsync_dir(const char *path)
{
	return fsync_dir_at(AT_FDCWD, path);
}

int
fsync_dir_at(int at, const char *path)
{
	int	 fd, rv, saved;

	if ((fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return -1;
	rv = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rv;
}

DIR *
opendir_at(int at, const char *path)
{
	DIR	*d;
	int	 fd, saved;

	if ((fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return d;
}

int
fileio_read_fd(int fd, size_t max, char **bufp, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;

	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		errno = EFBIG;
		return -1;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL)
		return -1;
	while (len < (size_t)st.st_size) {
		n = pread(fd, buf + len, st.st_size - len, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			free(buf);
			return -1;
		}
		len += n;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}
