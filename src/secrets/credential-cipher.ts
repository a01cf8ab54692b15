/**
 * Encryption of connector credentials at rest: AES-256-GCM with a key derived (HKDF-SHA256) from
 * the master key. Each value gets its own random 96-bit IV; the credential's name is bound as
 * additional authenticated data, so a ciphertext moved to another credential name fails to open.
 *
 * Stored form: `v1:` + base64(iv ‖ ciphertext ‖ tag).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const formatPrefix = 'v1:';
const ivBytes = 12;
const tagBytes = 16;

export class CredentialCipher {
  readonly #key: Buffer;

  constructor(masterKey: string) {
    if (masterKey.length < 16) {
      throw new Error('The master key must be at least 16 characters long');
    }
    this.#key = Buffer.from(
      hkdfSync('sha256', masterKey, 'sluice-credential-encryption', 'aes-256-gcm v1', 32),
    );
  }

  encrypt(name: string, plaintext: string): string {
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: tagBytes });
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return formatPrefix + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64');
  }

  /** Throws a message-free error on a wrong key or tampering: the caller decides what to say. */
  decrypt(name: string, stored: string): string {
    if (!stored.startsWith(formatPrefix)) throw new Error('Unknown credential format');
    const packed = Buffer.from(stored.slice(formatPrefix.length), 'base64');
    if (packed.length < ivBytes + tagBytes) throw new Error('Truncated credential');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, packed.subarray(0, ivBytes), {
      authTagLength: tagBytes,
    });
    decipher.setAAD(Buffer.from(name, 'utf8'));
    decipher.setAuthTag(packed.subarray(packed.length - tagBytes));
    const plaintext = Buffer.concat([
      decipher.update(packed.subarray(ivBytes, packed.length - tagBytes)),
      decipher.final(),
    ]);
    return plaintext.toString('utf8');
  }

  encryptAll(credential: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(credential).map(([name, value]) => [name, this.encrypt(name, value)]),
    );
  }

  decryptAll(credential: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(credential).map(([name, value]) => [name, this.decrypt(name, value)]),
    );
  }
}

/**
 * The master key: the configured one, or the content of `<dataDir>/master.key`, created on first
 * start with 256 random bits and mode 0600 so only the service's user can read it.
 */
export async function loadMasterKey(
  dataDir: string,
  configured: string | undefined,
): Promise<string> {
  if (configured !== undefined) return configured;
  const path = join(dataDir, 'master.key');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if (!isMissingFile(error)) throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const generated = randomBytes(32).toString('base64');
  // 'wx' refuses to overwrite a key another process created in the meantime.
  await writeFile(path, `${generated}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
  return generated;
}

function isMissingFile(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/** A fixed value encrypted at first start; failing to decrypt it later means a wrong key. */
export const keyCheckName = 'sluice-key-check';
export const keyCheckPlaintext = 'sluice';
