// One WebSocket to /ws that survives bad networks: it reconnects with capped,
// jittered exponential backoff, reconnects at once when the browser comes back online,
// and notices dead connections with its own pings (browsers answer the server's pings
// but never tell the page when a connection silently stalls).

import { randomId } from './dom.js';

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 15000;
const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const REQUEST_TIMEOUT_MS = 15000;

export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Failed attempts in a row after which `onRefused` is asked whether to go on. */
const ATTEMPTS_BEFORE_CHECK = 3;

/**
 * new Socket({url: () => 'ws://…/ws?token=…', onFrame, onState, onRefused})
 * onFrame(frame) sees every frame except error replies to request(); onState(state) is
 * told 'connecting' | 'open' | 'offline' | 'closed'. A refused upgrade (bad token) looks
 * like any network failure to a page, so after a few failures in a row onRefused() is
 * called to check the token some other way; it stops the socket if the token is dead.
 */
export class Socket {
  constructor({ url, onFrame, onState, onRefused }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onState = onState || (() => {});
    this.onRefused = onRefused || (() => {});
    this.ws = null;
    this.attempts = 0;
    this.pending = new Map();
    this.stopped = true;
    this.greeted = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.goOffline = () => this.dropConnection('offline');
    this.goOnline = () => this.connectNow();
    // Phones suspend background pages; coming back should not wait for a backoff.
    this.goVisible = () => {
      if (document.visibilityState === 'visible' && !this.ws) this.connectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('offline', this.goOffline);
    window.addEventListener('online', this.goOnline);
    document.addEventListener('visibilitychange', this.goVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('offline', this.goOffline);
    window.removeEventListener('online', this.goOnline);
    document.removeEventListener('visibilitychange', this.goVisible);
    clearTimeout(this.retryTimer);
    this.dropConnection('closed');
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.greeted;
  }

  /** Sends a frame if connected; returns whether it went out. */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a frame with a fresh ref; resolves with the reply, rejects with RequestError. */
  request(frame, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (!this.isOpen) {
      return Promise.reject(new RequestError('disconnected', 'not connected'));
    }
    const ref = randomId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new RequestError('timeout', 'no answer from the server'));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped || this.ws) return;
    if (!navigator.onLine) {
      this.onState('offline');
      return;
    }
    const url = this.url();
    if (!url) return;
    this.onState('connecting');
    this.greeted = false;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.afterClose(navigator.onLine ? 'connecting' : 'offline');
    };
  }

  connectNow() {
    this.attempts = 0;
    this.connect();
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === 'hello') {
      this.greeted = true;
      this.attempts = 0;
      this.schedulePing();
      this.onState('open');
    }
    const waiting = frame.ref !== undefined && this.pending.get(frame.ref);
    if (waiting) {
      this.pending.delete(frame.ref);
      clearTimeout(waiting.timer);
      if (frame.type === 'error') {
        waiting.reject(new RequestError(frame.code, frame.message));
        return;
      }
      waiting.resolve(frame);
    }
    if (frame.type !== 'pong') this.onFrame(frame);
  }

  schedulePing() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      this.request({ type: 'ping' }, PONG_WITHIN_MS)
        .then(() => this.schedulePing())
        .catch((error) => {
          // A lost connection is already being handled; only a silent one is dropped here.
          if (error.code === 'timeout') this.dropConnection('connecting');
        });
    }, PING_EVERY_MS);
  }

  /** Closes the current connection (if any) and plans the next attempt. */
  dropConnection(state) {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close();
    }
    this.afterClose(state);
  }

  afterClose(state) {
    clearTimeout(this.pingTimer);
    this.greeted = false;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new RequestError('disconnected', 'connection lost'));
    }
    this.pending.clear();
    this.onState(this.stopped ? 'closed' : state);
    if (this.stopped || state === 'offline') return;
    const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.attempts);
    this.attempts += 1;
    if (this.attempts === ATTEMPTS_BEFORE_CHECK) this.onRefused();
    this.retryTimer = setTimeout(() => this.connect(), backoff * (0.5 + Math.random() / 2));
  }
}
