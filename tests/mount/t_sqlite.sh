#!/bin/bash
# t_sqlite.sh — sqlite3 creating and querying databases on the mount, with a
# rollback journal and in WAL mode (shared-memory mmap of the -shm file,
# fsync, POSIX locks, truncation), then again after a remount.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
mkstore "$STORE"
lsmfs_mount
M=$MNT

sql() { run sqlite3 -batch -bail "$@"; }

fill() {
	local db=$1 mode=$2
	sql "$db" "PRAGMA journal_mode=$mode;" >/dev/null || fail "$mode: journal mode"
	sql "$db" "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL, b BLOB);
		CREATE INDEX t_name ON t(name);" || fail "$mode: create"
	for chunk in 0 1 2 3 4; do
		sql "$db" "BEGIN;
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
			INSERT INTO t(name, v, b) SELECT 'row' || (i + $chunk * 2000), i * 0.5, randomblob(100 + i % 300) FROM n;
			COMMIT;" || fail "$mode: insert chunk $chunk"
	done
	sql "$db" "UPDATE t SET name = name || '-u' WHERE id % 7 = 0;
		DELETE FROM t WHERE id % 11 = 0;" || fail "$mode: update/delete"
}

query() {
	sql "$1" "SELECT count(*), sum(v), count(DISTINCT name), sum(length(b)) > 0 FROM t;
		SELECT name FROM t WHERE name = 'row14-u';
		PRAGMA integrity_check;"
}

fill "$M/rollback.db" DELETE
fill "$M/wal.db" WAL
for db in rollback.db wal.db; do
	out=$(query "$M/$db")
	echo "$out" >"$T/$db.q1"
	echo "$out" | grep -qx 'row14-u' || fail "$db: indexed lookup: $out"
	echo "$out" | tail -1 | grep -qx ok || fail "$db: integrity: $out"
	echo "$out" | head -1 | grep -q '^9091|' || fail "$db: row count: $(echo "$out" | head -1)"
done
check "vacuum" sqlite3 -batch -bail "$M/rollback.db" "VACUUM;"
check "wal checkpoint" sqlite3 -batch -bail "$M/wal.db" "PRAGMA wal_checkpoint(TRUNCATE);"
# A copy made by reading the file through the mount opens elsewhere.
check "copy out" cp "$M/rollback.db" "$T/copy.db"
check "copy is a good database" bash -c "sqlite3 '$T/copy.db' 'PRAGMA integrity_check;' | grep -qx ok"

lsmfs_umount
lsmfs_mount
for db in rollback.db wal.db; do
	out=$(query "$M/$db")
	[ "$out" = "$(cat "$T/$db.q1")" ] || fail "$db differs after remount: $out"
done
lsmfs_umount
finish
