/**
 * Anthropic `stop_reason` → unified finish reason; the raw value is kept (undefined when the
 * stream carried none). Claude on Bedrock sends the Anthropic Messages events unchanged, so the
 * mapping is the Anthropic adapter's, which the shared event reader applies.
 * @see https://docs.anthropic.com/en/api/handling-stop-reasons
 */
export { mapFinishReason } from '../anthropic/map-finish-reason.ts';
