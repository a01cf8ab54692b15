import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CredentialCipher, loadMasterKey } from './credential-cipher.ts';

describe('CredentialCipher', () => {
  const cipher = new CredentialCipher('a master key of enough length');

  it('round-trips values, including unicode and empty strings', () => {
    for (const value of ['sk-123', '', 'päss wörd 🔑', 'x'.repeat(10_000)]) {
      assert.equal(cipher.decrypt('key', cipher.encrypt('key', value)), value);
    }
  });

  it('never stores the plaintext and uses a fresh IV per value', () => {
    const first = cipher.encrypt('openAI_key', 'sk-secret-value');
    const second = cipher.encrypt('openAI_key', 'sk-secret-value');
    assert.notEqual(first, second);
    assert.ok(!first.includes('sk-secret-value'));
    assert.ok(!Buffer.from(first.slice(3), 'base64').toString('latin1').includes('sk-secret'));
  });

  it('refuses a wrong key, a moved ciphertext and tampering', () => {
    const stored = cipher.encrypt('access_key', 'AKIA');
    assert.throws(() =>
      new CredentialCipher('another master key, long').decrypt('access_key', stored),
    );
    assert.throws(() => cipher.decrypt('secret_key', stored));
    const bytes = Buffer.from(stored.slice(3), 'base64');
    bytes[14] = (bytes[14] ?? 0) ^ 1;
    assert.throws(() => cipher.decrypt('access_key', `v1:${bytes.toString('base64')}`));
    assert.throws(() => cipher.decrypt('access_key', 'v1:AAAA'));
    assert.throws(() => cipher.decrypt('access_key', 'plain'));
  });

  it('refuses a master key that is too short', () => {
    assert.throws(() => new CredentialCipher('short'), /at least 16/);
  });
});

describe('loadMasterKey', () => {
  it('generates a 0600 key file once and reads it back afterwards', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'sluice-key-'));
    try {
      const first = await loadMasterKey(join(directory, 'data'), undefined);
      const second = await loadMasterKey(join(directory, 'data'), undefined);
      assert.equal(first, second);
      assert.ok(first.length >= 40);
      const info = await stat(join(directory, 'data', 'master.key'));
      assert.equal(info.mode & 0o777, 0o600);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('prefers the configured key and writes no file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'sluice-key-'));
    try {
      assert.equal(await loadMasterKey(directory, 'configured key 1234'), 'configured key 1234');
      await assert.rejects(stat(join(directory, 'master.key')));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
