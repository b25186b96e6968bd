// A list the API gives a page at a time (docs/api.md, "Lists come in pages"; docs/console.md, "Long
// lists"): the console holds the pages the reader loaded (the first at start, one more per "Load more"),
// in the API's order, and above them the items the live stream named that those pages do not hold,
// each read alone. Nothing is read past what the reader asked for: a party that others made a member
// of thousands of threads sees its first page at once.

// The most items brought in live that the loaded pages do not hold: others may post into thousands of
// a party's threads, and each would otherwise stay on top of the list for the session. The oldest go
// first; "Load more" still reaches them on their pages.
export const LIVE_ITEMS_MAX = 200;

export class PagedList {
  /**
   * @param {(next: string|null) => Promise<{ok, status, data, next}>} readPage a page: the first for null,
   *   else the page at ``next`` (the previous page's ``Link: <...>; rel="next"``)
   * @param {(id: string) => Promise<{ok, status, data}>} readOne one item by its id
   */
  constructor(readPage, readOne) {
    this.readPage = readPage;
    this.readOne = readOne;
    this.onPages = []; // the loaded pages' items, in the API's order
    this.pages = 0; // how many pages are loaded
    this.next = null; // the page after the last loaded; null when none follows
    this.live = []; // items the stream named that the loaded pages do not hold, latest first
    this.queue = Promise.resolve(); // reads run one at a time: a reload never interleaves a "load more"
  }

  /** Every item held: those the stream brought in first, then the loaded pages'. */
  get items() { return [...this.live, ...this.onPages]; }

  /** Whether a page follows the last loaded. */
  get more() { return this.next !== null; }

  /** The item ``id`` where it is held (on a loaded page or brought in live), else undefined. */
  find(id) { return this.live.find((i) => i.id === id) || this.onPages.find((i) => i.id === id); }

  /** Whether a loaded page holds ``id``. */
  onLoadedPages(id) { return this.onPages.some((i) => i.id === id); }

  run(job) {
    const done = this.queue.then(job, job);
    this.queue = done.catch(() => {});
    return done;
  }

  /** Read again the pages loaded so far (the first, at least), keeping what the stream brought in that
   * they still do not hold. Resolves to whether every page was read (what was held stays otherwise). */
  reload() {
    return this.run(async () => {
      const want = Math.max(this.pages, 1);
      const items = [];
      let next = null;
      let read = 0;
      do {
        const r = await this.readPage(next);
        if (!r.ok) return false;
        items.push(...r.data);
        next = r.next;
        read += 1;
      } while (next && read < want);
      this.onPages = unique(items);
      this.pages = read;
      this.next = next;
      this.keepLiveOffPages();
      return true;
    });
  }

  /** Read the page after the last loaded. Resolves to whether it was read. */
  loadMore() {
    return this.run(async () => {
      if (!this.next) return true;
      const r = await this.readPage(this.next);
      if (!r.ok) return false;
      this.onPages = unique([...this.onPages, ...r.data]);
      this.pages += 1;
      this.next = r.next;
      this.keepLiveOffPages();
      return true;
    });
  }

  /** Read items the stream named that the loaded pages do not hold (those they hold are read with
   * them): each is put on top, or updated where it already is; one the API no longer shows (404) is
   * dropped. */
  bringIn(ids) {
    return this.run(async () => {
      for (const id of new Set(ids)) {
        if (!id || this.onLoadedPages(id)) continue;
        const r = await this.readOne(id);
        if (r.ok && r.data) {
          const item = { id, ...r.data };
          const at = this.live.findIndex((i) => i.id === id);
          if (at >= 0) this.live[at] = item; else this.live.unshift(item);
          if (this.live.length > LIVE_ITEMS_MAX) this.live.length = LIVE_ITEMS_MAX;
        } else if (r.status === 404) {
          this.live = this.live.filter((i) => i.id !== id);
        }
      }
    });
  }

  /** Put ``item`` where the item of its id is held (a fresher read of it, e.g. its detail). */
  replace(item) {
    const swap = (list) => list.map((i) => (i.id === item.id ? item : i));
    this.onPages = swap(this.onPages);
    this.live = swap(this.live);
  }

  keepLiveOffPages() {
    const held = new Set(this.onPages.map((i) => i.id));
    this.live = this.live.filter((i) => !held.has(i.id));
  }
}

/** ``items`` with each id once (the first kept): a page read after items moved may repeat one. */
function unique(items) {
  const seen = new Set();
  return items.filter((i) => (seen.has(i.id) ? false : (seen.add(i.id), true)));
}
