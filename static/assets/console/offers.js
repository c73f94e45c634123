// Incoming offers: a card per offer with who is waiting, why (intent, priority), what
// they told the bot, a countdown to expiry, and Accept / Decline.

import { alertLine, h, replace, showAlert } from '../lib/dom.js';
import { MessageList } from '../lib/messages.js';

const PREVIEW_MESSAGES = 6;

export class Offers {
  /** onAccept(offer) and onDecline(offer) return promises; a rejection is shown on the card. */
  constructor({ onAccept, onDecline }) {
    this.onAccept = onAccept;
    this.onDecline = onDecline;
    this.cards = new Map();
    this.el = h('section', { class: 'offers', 'aria-label': 'Incoming chats', 'aria-live': 'assertive' });
  }

  show(offer) {
    this.remove(offer.offer_id);
    const { session } = offer;
    const name = session.visitor.name || 'A visitor';
    const transcript = (session.transcript || []).slice(-PREVIEW_MESSAGES);
    const preview = new MessageList({ label: 'Conversation so far', isMine: () => false });
    transcript.forEach((message) => preview.add(message));
    const countdown = h('p', { class: 'muted countdown' });
    const problem = alertLine();
    const act = (action) => (event) => {
      const buttons = card.querySelectorAll('button');
      buttons.forEach((button) => { button.disabled = true; });
      action(offer).then(() => this.remove(offer.offer_id)).catch((error) => {
        showAlert(problem, error.message);
        buttons.forEach((button) => { button.disabled = false; });
      });
      event.preventDefault();
    };
    const card = h(
      'article',
      { class: 'offer card', 'aria-label': `Chat request from ${name}` },
      h('h3', {}, `${name} wants to chat`),
      h('p', {}, [session.number, session.priority, session.intent, session.language].filter(Boolean).join(' · ')),
      transcript.length ? preview.el : null,
      countdown,
      problem,
      h('div', { class: 'offer-actions' },
        h('button', { type: 'button', class: 'primary', onclick: act(this.onAccept) }, 'Accept'),
        h('button', { type: 'button', class: 'secondary', onclick: act(this.onDecline) }, 'Decline')),
    );
    const expires = new Date(offer.expires_at).getTime();
    const tick = () => {
      const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
      // The server revokes expired offers; until it says so the card stays (clocks differ).
      replace(countdown, left > 0 ? `Expires in ${left} s` : 'Expiring…');
    };
    tick();
    const timer = setInterval(tick, 1000);
    this.cards.set(offer.offer_id, { card, timer });
    this.el.append(card);
  }

  remove(offerId) {
    const entry = this.cards.get(offerId);
    if (!entry) return;
    clearInterval(entry.timer);
    entry.card.remove();
    this.cards.delete(offerId);
  }
}
