#!/bin/bash
# t_perm.sh — permissions as an unprivileged user.  Mounted by root with
# -o allow_other; the checks run as nobody (65534, no supplementary groups)
# and must see EACCES/EPERM exactly where Linux gives them.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || skip "no setpriv"
mkstore "$STORE"
lsmfs_mount -o allow_other
M=$MNT

# The layout, made by root.
chmod 755 "$M"
mkdir -m 777 "$M/pub" "$M/grp"
mkdir -m 700 "$M/priv"
mkdir -m 755 "$M/ro"
mkdir -m 1777 "$M/sticky"
echo secret >"$M/priv/s"
echo readonly >"$M/ro/file"
chmod 644 "$M/ro/file"
echo rootfile >"$M/sticky/rootfile"
chmod 666 "$M/sticky/rootfile"
echo exe >"$M/ro/suid"
chmod 4755 "$M/ro/suid"
chgrp 100 "$M/grp"
chmod 2777 "$M/grp"
echo mine >"$M/pub/nobodys"
chown 65534:65534 "$M/pub/nobodys"
chmod 4755 "$M/pub/nobodys"
echo x >"$M/noexec"
chmod 644 "$M/noexec"
setfattr -n user.v -v 1 "$M/ro/file"

# Reading and listing.
expect_nobody EACCES open "$M/priv/s" rdonly
expect_nobody EACCES access "$M/priv" r
check "(nobody) cannot list priv" bash -c "! ${AS_NOBODY[*]} ls '$M/priv' 2>/dev/null"
expect_nobody OK open "$M/ro/file" rdonly
expect_nobody EACCES open "$M/ro/file" wronly
expect_nobody EACCES access "$M/ro/file" w
expect_nobody EACCES access "$M/noexec" x

# Creating and removing in directories without write permission.
expect_nobody EACCES write "$M/ro/new" 0 x
expect_nobody EACCES mkdir "$M/ro/newdir"
expect_nobody EACCES unlink "$M/ro/file"
expect_nobody EACCES rename "$M/ro/file" "$M/pub/stolen"
expect_nobody EACCES symlink x "$M/ro/link"
expect_nobody EACCES mknod "$M/ro/fifo" fifo 0644
expect_nobody EACCES link "$M/pub/nobodys" "$M/ro/hl"
if [ "$(cat /proc/sys/fs/protected_hardlinks 2>/dev/null)" = 1 ]; then
	expect_nobody EPERM link "$M/ro/file" "$M/pub/hl"
fi

# Attributes of files nobody does not own.
expect_nobody EPERM chmod "$M/ro/file" 0777
expect_nobody EPERM chown "$M/ro/file" 65534 65534
expect_nobody EPERM chown "$M/pub/nobodys" 0 0
expect_nobody EPERM utimens "$M/ro/file" 1 1
expect_nobody EACCES utimens "$M/ro/file" now now
expect_nobody EACCES truncate "$M/ro/file" 0
expect_nobody EACCES setxattr "$M/ro/file" user.v 2
expect_nobody OK getxattr "$M/ro/file" user.v
expect_nobody EPERM setxattr "$M/pub/nobodys" trusted.x 1

# The sticky directory: writable by all, but only owners remove.
expect_nobody OK write "$M/sticky/rootfile" 0 changed
expect_nobody EPERM unlink "$M/sticky/rootfile"
expect_nobody EPERM rename "$M/sticky/rootfile" "$M/sticky/mine"
expect_nobody OK write "$M/sticky/nobodyfile" 0 x
expect_nobody OK unlink "$M/sticky/nobodyfile"

# What nobody may do in a world-writable directory, and the result.
expect_nobody OK mkdir "$M/pub/nd" 0755
expect_nobody OK write "$M/pub/nf" 0 data
check "new file owned by nobody" bash -c "[ \"\$(stat -c %u:%g '$M/pub/nf')\" = 65534:65534 ]"
expect_nobody OK chmod "$M/pub/nf" 0600
expect_nobody OK utimens "$M/pub/nf" 5 5
expect_nobody OK setxattr "$M/pub/nf" user.mine yes
expect_nobody OK rename "$M/pub/nf" "$M/pub/nf2"
expect_nobody OK unlink "$M/pub/nf2"
check "umask applies" bash -c "${AS_NOBODY[*]} bash -c 'umask 077; : >$M/pub/um' && [ \"\$(stat -c %a '$M/pub/um')\" = 600 ]"

# setuid is cleared when nobody writes to its own setuid file.
expect_nobody OK write "$M/pub/nobodys" 0 changed
check "setuid cleared on write" bash -c "[ \"\$(stat -c %a '$M/pub/nobodys')\" = 755 ]"
# chown by root clears setuid too (as on Linux).
chown 1:1 "$M/ro/suid"
check "setuid cleared on chown" bash -c "[ \"\$(stat -c %a '$M/ro/suid')\" = 755 ]"

# A setgid directory hands its group down; subdirectories stay setgid.
expect_nobody OK write "$M/grp/f" 0 x
expect_nobody OK mkdir "$M/grp/sub" 0755
check "setgid dir: group inherited" bash -c "[ \"\$(stat -c %g '$M/grp/f')\" = 100 ] && [ \"\$(stat -c %g '$M/grp/sub')\" = 100 ]"
check "setgid dir: subdir setgid" bash -c "[ \"\$(stat -c %a '$M/grp/sub')\" = 2755 ]"

# The control channel is root's.
check "(nobody) cannot trigger a flush" bash -c "! ${AS_NOBODY[*]} setfattr -n lsmfs.flush -v 1 '$M' 2>/dev/null"

# Root is not limited by modes.
expect OK open "$M/priv/s" rdwr
expect OK write "$M/ro/file" 0 rootwrite

# Without allow_other, other users cannot enter the mount at all.
lsmfs_umount
lsmfs_mount
expect_nobody EACCES stat "$M"
expect OK stat "$M"
lsmfs_umount
finish
