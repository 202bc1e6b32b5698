import { readFileSync, statSync } from 'node:fs';
import { InvalidInputError } from '@palabre/core';

/**
 * A secret's file (a key-encryption key, an S3 secret key). A file others on the machine can read
 * protects nothing: such a file is refused, as ssh refuses a private key with loose permissions.
 */
export function readPrivateFile(file: string, setting: string): string {
  try {
    if ((statSync(file).mode & 0o077) !== 0) throw new Error(`${file} is readable by other users: chmod 600 ${file}`);
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidInputError(`${setting}: ${(error as Error).message}`);
  }
}
