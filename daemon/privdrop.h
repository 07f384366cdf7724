/*
 * privdrop.h - give up root once the privileged work is done.
 *
 * With --run-as=USER the daemon starts as root, binds its port and opens
 * the logs, then becomes USER with USER's groups for good. Files opened
 * later (the new log after a rotation) are opened as USER, so USER needs
 * read access to the log and its directory: on Debian, membership of group
 * adm, which owns /var/log/mail.log (root:adm 0640).
 */
#ifndef PRIVDROP_H
#define PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct privdrop {
	char name[64];
	uid_t uid;
	gid_t gid;
};

/* Look USER up in the user database. Done before anything is opened, so a
 * misspelt name stops the start at once. Returns 0, or -1 with a one-line
 * reason in err (unknown user, uid 0). */
int privdrop_lookup(const char *user, struct privdrop *pd, char *err, size_t errlen);

/* Become pd's user for good: supplementary groups from the group database,
 * then the gid, then the uid, and a check that root cannot be regained.
 * Must run as root. Returns 0, or -1 with a one-line reason in err; the
 * caller must then exit, since the process may be half-changed. */
int privdrop_apply(const struct privdrop *pd, char *err, size_t errlen);

#endif
