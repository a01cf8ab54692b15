/**
 * Anthropic Claude through Amazon Bedrock InvokeModelWithResponseStream
 * (`bedrock/invoke/claude`): AWS event-stream frames wrapping Anthropic Messages events,
 * SigV4 signed by the core.
 */
import type { ProviderAdapter } from '../../domain/provider.ts';
import { createDecoder } from './decode.ts';
import { matches, prepareStream } from './request.ts';

export const adapter: ProviderAdapter = {
  interfaces: ['bedrock/invoke/claude'],
  framing: 'aws-event-stream',
  matches,
  prepareStream,
  createDecoder,
};
