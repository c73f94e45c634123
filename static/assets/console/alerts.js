// Getting a specialist's attention for a new offer: a short chime (WebAudio, so no audio
// file to ship) and a system notification when the console is not in front.
//
// Browsers only let a page start audio or ask for notification permission from a user
// gesture, so `unlock` is called from clicks (logging in, changing status).

let audio = null;

export function unlock() {
  try {
    if (!audio) audio = new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
  if ('Notification' in window && Notification.permission === 'default') {
    Notification.requestPermission().catch(() => {});
  }
}

/** Two rising tones, 0.3 s in all. */
export function chime() {
  if (!audio || audio.state !== 'running') return;
  const start = audio.currentTime;
  [660, 880].forEach((frequency, i) => {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    const at = start + i * 0.15;
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.14);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.15);
  });
}

/** A system notification; clicking it brings the console forward. */
export function notify(title, body, tag) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  try {
    const notification = new Notification(title, { body, tag });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
  } catch {
    // Some platforms only allow notifications from a service worker; the chime remains.
  }
}
