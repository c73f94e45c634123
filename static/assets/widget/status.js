// The widget's status line (the element with role="status"): where the visitor stands,
// in one sentence, from the widget's state. Kept apart from the widget so every state
// has its sentence in one place.

import { formatDuration } from '../lib/dom.js';

/**
 * state: {phase, session, queue, closed, justLeft, specialistOnline, transferring}, as
 * the widget holds them; `closed` is why a chat cannot start ({text}) or null.
 */
export function statusText(state) {
  const { phase, session, closed } = state;
  if (phase === 'refused') return 'Chat is not available on this site.';
  if (phase === 'ended') return 'This chat has ended.';
  if (phase === 'rated') return closed ? `This chat has ended. ${closed.text}` : 'This chat has ended.';
  if (phase === 'intro') return closed ? closed.text : '';
  if (phase === 'offline') {
    return state.justLeft
      ? "Thanks — we'll reply by e-mail."
      : "We'll reply by e-mail. You can add to your message below.";
  }
  if (phase !== 'chat' || !session) return '';
  if (session.status === 'active' && session.specialist) {
    const name = session.specialist.name || 'a specialist';
    return state.specialistOnline
      ? `You are chatting with ${name}.`
      : `You are chatting with ${name}, who is reconnecting…`;
  }
  if (state.transferring) return 'Connecting you to another specialist…';
  if (!state.queue) return 'Connecting you to a specialist…';
  const { position, estimated_wait_secs: wait } = state.queue;
  const place = position <= 1 ? 'You are next in the queue.' : `You are number ${position} in the queue.`;
  const eta = nobodyFree(state.queue)
    ? 'Nobody is available right now; stay here and we will connect you as soon as someone is.'
    : `Estimated wait: ${formatDuration(wait)}.`;
  return `${place} ${eta}`;
}

/** A queue.update without an estimate: nobody who fits is online. */
export function nobodyFree(queue) {
  return queue.estimated_wait_secs === null || queue.estimated_wait_secs === undefined;
}
