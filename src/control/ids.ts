import { randomBytes } from 'node:crypto';

/** 20 URL-safe characters (120 random bits), the length of OpenSearch's auto-generated ids. */
export function newId(): string {
  return randomBytes(15).toString('base64url');
}
