// Preloaded (node --import) into a CLI process by a test: prints one line on stderr the first time the process finds
// a lock file held by another, so that the test knows it has read its profile and now waits for the lock.
import fs from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

const lstat = fs.lstat;
let said = false;
fs.lstat = (path, ...rest) => {
  if (!said && String(path).endsWith('.lock')) {
    said = true;
    process.stderr.write('waiting for the lock\n');
  }
  return lstat(path, ...rest);
};
// The bundled CLI imports lstat by name: its binding follows only after this.
syncBuiltinESMExports();
