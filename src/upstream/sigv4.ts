/**
 * AWS Signature V4 for `aws_sigv4` connectors, with the signer the AWS SDK itself uses. Each
 * attempt is signed again (the signature covers `x-amz-date`, and AWS rejects stale ones).
 *
 * The path is signed exactly as it goes on the wire (WHATWG `pathname`, which keeps the `:` of
 * Bedrock model ids literal and keeps `%3A` encoded); the signer encodes it once more, as AWS
 * does for every service but S3, so both spellings verify.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { UpstreamCall } from '../domain/provider.ts';
import { parseEndpointUrl } from './endpoint-guard.ts';

export interface AwsCredentials {
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
}

export interface SignOptions {
  /** Fixed signing time (tests); defaults to now. */
  signingDate?: Date;
}

type SignableRequest = Parameters<SignatureV4['sign']>[0];

// Headers the signer owns. A stale copy from a template (any letter case) would be sent next to
// the fresh one and break the signature.
const signerOwnedHeaders = new Set(['host', 'authorization', 'x-amz-date', 'x-amz-security-token']);

/**
 * Query parameters, decoded, for the canonical query. `URLSearchParams` would read `+` as a space
 * and the signature would cover a different string than the one sent.
 */
function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (search.length <= 1) return query;
  for (const pair of search.slice(1).split('&')) {
    if (pair === '') continue;
    const separator = pair.indexOf('=');
    const rawName = separator === -1 ? pair : pair.slice(0, separator);
    const rawValue = separator === -1 ? '' : pair.slice(separator + 1);
    const name = safeDecode(rawName);
    const value = safeDecode(rawValue);
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[name] = [existing, value];
  }
  return query;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export async function signCall(
  call: UpstreamCall,
  credentials: AwsCredentials,
  region: string,
  service: string,
  options: SignOptions = {},
): Promise<UpstreamCall> {
  const url = parseEndpointUrl(call.url);
  // The AWS SDK adds `host` in a middleware, not in the signer; undici sends this same value.
  const headers: Record<string, string> = { host: url.host };
  for (const [name, value] of Object.entries(call.headers)) {
    if (!signerOwnedHeaders.has(name.toLowerCase())) headers[name] = value;
  }

  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.accessKey,
      secretAccessKey: credentials.secretKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
    region,
    service,
    sha256: Hash.bind(null, 'sha256'),
  });
  const request: SignableRequest = {
    method: call.method.toUpperCase(),
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port === '' ? {} : { port: Number(url.port) }),
    path: url.pathname,
    query: parseQuery(url.search),
    headers,
    body: call.body,
  };
  const signed = await signer.sign(
    request,
    options.signingDate === undefined ? {} : { signingDate: options.signingDate },
  );
  const signedHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    if (typeof value === 'string') signedHeaders[name] = value;
  }
  return { ...call, headers: signedHeaders };
}
