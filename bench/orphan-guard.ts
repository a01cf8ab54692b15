/**
 * Loaded into the Sluice child with `--import`. The bench holds the write end of this
 * process's stdin; if the bench dies without cleaning up (SIGKILL, a CI timeout), the pipe
 * closes and Sluice shuts down as if stopped normally, so no server outlives a run.
 */
process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
