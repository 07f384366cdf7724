/*
 * privdrop.c - switch from root to an unprivileged user (--run-as).
 *
 * The order is the classic one (OpenSMTPD, OpenSSH): supplementary groups
 * first and the uid last, because once the uid is gone the right to change
 * groups is gone with it. Afterwards the change is checked by trying to
 * undo it: a setuid(0) that succeeds means the drop did not happen.
 */
#include "daemon/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Resolve the name with getpwnam_r; see privdrop.h. */
int
privdrop_lookup(const char *user, struct privdrop *pd, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc;

	memset(pd, 0, sizeof *pd);
	if (user == NULL || *user == '\0' || strlen(user) >= sizeof pd->name) {
		snprintf(err, errlen, "--run-as: '%.64s' is not a user name", user ? user : "");
		return -1;
	}
	rc = getpwnam_r(user, &pw, buf, sizeof buf, &res);
	if (res == NULL) {
		snprintf(err, errlen, "--run-as: no such user '%s'%s%s", user,
		    rc ? ": " : "", rc ? strerror(rc) : "");
		return -1;
	}
	if (pw.pw_uid == 0) {
		snprintf(err, errlen, "--run-as: user '%s' has uid 0, which drops nothing;"
		    " name an unprivileged user", user);
		return -1;
	}
	snprintf(pd->name, sizeof pd->name, "%s", user);
	pd->uid = pw.pw_uid;
	pd->gid = pw.pw_gid;
	return 0;
}

/* initgroups + setgid + setuid, then prove it; see privdrop.h. */
int
privdrop_apply(const struct privdrop *pd, char *err, size_t errlen)
{
	if (geteuid() != 0) {
		snprintf(err, errlen, "--run-as=%s: only root can switch users (running as uid %u)",
		    pd->name, (unsigned)geteuid());
		return -1;
	}
	if (initgroups(pd->name, pd->gid) < 0) {
		snprintf(err, errlen, "--run-as=%s: initgroups: %s", pd->name, strerror(errno));
		return -1;
	}
	/* setgid/setuid as root set the real, effective and saved ids. */
	if (setgid(pd->gid) < 0) {
		snprintf(err, errlen, "--run-as=%s: setgid(%u): %s", pd->name, (unsigned)pd->gid,
		    strerror(errno));
		return -1;
	}
	if (setuid(pd->uid) < 0) {
		snprintf(err, errlen, "--run-as=%s: setuid(%u): %s", pd->name, (unsigned)pd->uid,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || setgid(0) == 0 || geteuid() != pd->uid || getuid() != pd->uid ||
	    getegid() != pd->gid || getgid() != pd->gid) {
		snprintf(err, errlen, "--run-as=%s: root could be regained after dropping to uid %u",
		    pd->name, (unsigned)pd->uid);
		return -1;
	}
	/* The process stays undumpable (the kernel's rule after a credential
	 * change): another process of USER cannot ptrace it to reach the fds
	 * root opened. Its own /proc/self/fd and /proc/self/stat, which the
	 * tailer and the process_* metrics read, stay readable to itself. */
	return 0;
}
