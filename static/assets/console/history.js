// Past and present conversations (SPEC section 10): a search box with filters over
// GET /conversations, results with the matching snippets, and a read-only view of a
// conversation with its tags, analytics and Archive / Unarchive.

import { alertLine, h, replace, formatTime, showAlert } from '../lib/dom.js';
import { api, download } from '../lib/api.js';
import { MessageList } from '../lib/messages.js';
import { AnalyticsPanel, TagsEditor } from './tools.js';

const SEARCH_DELAY_MS = 300;
const PAGE = 20;
const MESSAGES_PAGE = 500;

export class ConversationsView {
  /** onOpen(conversation): a result was chosen. */
  constructor({ token, onOpen }) {
    this.token = token;
    this.onOpen = onOpen;
    this.query = h('input', { id: 'conversations-q', type: 'search', autocomplete: 'off', placeholder: 'Words, a name, an e-mail or CHAT-…' });
    this.state = h('select', { id: 'conversations-state' },
      [['', 'Any'], ['waiting', 'Waiting'], ['active', 'Active'], ['ended', 'Ended'], ['abandoned', 'Abandoned']]
        .map(([value, label]) => h('option', { value }, label)));
    this.tag = h('input', { id: 'conversations-tag', autocomplete: 'off', placeholder: 'vip', maxlength: '32' });
    this.archived = h('input', { id: 'conversations-archived', type: 'checkbox' });
    this.results = h('ul', { class: 'results', 'aria-label': 'Found chats' });
    this.note = h('p', { class: 'muted', 'aria-live': 'polite' });
    this.more = h('button', { type: 'button', class: 'link', hidden: true, onclick: () => this.load(true) }, 'More');
    const form = h(
      'form',
      { class: 'search-form', role: 'search', onsubmit: (event) => { event.preventDefault(); this.load(); } },
      h('label', { for: this.query.id }, 'Search'),
      h('div', { class: 'search-row' }, this.query, h('button', { type: 'submit', class: 'secondary' }, 'Find')),
      h('div', { class: 'filters' },
        h('span', {}, h('label', { for: this.state.id }, 'State '), this.state),
        h('span', {}, h('label', { for: this.tag.id }, 'With tag '), this.tag),
        h('span', {}, this.archived, h('label', { for: this.archived.id }, ' Archived only'))),
    );
    for (const input of [this.state, this.archived]) input.addEventListener('change', () => this.load());
    for (const input of [this.query, this.tag]) {
      input.addEventListener('input', () => {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.load(), SEARCH_DELAY_MS);
      });
    }
    this.el = h('section', { class: 'card', 'aria-labelledby': 'conversations-heading' },
      h('h2', { id: 'conversations-heading' }, 'Conversations'), form, this.note, this.results, this.more);
    this.asked = 0;
    this.cursor = null;
  }

  async load(next = false) {
    clearTimeout(this.timer);
    const params = new URLSearchParams({ limit: String(PAGE) });
    const q = this.query.value.trim();
    const tag = this.tag.value.trim().toLowerCase();
    if (q) params.set('q', q);
    if (this.state.value) params.set('status', this.state.value);
    if (tag) params.set('tag', tag);
    if (this.archived.checked) params.set('archived', 'true');
    if (next && this.cursor) params.set('cursor', this.cursor);
    const asked = ++this.asked;
    let page;
    try {
      page = await api(location.origin, `/conversations?${params}`, { token: this.token });
    } catch (error) {
      if (asked === this.asked) this.note.textContent = `Search failed: ${error.message}`;
      return;
    }
    // Typing sends several searches; only the latest one's answer is shown.
    if (asked !== this.asked) return;
    this.cursor = page.next_cursor;
    this.more.hidden = !page.next_cursor;
    const items = page.sessions.map((found) => this.item(found));
    if (next) this.results.append(...items);
    else replace(this.results, items);
    const shown = this.results.querySelectorAll('li.result').length;
    this.note.textContent = shown ? '' : 'No conversations found.';
  }

  item(found) {
    const name = found.visitor.name || `Visitor ${found.number}`;
    return h('li', { class: 'result', 'data-session': found.id },
      h('button', { type: 'button', class: 'chat-item', onclick: () => this.onOpen(found) },
        h('span', { class: 'chat-name' }, name),
        h('span', { class: 'muted' }, ` ${found.number} · ${found.status} · ${new Date(found.created_at).toLocaleDateString()}`),
        found.archived_at ? h('span', { class: 'pill' }, 'archived') : null,
        (found.tags || []).length ? h('span', { class: 'muted result-tags' }, found.tags.map((t) => `#${t}`).join(' ')) : null),
      (found.matches || []).filter((m) => m.snippet).map((m) => h('p', { class: 'snippet' }, m.snippet)));
  }

  /** A conversation left the current results (archived or brought back). */
  remove(sessionId) {
    for (const li of this.results.querySelectorAll('li.result')) {
      if (li.dataset.session === sessionId) li.remove();
    }
  }
}

/**
 * One conversation opened from the results, read-only: its messages, tags, analytics,
 * and Archive or Unarchive once it is over.
 */
export class PastConversation {
  constructor({ session, token, me, onClose, onArchived }) {
    this.session = session;
    this.token = token;
    this.onArchived = onArchived;
    this.list = new MessageList({
      label: 'Past chat',
      isMine: (message) => message.sender.type === 'specialist' && message.sender.id === me.id,
      onAttachment: (attachment) => {
        download(location.origin, token, attachment).catch((error) => this.say(error.message));
      },
    });
    this.tags = new TagsEditor({ sessionId: session.id, readOnly: true });
    this.analytics = new AnalyticsPanel({ sessionId: session.id, token });
    this.notice = alertLine();
    this.archiveButton = h('button', { type: 'button', class: 'secondary', onclick: () => this.toggleArchive() });
    const name = session.visitor.name || `Visitor ${session.number}`;
    this.el = h(
      'section',
      { class: 'conversation past', 'aria-label': `Past chat with ${name}` },
      h('header', { class: 'conversation-header' },
        h('h2', {}, name, ' ', h('span', { class: 'muted' }, session.number)),
        h('span', { class: `pill status-${session.status}` }, session.status),
        h('span', { class: 'muted' }, `${new Date(session.created_at).toLocaleDateString()} ${formatTime(session.created_at)}`),
        h('div', { class: 'chat-actions' },
          this.archiveButton,
          h('button', { type: 'button', class: 'secondary', onclick: onClose }, 'Close'))),
      h('div', { class: 'workspace-tools' }, this.tags.el, this.analytics.el),
      this.notice,
      this.list.el,
    );
    this.tags.show(session.tags);
    this.renderArchive();
    this.load();
  }

  renderArchive() {
    const over = this.session.status === 'ended' || this.session.status === 'abandoned';
    this.archiveButton.hidden = !over;
    this.archiveButton.textContent = this.session.archived_at ? 'Unarchive' : 'Archive';
  }

  async load() {
    let after = 0;
    try {
      for (;;) {
        const page = await api(
          location.origin,
          `/sessions/${this.session.id}/messages?after_seq=${after}&limit=${MESSAGES_PAGE}`,
          { token: this.token },
        );
        page.messages.forEach((message) => this.list.add(message));
        if (!page.has_more || !page.messages.length) break;
        after = page.messages[page.messages.length - 1].seq;
      }
    } catch (error) {
      this.say(`Messages unavailable: ${error.message}`);
    }
  }

  async toggleArchive() {
    const action = this.session.archived_at ? 'unarchive' : 'archive';
    try {
      const { session } = await api(location.origin, `/sessions/${this.session.id}/${action}`, { token: this.token, method: 'POST' });
      this.session = { ...this.session, archived_at: session.archived_at || null };
      this.renderArchive();
      this.onArchived(this.session);
    } catch (error) {
      this.say(`Not ${action}d: ${error.message}`);
    }
  }

  say(text) {
    showAlert(this.notice, text);
  }
}
