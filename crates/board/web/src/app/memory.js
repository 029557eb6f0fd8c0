// What the page remembers across visits, in localStorage: the last verified
// checkpoint per board (origin and key), and the board key the user pinned.

const PREFIX = 'tallyboard.explorer.v1.';

export class Memory {
  constructor(storage) {
    this.storage = storage;
  }

  get(key) {
    try {
      const v = this.storage && this.storage.getItem(PREFIX + key);
      return v ? JSON.parse(v) : null;
    } catch {
      return null;
    }
  }

  set(key, value) {
    try {
      if (value === null) this.storage.removeItem(PREFIX + key);
      else this.storage.setItem(PREFIX + key, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  }

  /** The last verified signed checkpoint of this board: {note, size, root, at} or null. */
  checkpoint(vkey) {
    return this.get(`checkpoint:${vkey}`);
  }

  saveCheckpoint(vkey, cp) {
    return this.set(`checkpoint:${vkey}`, { note: cp.noteText, size: cp.size, root: cp.rootB64, at: Date.now() });
  }

  forgetCheckpoint(vkey) {
    this.set(`checkpoint:${vkey}`, null);
  }

  pinnedKey() {
    return this.get('pinned-key');
  }

  pinKey(vkey) {
    this.set('pinned-key', vkey);
  }
}
