// Waiting for a condition that Playwright's own locators cannot express.

const TIMEOUT_MS = 20000;
const POLL_MS = 100;

/** Resolves when `condition()` (sync or async) is truthy; rejects after the timeout. */
export async function eventually(condition, timeoutMs = TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms: ${condition}${last ? ` (${last.message})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
