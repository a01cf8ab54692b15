/**
 * SQLite result-code numbers to their names ('SQLITE_CONSTRAINT_UNIQUE'). node:sqlite reports
 * only the number (`errcode`) and better-sqlite3 only the name, so the node:sqlite driver names
 * its errors here, exactly as better-sqlite3 12 does (its `src/util/constants.cpp`): the same
 * code then reads the same on both drivers. Internal to the SQLite store.
 *
 * https://sqlite.org/rescode.html: an extended code is `primary | (n << 8)`.
 */

/** Primary codes 0–28, by number. */
const primaryNames = [
  'OK',
  'ERROR',
  'INTERNAL',
  'PERM',
  'ABORT',
  'BUSY',
  'LOCKED',
  'NOMEM',
  'READONLY',
  'INTERRUPT',
  'IOERR',
  'CORRUPT',
  'NOTFOUND',
  'FULL',
  'CANTOPEN',
  'PROTOCOL',
  'EMPTY',
  'SCHEMA',
  'TOOBIG',
  'CONSTRAINT',
  'MISMATCH',
  'MISUSE',
  'NOLFS',
  'AUTH',
  'FORMAT',
  'RANGE',
  'NOTADB',
  'NOTICE',
  'WARNING',
];

/** Extended codes per primary code, listed by n from 1; an empty string is an unused n. */
const extendedNames: Readonly<Record<number, readonly string[]>> = {
  0: ['LOAD_PERMANENTLY', 'SYMLINK'],
  1: ['MISSING_COLLSEQ', 'RETRY', 'SNAPSHOT'],
  4: ['', 'ROLLBACK'],
  5: ['RECOVERY', 'SNAPSHOT'],
  6: ['SHAREDCACHE', 'VTAB'],
  8: ['RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  10: [
    'READ',
    'SHORT_READ',
    'WRITE',
    'FSYNC',
    'DIR_FSYNC',
    'TRUNCATE',
    'FSTAT',
    'UNLOCK',
    'RDLOCK',
    'DELETE',
    'BLOCKED',
    'NOMEM',
    'ACCESS',
    'CHECKRESERVEDLOCK',
    'LOCK',
    'CLOSE',
    'DIR_CLOSE',
    'SHMOPEN',
    'SHMSIZE',
    'SHMLOCK',
    'SHMMAP',
    'SEEK',
    'DELETE_NOENT',
    'MMAP',
    'GETTEMPPATH',
    'CONVPATH',
    'VNODE',
    'AUTH',
    'BEGIN_ATOMIC',
    'COMMIT_ATOMIC',
    'ROLLBACK_ATOMIC',
    'DATA',
    'CORRUPTFS',
    'IN_PAGE',
  ],
  11: ['VTAB', 'SEQUENCE', 'INDEX'],
  14: ['NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  19: [
    'CHECK',
    'COMMITHOOK',
    'FOREIGNKEY',
    'FUNCTION',
    'NOTNULL',
    'PRIMARYKEY',
    'TRIGGER',
    'UNIQUE',
    'VTAB',
    'ROWID',
    'PINNED',
    'DATATYPE',
  ],
  23: ['USER'],
  27: ['RECOVER_WAL', 'RECOVER_ROLLBACK', 'RBU'],
  28: ['AUTOINDEX'],
};

/** The name of a result code, or better-sqlite3's `UNKNOWN_SQLITE_ERROR_<n>` for one it lacks. */
export function sqliteResultCodeName(code: number): string {
  if (code === 100) return 'SQLITE_ROW';
  if (code === 101) return 'SQLITE_DONE';
  const unknown = `UNKNOWN_SQLITE_ERROR_${code}`;
  const primary = primaryNames[code & 0xff];
  if (primary === undefined) return unknown;
  const extension = code >> 8;
  if (extension === 0) return `SQLITE_${primary}`;
  const suffix = extendedNames[code & 0xff]?.[extension - 1];
  return suffix === undefined || suffix === '' ? unknown : `SQLITE_${primary}_${suffix}`;
}
