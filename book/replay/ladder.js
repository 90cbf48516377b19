// The replay's ladder diagram (see replay.js): one lifeline per socket, so that each
// connection of a trace has its own (c1, c2 and c3 of the three-client trace, the listening
// socket apart from the ones accept returns), packets as arrows between them with their
// relative seq/ack (raw on hover and on focus), calls and states as dots with their words in
// a column beside the lifelines. It is drawn at the width its box has, so that its text is
// never scaled below a readable size, and drawn again when that width changes; a label too long
// for its room is shortened to the room measured, its full text in the row's accessible name
// and in the replay's detail. The rows are a listbox: the current row is the one in the tab
// order, and the arrow keys move along it.
(function () {
  'use strict';

  const ROW = 22;          // row height, in pixels
  const TOP = 16;          // the first row's middle
  const PAD = 6;           // margin left and right, and between a dot and its words
  const LOST_AT = 0.62;    // how far across its arrow a lost packet goes
  const NARROWEST = 240;   // below this the ladder scrolls sideways rather than squeeze

  const { svg, field } = window.stDom;

  /// The seq/ack a packet's arrow shows, relative (as the chapters count) and raw: seq where
  /// the segment takes sequence space or carries no ACK, ack where it carries one; the words
  /// of the replay's timeline make the same choice.
  function numbers(step) {
    const flags = field(step, 'flags');
    if (flags === undefined) return null;
    const has = (flag) => flags.split('|').includes(flag);
    const len = Number(field(step, 'payload length') || 0);
    const parts = (kind) => {
      const out = [];
      if (has('SYN') || has('FIN') || len > 0 || !has('ACK')) out.push('seq ' + field(step, 'seq' + kind));
      if (has('ACK')) out.push('ack ' + field(step, 'ack' + kind));
      return out.join(' ');
    };
    const relative = field(step, 'seq (relative)') === undefined ? null : parts(' (relative)');
    return { relative: relative, raw: parts(' (raw)') };
  }

  /// The lifelines: every socket of the trace, the client's on the left and the others on the
  /// right, in the order they appear, listening sockets nearest the middle.
  function lanesOf(steps) {
    const seen = new Map();
    for (const step of steps) {
      for (const view of step.sockets) if (!seen.has(view.id)) seen.set(view.id, view);
    }
    const left = [...seen.values()].filter((v) => v.role === 'client');
    const listening = [...seen.values()].filter((v) => v.role !== 'client' && v.part === 'listening');
    const right = listening.concat([...seen.values()].filter((v) => v.role !== 'client' && v.part !== 'listening'));
    // A side without sockets (a trace of one program) still has its line, named after it.
    // In a session of peers, each line's program is named above its socket.
    const side = (views, role) => (views.length ? views.map((v) => ({ id: v.id, name: v.id, peer: v.peer || '', role })) : [{ id: null, name: role, peer: '', role }]);
    return { left: side(left, 'client'), right: side(right, 'server') };
  }

  class Ladder {
    /// `replay`: the Replay of replay.js (its steps, root, visible(i) and go(i)).
    constructor(replay) {
      this.replay = replay;
      this.box = document.createElement('div');
      this.box.className = 'st-ladder';
      this.lanes = lanesOf(replay.steps);
      this.rows = {};
      this.width = 0;
      // Drawn again when the box's width changes (a narrower window, a printed page).
      if (window.ResizeObserver) {
        // On the next frame: drawing inside the observer's callback would resize what it observes.
        new ResizeObserver(() => requestAnimationFrame(() => {
          if (Math.abs(this.measure() - this.width) >= 1) this.draw();
        })).observe(this.box);
      }
    }

    measure() {
      return Math.max(NARROWEST, Math.floor(this.box.clientWidth || 0) || 440);
    }

    /// Where each lifeline is, and the room left for words on either side; `char`: one
    /// character's width. Lifelines stay far enough apart for their names.
    layout(width, char) {
      const { left, right } = this.lanes;
      const gap = Math.max(48, width * 0.14);
      const longest = Math.max(...left.concat(right).map((lane) => Math.max(lane.name.length, lane.peer.length)));
      const spacing = Math.max(longest * char + 6, Math.min(44, Math.max(14, width * 0.045)));
      const lanes = (left.length - 1 + right.length - 1) * spacing;
      const words = Math.max(40, (width - lanes - gap - 2 * PAD) / 2);
      const x = new Map();
      const at = {};
      left.forEach((lane, k) => { at[lane.name] = PAD + words + k * spacing; if (lane.id) x.set(lane.id, at[lane.name]); });
      const start = PAD + words + (left.length - 1) * spacing + gap;
      right.forEach((lane, k) => { at[lane.name] = start + k * spacing; if (lane.id) x.set(lane.id, at[lane.name]); });
      const leftEdge = at[left[0].name];
      const rightEdge = at[right[right.length - 1].name];
      return { x, at, width, char, leftEdge, rightEdge, words, side: { client: leftEdge, server: at[right[0].name] } };
    }

    /// The x of a step's socket's lifeline (its side's first where it has none).
    xOf(id, side, layout) {
      if (id && layout.x.has(id)) return layout.x.get(id);
      return side === 'client' ? layout.side.client : layout.side.server;
    }

    /// Draws the rows of the steps `replay.visible` lets through (every step when printing).
    draw() {
      const replay = this.replay;
      const width = this.measure();
      this.width = width;
      const indices = replay.steps.map((_, i) => i).filter((i) => replay.printing || replay.visible(i));
      const height = TOP + indices.length * ROW + 8;
      // The lifelines' names stay in view above the rows while the ladder scrolls (replay.css).
      const peers = this.lanes.left.concat(this.lanes.right).some((lane) => lane.peer);
      const names = svg('svg', { width: width, height: peers ? 32 : 20, class: 'st-lanes', 'aria-hidden': 'true' });
      const root = svg('svg', { width: width, height: height, viewBox: `0 0 ${width} ${height}`, class: 'st-ladder-svg', role: 'listbox', 'aria-label': 'ladder: one row per step; arrow keys move, the detail below says the step in full' });
      const id = replay.root.id;
      const art = svg('g', { 'aria-hidden': 'true' });
      const defs = svg('defs');
      const marker = svg('marker', { id: 'st-arrow-' + id, viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
      marker.append(svg('path', { d: 'M0,0 L8,4 L0,8 z', class: 'st-arrowhead' }));
      defs.append(marker);
      art.append(defs);
      // One character's width, measured once, to fit words to the room they have.
      const probe = svg('text', { class: 'st-label', x: 0, y: -10 }, '0123456789');
      root.append(art, probe);
      this.box.replaceChildren(names, root);
      const char = probe.getComputedTextLength() / 10 || 6.4;
      probe.remove();
      const fit = (text, room) => {
        const most = Math.max(3, Math.floor(room / char));
        return text.length <= most ? text : text.slice(0, most - 1) + '…';
      };
      const layout = this.layout(width, char);
      const first = new Map();
      indices.forEach((i, k) => {
        const step = replay.steps[i];
        for (const s of [step.socket, step.from, step.to]) if (s && !first.has(s)) first.set(s, k);
      });
      for (const lane of this.lanes.left.concat(this.lanes.right)) {
        const x = layout.at[lane.name];
        const born = lane.id && first.has(lane.id) ? TOP + first.get(lane.id) * ROW - ROW / 2 : 20;
        if (lane.peer) names.append(svg('text', { x: x, y: 12, class: 'st-lifeline-peer', 'text-anchor': 'middle' }, lane.peer));
        names.append(svg('text', { x: x, y: peers ? 26 : 14, class: 'st-lifeline-name st-lifeline-' + lane.role, 'text-anchor': 'middle' }, lane.name));
        if (born > 4) art.append(svg('line', { x1: x, y1: 0, x2: x, y2: born, class: 'st-lifeline st-unborn' }));
        art.append(svg('line', { x1: x, y1: Math.max(0, born), x2: x, y2: height, class: 'st-lifeline', 'data-socket': lane.id || lane.role }));
      }
      this.rows = {};
      indices.forEach((i, k) => {
        const step = replay.steps[i];
        const y = TOP + k * ROW;
        const g = svg('g', { class: 'st-row st-lens-' + step.lens + (step.origin === 'modelled' ? ' st-modelled' : ''), 'data-step': i, role: 'option', tabindex: -1, 'aria-selected': 'false' });
        // Its name is its title, the step in full (the texts drawn may be shortened).
        g.append(svg('title', {}, window.stAnnounce.rowName(step)));
        g.append(svg('rect', { x: 0, y: y - ROW / 2, width: width, height: ROW, class: 'st-bg' }));
        if (step.lens === 'packet') this.packet(g, step, y, layout, fit);
        else this.point(g, step, y, layout, fit);
        g.addEventListener('click', () => { replay.stop(); replay.go(i); });
        g.addEventListener('keydown', (e) => this.key(e, i));
        this.rows[i] = { g, y };
        root.append(g);
      });
      if (replay.pos !== undefined) this.highlight(replay.pos, false);
    }

    packet(g, step, y, layout, fit) {
      const x1 = this.xOf(step.from || step.socket, step.side, layout);
      const toward = step.side === 'client' ? 'server' : 'client';
      const x2 = this.xOf(step.to, toward, layout);
      const rightward = x2 >= x1;
      const reset = step.label.indexOf('RST') >= 0 ? ' st-rst' : '';
      const nums = numbers(step);
      const label = (step.resent ? '↻ ' : '') + step.label;
      const lost = step.dropped ? ' lost' : '';
      // Above its arrow, and beyond its ends over the other lifelines where it needs the room,
      // up to half of each column of words; a retransmission's mark has its sender's column.
      const low = step.resent && rightward ? layout.leftEdge : layout.leftEdge - layout.words / 2;
      const high = step.resent && !rightward ? layout.rightEdge : layout.rightEdge + layout.words / 2;
      // Relative numbers by default; the raw ones while the row is hovered or focused.
      const rel = nums && nums.relative ? ' ' + nums.relative : '';
      const raw = nums ? ' ' + nums.raw : '';
      for (const [kind, words] of [['st-rel', label + rel + lost], ['st-raw', label + raw + lost]]) {
        const shown = fit(words, high - low);
        const half = (shown.length * layout.char) / 2;
        const mid = Math.min(high - half, Math.max(low + half, (x1 + x2) / 2));
        g.append(svg('text', { x: mid, y: y, 'text-anchor': 'middle', class: `st-packet-label ${kind}${reset}` }, shown));
      }
      if (step.dropped) {
        // A lost packet stops short of its receiver, ended by a ✗.
        const stop = x1 + (x2 - x1) * LOST_AT;
        g.classList.add('st-lost');
        g.append(svg('line', { x1: x1, y1: y + 4, x2: stop, y2: y + 4, class: 'st-packet st-lost-line' + reset }));
        g.append(svg('text', { x: stop + (rightward ? 7 : -7), y: y + 8, 'text-anchor': 'middle', class: 'st-lost-mark' }, '✗'));
      } else {
        g.append(svg('line', { x1: x1, y1: y + 4, x2: x2, y2: y + 4, class: 'st-packet' + reset, 'marker-end': `url(#st-arrow-${this.replay.root.id})` }));
      }
      if (step.resent) {
        g.classList.add('st-resent');
        const [x, anchor] = rightward ? [PAD, 'start'] : [layout.width - PAD, 'end'];
        g.append(svg('text', { x: x, y: y + 7, 'text-anchor': anchor, class: 'st-resent-mark' }, fit('retransmission', layout.words - 2 * PAD)));
      }
    }

    /// A call or a state: a dot on its socket's lifeline, its words in its side's column, and
    /// a leader from the words to the dot where other lifelines lie between. Words too long
    /// for the column are shortened; hovered or focused, the row shows them whole, across the
    /// ladder.
    point(g, step, y, layout, fit) {
      const x = this.xOf(step.socket, step.side, layout);
      const left = step.side === 'client';
      const edge = left ? layout.leftEdge - PAD : layout.rightEdge + PAD;
      if (Math.abs(edge - x) > PAD + 1) g.append(svg('line', { x1: edge, y1: y, x2: x, y2: y, class: 'st-leader' }));
      g.append(svg('circle', { cx: x, cy: y, r: 3, class: 'st-dot' }));
      const words = (step.peer ? step.peer + ' ' : '') + step.label;
      const shown = fit(words, layout.words - PAD);
      const anchor = left ? 'end' : 'start';
      g.append(svg('text', { x: edge + (left ? -2 : 2), y: y + 4, 'text-anchor': anchor, class: 'st-label' + (shown === words ? '' : ' st-short') }, shown));
      if (shown !== words) {
        const [from, side] = left ? [PAD, 'start'] : [layout.width - PAD, 'end'];
        g.append(svg('text', { x: from, y: y + 4, 'text-anchor': side, class: 'st-label st-full' }, fit(words, layout.width - 2 * PAD)));
      }
    }

    /// Marks row i current; it becomes the row in the tab order, focused if the focus was on
    /// the ladder, and scrolled into the ladder's view (the ladder's, not the page's).
    highlight(i, follow) {
      const focused = this.box.contains(document.activeElement);
      for (const row of this.box.querySelectorAll('.st-row.st-current')) {
        row.classList.remove('st-current');
        row.setAttribute('tabindex', '-1');
        row.setAttribute('aria-selected', 'false');
      }
      const row = this.rows[i];
      if (!row) return;
      row.g.classList.add('st-current');
      row.g.setAttribute('tabindex', '0');
      row.g.setAttribute('aria-selected', 'true');
      if (focused && follow !== false) row.g.focus({ preventScroll: true });
      const box = this.box;
      if (row.y < box.scrollTop + 30 || row.y > box.scrollTop + box.clientHeight - 30) box.scrollTop = row.y - box.clientHeight / 2;
    }

    /// Hides the rows after step i (the predict mode's question is about what comes next).
    hideAfter(i) {
      for (const [k, row] of Object.entries(this.rows)) row.g.classList.toggle('st-future', i !== null && Number(k) > i);
    }

    /// ↑ and ↓ move along the rows as Back and Next do; Home and End go to the first and last.
    key(e, i) {
      const replay = this.replay;
      const target = { ArrowDown: () => replay.find(i, 1), ArrowUp: () => replay.find(i, -1),
        Home: () => replay.find(-1, 1), End: () => replay.find(replay.steps.length, -1) }[e.key];
      if (!target || e.altKey || e.ctrlKey || e.metaKey) return;
      e.preventDefault();
      e.stopPropagation();
      const k = target();
      if (k === null) return;
      if (e.key === 'ArrowDown' && replay.predicting) return replay.command('next');
      replay.stop();
      replay.go(k);
    }
  }

  window.stLadder = Ladder;
})();
