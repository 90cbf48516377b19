// RFC 9293's state diagram beside a replay (see replay.js): the arrow the step's socket last
// took is lit, the two ends of its connection are marked where they are, and where Linux
// differs from the RFC in a documented way the state is outlined and the difference named.
// The diagram itself is hand-drawn in states.svg; the page carries it once, as a template.
(function () {
  'use strict';

  const svg = window.stDom.svg;

  // Figure 5 has two CLOSED boxes: where a socket starts (and a LISTEN or SYN-SENT socket
  // closed by its program returns), and where a connection ends.
  function boxOf(state, from) {
    if (state !== 'CLOSED') return state;
    return from === null || from === 'LISTEN' || from === 'SYN-SENT' ? 'CLOSED' : 'CLOSED-end';
  }

  class StateDiagram {
    /// `replay`: the Replay of replay.js (its steps, and its socketsAt(i)).
    constructor(replay, template) {
      this.replay = replay;
      this.box = document.createElement('figure');
      this.box.className = 'st-states';
      this.svg = template.content.firstElementChild.cloneNode(true);
      // Ids stay unique when a page has several replays.
      const suffix = '-' + replay.root.id;
      for (const node of this.svg.querySelectorAll('[id]')) node.id += suffix;
      for (const node of this.svg.querySelectorAll('[marker-end]')) {
        node.setAttribute('marker-end', node.getAttribute('marker-end').replace(')', suffix + ')'));
      }
      this.arrows = { plain: `url(#st-sd-arrow${suffix})`, lit: `url(#st-sd-arrow-lit${suffix})` };
      this.svg.setAttribute('aria-labelledby', 'st-sd-title' + suffix + ' st-sd-desc' + suffix);
      this.svg.setAttribute('focusable', 'false');
      this.layer = this.svg.querySelector('.st-sd-now');
      this.caption = document.createElement('figcaption');
      this.caption.className = 'st-states-now';
      this.caption.id = 'st-states-now' + suffix;
      this.svg.setAttribute('aria-describedby', this.caption.id);
      this.box.append(this.caption, this.svg);
      this.moves = null;
    }

    edge(from, to) {
      return this.svg.querySelector(`.st-edge[data-from="${from}"][data-to="${to}"]`);
    }

    state(state, from) {
      return this.svg.querySelector(`.st-state[data-box="${boxOf(state, from)}"]`);
    }

    /// Each socket's moves and each socket's latest peer up to step i, folded from the start
    /// (and carried on when going forward, as socketsAt is).
    fold(i) {
      const steps = this.replay.steps;
      if (!this.moves || this.moves.at > i) this.moves = { at: -1, of: new Map(), peer: new Map() };
      for (let k = this.moves.at + 1; k <= i; k++) {
        const step = steps[k];
        if (step.moved) {
          const list = this.moves.of.get(step.moved.socket) || [];
          list.push(Object.assign({ step: k }, step.moved));
          this.moves.of.set(step.moved.socket, list);
        }
        if (step.lens === 'packet' && step.from && step.to) {
          this.moves.peer.set(step.from, step.to);
          this.moves.peer.set(step.to, step.from);
        }
      }
      this.moves.at = i;
      return this.moves;
    }

    show(i) {
      const step = this.replay.steps[i];
      const { of, peer } = this.fold(i);
      for (const node of this.svg.querySelectorAll('.st-lit, .st-trail, .st-here, .st-differs')) {
        node.classList.remove('st-lit', 'st-trail', 'st-here', 'st-differs');
      }
      for (const path of this.svg.querySelectorAll('.st-edge path')) path.setAttribute('marker-end', this.arrows.plain);
      this.layer.replaceChildren();
      const selected = step.moved ? step.moved.socket : step.socket;
      if (!selected) {
        this.caption.textContent = 'This step is about no socket.';
        return;
      }
      const views = new Map(this.replay.socketsAt(i).map((view) => [view.id, view]));
      const other = peer.get(selected);
      const words = [];
      // The selected socket's path so far, its last arrow lit.
      const path = of.get(selected) || [];
      path.forEach((move, k) => {
        const edge = this.edge(move.from, move.to);
        if (!edge) return;
        const lit = k === path.length - 1;
        edge.classList.add(lit ? 'st-lit' : 'st-trail');
        if (lit) edge.querySelector('path').setAttribute('marker-end', this.arrows.lit);
      });
      const last = path[path.length - 1];
      const name = (id) => { const v = views.get(id); return v ? `${id} (${v.part || v.role})` : id; };
      if (last) {
        const edge = this.edge(last.from, last.to);
        const how = edge ? edge.querySelector('text').textContent : 'no arrow of RFC 9293’s Figure 5';
        const when = last.step === i ? 'now' : 'last';
        words.push(`${name(selected)} ${when}: ${last.from} → ${last.to} (${how})`);
      } else {
        const view = views.get(selected);
        words.push(`${name(selected)}: ${view && view.state ? view.state : 'no state reported yet'}`);
      }
      // Where both ends are, and what Linux does differently on their paths.
      const notes = new Map();
      [selected, other].forEach((id, k) => {
        if (!id) return;
        const view = views.get(id);
        const moves = of.get(id) || [];
        const end = moves[moves.length - 1];
        for (const move of moves) {
          if (!move.differs) continue;
          const box = this.state(move.to, move.from);
          if (!box) continue;
          let text = '≠RFC: ' + move.differs;
          if (move === end && view && view.mark && view.mark.startsWith('reported ')) text += ` (${view.mark})`;
          const list = notes.get(box) || [];
          if (list.indexOf(text) < 0) list.push(text);
          notes.set(box, list);
        }
        if (!view || !view.state) return;
        const box = this.state(view.state, end ? end.from : null);
        if (k === 1) words.push(`its peer ${name(id)}: ${view.state}${view.mark ? ' (' + view.mark + ')' : ''}`);
        if (!box) {
          words.push(`(${view.state} is not a state of RFC 9293)`);
          return;
        }
        box.classList.add('st-here');
        this.marker(box, id, view.role, k);
      });
      for (const [box, texts] of notes) this.note(box, texts);
      if (notes.size) words.push('Linux differs: ' + [...notes.values()].flat().join(', '));
      this.caption.textContent = words.join('; ') + '.';
    }

    /// A socket's marker in its state's box: the step's socket on the left, its peer on the
    /// right, coloured by role.
    marker(box, id, role, k) {
      const rect = box.querySelector('rect');
      const x = Number(rect.getAttribute('x')) + (k === 0 ? 13 : Number(rect.getAttribute('width')) - 13);
      const y = Number(rect.getAttribute('y')) + Number(rect.getAttribute('height')) / 2;
      const g = svg('g', { class: `st-sd-marker st-sd-${role}`, 'data-socket': id, 'data-state': box.getAttribute('data-state') });
      g.append(svg('title', {}, `${id} (${role}) is in ${box.getAttribute('data-state')}`));
      g.append(svg('circle', { cx: x, cy: y, r: 10 }));
      g.append(svg('text', { x: x, y: y + 3, 'text-anchor': 'middle' }, id.length > 3 ? id.slice(0, 3) : id));
      this.layer.append(g);
    }

    /// A documented difference at a state: the box outlined dashed, the difference's id
    /// written beside it (and in full as its tooltip).
    note(box, texts) {
      box.classList.add('st-differs');
      const text = texts.join(', ');
      const g = svg('g', { class: 'st-sd-note', 'data-state': box.getAttribute('data-state') });
      g.append(svg('title', {}, `${text}: Linux differs from RFC 9293 here in a documented way (see “Textbook and Linux”)`));
      const label = svg('text', { x: box.getAttribute('data-note-x'), y: box.getAttribute('data-note-y'), 'text-anchor': box.getAttribute('data-note-anchor') }, text);
      const chip = svg('rect', { class: 'st-sd-chip' });
      g.append(chip, label);
      this.layer.append(g);
      const b = label.getBBox();
      if (b.width) {
        for (const [name, value] of Object.entries({ x: b.x - 3, y: b.y - 1, width: b.width + 6, height: b.height + 2, rx: 3 })) chip.setAttribute(name, value);
      }
    }
  }

  window.stStateDiagram = StateDiagram;
})();
