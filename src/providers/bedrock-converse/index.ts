/**
 * Amazon Bedrock ConverseStream (`bedrock/converse`, and `bedrock/converse/claude` as ml-commons
 * names it): AWS event-stream framing, SigV4 signed by the core.
 */
import type { ProviderAdapter } from '../../domain/provider.ts';
import { createDecoder } from './decode.ts';
import { matches, prepareStream } from './request.ts';

export const adapter: ProviderAdapter = {
  interfaces: ['bedrock/converse', 'bedrock/converse/claude'],
  framing: 'aws-event-stream',
  matches,
  prepareStream,
  createDecoder,
};
