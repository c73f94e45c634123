// The live queue (from queue.watch snapshots), shared by the console (with Pick up) and
// the admin page (read-only). Snapshots only come when the queue changes, so waiting
// times are advanced locally between them.

import { h, replace, formatDuration } from './dom.js';

const REFRESH_MS = 10000;

export class QueueView {
  /** onPickUp(session) adds a Pick up button per waiting session. */
  constructor({ onPickUp } = {}) {
    this.onPickUp = onPickUp;
    this.snapshot = null;
    this.summary = h('p', { class: 'queue-summary' }, 'Connecting…');
    this.list = h('ol', { class: 'queue-list', 'aria-label': 'Waiting visitors' });
    this.el = h('div', { class: 'queue' }, this.summary, this.list);
    this.timer = null;
  }

  update(snapshot) {
    this.snapshot = { ...snapshot, at: Date.now() };
    this.render();
    this.timer ??= setInterval(() => {
      // A view that left the page (after signing out) stops ticking.
      if (this.el.isConnected) this.render();
      else clearInterval(this.timer);
    }, REFRESH_MS);
  }

  render() {
    const snapshot = this.snapshot;
    if (!snapshot) return;
    const { waiting, specialists } = snapshot;
    replace(
      this.summary,
      `${waiting.length} waiting · ${specialists.online} online · ${specialists.away} away`,
    );
    const elapsed = (Date.now() - snapshot.at) / 1000;
    replace(this.list, waiting.map((entry) => this.item(entry, elapsed)));
  }

  item({ session, position, waiting_secs: waitingSecs }, elapsed) {
    const titleId = `queue-${session.id}`;
    const details = [session.priority, session.intent, session.language].filter(Boolean).join(' · ');
    const item = h(
      'li',
      { class: `queue-item priority-${session.priority}` },
      h('p', { class: 'queue-title', id: titleId },
        `${position}. ${session.visitor.name || 'Visitor'} `,
        h('span', { class: 'muted' }, session.number)),
      details ? h('p', { class: 'muted' }, details) : null,
      h('p', { class: 'muted' }, `waiting ${formatDuration(waitingSecs + elapsed)}`),
    );
    if (this.onPickUp) {
      item.append(h('button', {
        type: 'button',
        class: 'secondary',
        'aria-describedby': titleId,
        onclick: (event) => {
          event.currentTarget.disabled = true;
          this.onPickUp(session);
        },
      }, 'Pick up'));
    }
    return item;
  }
}
