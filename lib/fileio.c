/*
 * Durable writes: whole buffers and directory fsyncs, so that a rename
 * or link that publishes a file survives a crash; and directories
 * opened below a directory fd.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
