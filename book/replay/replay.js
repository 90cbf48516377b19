// socktrace's replay widget: steps through a trace embedded in the page (see
// src/book/directives.rs) beside the documented sequences. Plain DOM, no framework, no
// network: the data is in the page, so the book works from file://. Every text from a trace
// goes in through textContent or setAttribute, never as HTML.
(function () {
  'use strict';

  const GROUP = { call: 'calls', packet: 'packets', state: 'states', kernel: 'states' };

  const el = window.stDom.el;

  function ms(ns) {
    return (ns / 1e6).toFixed(3) + ' ms';
  }

  function gap(ns) {
    if (ns < 1e6) return '+' + Math.round(ns / 1e3) + ' µs';
    if (ns < 1e9) return '+' + (ns / 1e6).toFixed(3) + ' ms';
    return '+' + (ns / 1e9).toFixed(3) + ' s';
  }

  class Replay {
    constructor(root, data) {
      this.root = root;
      this.data = data;
      this.steps = data.steps;
      this.pos = 0;
      // Where the chapter aims the replay (the directive's start=, lenses= and range=, which
      // the book build resolved to step numbers from 1 and lens names).
      const lenses = root.getAttribute('data-lenses');
      const shown = lenses === null ? ['calls', 'packets', 'states'] : lenses.split(',');
      this.show = { calls: shown.includes('calls'), packets: shown.includes('packets'), states: shown.includes('states') };
      const range = (root.getAttribute('data-range') || '').split('..').map(Number);
      this.range = range.length === 2 && range[0] >= 1 && range[1] <= this.steps.length ? [range[0] - 1, range[1] - 1] : null;
      this.ranged = this.range !== null;
      const start = Number(root.getAttribute('data-start'));
      this.home = start >= 1 && start <= this.steps.length ? start - 1 : (this.range ? this.range[0] : 0);
      this.side = 'both';
      this.timer = null;
      this.predicting = false;
      this.build();
      this.ladder.draw();
      this.goHome();
      // A printed replay is its whole ladder, every step of every lens (replay.css hides the rest).
      const print = window.matchMedia('print');
      const printing = (on) => { if (this.printing !== on) { this.printing = on; this.ladder.draw(); } };
      print.addEventListener('change', () => printing(print.matches));
      window.addEventListener('beforeprint', () => printing(true));
      window.addEventListener('afterprint', () => printing(print.matches));
      // A chapter's question tied to one of this replay's steps shows it (quiz.js).
      root.addEventListener('st-go', (e) => { this.stop(); this.reveal(e.detail.step); });
      root.setAttribute('data-ready', '1');
    }

    /// Whether step i is shown: in the range (unless the reader widened it), of a lens shown,
    /// on the side shown.
    visible(i) {
      const step = this.steps[i];
      if (this.ranged && (i < this.range[0] || i > this.range[1])) return false;
      return this.show[GROUP[step.lens]] && (this.side === 'both' || step.side === this.side);
    }

    build() {
      const root = this.root;
      root.setAttribute('tabindex', '0');
      root.setAttribute('role', 'region');
      root.setAttribute('aria-label', 'replay of ' + (root.getAttribute('data-fixture') || 'a trace'));
      const simulated = this.data.source === 'simulated';
      const head = el('div', { class: 'st-head' });
      head.append(
        el('span', { class: 'st-badge ' + (simulated ? 'st-simulated' : 'st-live') }, simulated ? 'modelled' : this.data.source),
        el('code', {}, this.data.command),
        el('span', { class: 'st-provenance' }, this.data.provenance));
      const controls = el('div', { class: 'st-controls' });
      this.buttons = {};
      for (const [name, label, keys] of [
        ['reset', 'Reset', 'Home'],
        ['back', '◀ Back', 'ArrowLeft'],
        ['next', 'Next ▶', 'ArrowRight'],
        ['play', 'Play', 'p'],
      ]) {
        const button = el('button', { type: 'button', class: 'st-' + name, 'aria-keyshortcuts': keys }, label);
        button.addEventListener('click', () => this.command(name));
        this.buttons[name] = button;
        controls.append(button);
      }
      const predict = el('input', { type: 'checkbox', class: 'st-predict' });
      predict.addEventListener('change', () => this.predictMode(predict.checked));
      const predictLabel = el('label', { class: 'st-predict-label' });
      predictLabel.append(predict, document.createTextNode(' predict each next step'));
      this.status = el('span', { class: 'st-status' });
      controls.append(predictLabel, this.status);
      // What each step did, in words, for screen readers (announce.js); the status above is
      // for the eye.
      this.announcer = el('p', { class: 'st-announce', 'aria-live': 'polite' });
      const keys = el('p', { class: 'st-keys' }, 'Keys: → next, ← back, Home where this replay opens, p play or pause; Tab reaches the ladder’s current row, where ↑ and ↓ move.');
      const filters = el('div', { class: 'st-filters' });
      for (const group of ['calls', 'packets', 'states']) {
        const box = el('input', { type: 'checkbox', class: 'st-filter-' + group });
        box.checked = this.show[group];
        box.addEventListener('change', () => { this.show[group] = box.checked; this.refilter(); });
        const label = el('label', {});
        label.append(box, document.createTextNode(' ' + group));
        filters.append(label);
      }
      const side = el('select', { class: 'st-side-filter', 'aria-label': 'side' });
      for (const [value, label] of [['both', 'both sides'], ['client', 'client only'], ['server', 'server only']]) {
        side.append(el('option', { value: value }, label));
      }
      side.addEventListener('change', () => { this.side = side.value; this.refilter(); });
      filters.append(side);
      if (this.range) {
        const box = el('input', { type: 'checkbox', class: 'st-filter-range' });
        box.checked = true;
        box.addEventListener('change', () => { this.ranged = box.checked; this.refilter(); });
        const label = el('label', {});
        label.append(box, document.createTextNode(` only steps ${this.range[0] + 1}–${this.range[1] + 1}`));
        filters.append(label);
      }
      this.ladder = new window.stLadder(this);
      this.seqBox = el('div', { class: 'st-sequences' });
      this.socketBox = el('table', { class: 'st-sockets' });
      const aside = el('div', { class: 'st-aside' });
      aside.append(this.seqBox, this.socketBox);
      const body = el('div', { class: 'st-body' });
      body.append(this.ladder.box, aside);
      this.detail = el('div', { class: 'st-detail' });
      // The predict mode's question about the next step (questions.js), while one is open.
      this.guess = el('div', { class: 'st-guess', hidden: '' });
      root.append(head, controls, keys, filters, this.guess, body, this.announcer);
      // RFC 9293's state diagram (states.js), from the template the page's first replay carries.
      const template = document.querySelector('template.st-states-template');
      if (template && window.stStateDiagram) {
        this.diagram = new window.stStateDiagram(this, template);
        root.append(this.diagram.box);
      }
      root.append(this.detail);
      this.buildQuestions();
      this.buildSequences();
      root.addEventListener('keydown', (e) => this.key(e));
    }

    buildSequences() {
      this.seqItems = this.data.sequences.map((sequence) => {
        const box = el('div', { class: 'st-sequence', 'data-sequence': sequence.id });
        const title = el('h5', {}, sequence.title);
        const whose = el('span', { class: 'st-whose' });
        title.append(' ', whose);
        const list = el('ol', {});
        const items = {};
        for (const step of sequence.steps) {
          const item = el('li', { 'data-step-id': step.id });
          // Each step's note, opened by a click or a key; the current step's is shown below.
          const note = el('span', { class: 'st-step-note', hidden: '' }, step.note);
          const toggle = el('button', { type: 'button', class: 'st-step-more', 'aria-expanded': 'false', 'aria-label': 'what “' + step.title + '” means' }, 'i');
          toggle.addEventListener('click', () => {
            note.hidden = !note.hidden;
            toggle.setAttribute('aria-expanded', String(!note.hidden));
          });
          item.append(el('span', { class: 'st-mark' }), el('span', { class: 'st-num' }, step.number === null ? '·' : String(step.number)), document.createTextNode(' ' + step.title + ' '), toggle, note);
          items[step.id] = item;
          list.append(item);
        }
        const note = el('p', { class: 'st-note' });
        box.append(title, list, note);
        this.seqBox.append(box);
        return { sequence, items, whose, note };
      });
    }

    /// The questions this trace answers (questions.js), folded away under the replay.
    buildQuestions() {
      const questions = window.stQuestions.of(this.steps);
      if (!questions.length) return;
      const box = el('details', { class: 'st-questions' });
      box.append(el('summary', {}, `Questions from this trace’s numbers (${questions.length})`));
      for (const q of questions) {
        const item = el('div', { class: 'st-question', 'data-step': String(q.step) });
        const body = el('div', {});
        const go = el('button', { type: 'button', class: 'st-quiz-go' }, `Show step ${q.step + 1}`);
        go.addEventListener('click', () => { this.stop(); this.reveal(q.step); });
        item.append(body, go);
        window.stQuiz.ask(body, q);
        box.append(item);
      }
      this.root.append(box);
    }

    /// The predict mode: Next asks what the next step is before showing it, and the ladder
    /// hides the steps after the current one.
    predictMode(on) {
      this.predicting = on;
      if (!on) this.guess.hidden = true;
      this.go(this.pos);
    }

    /// Asks which of a few steps comes after the current one; the answer then shows it.
    ask(next) {
      const from = this.pos;
      this.guess.hidden = false;
      this.buttons.next.disabled = true;
      window.stQuiz.ask(this.guess, window.stQuestions.predict(this, from, next), () => {
        const close = el('button', { type: 'button', class: 'st-guess-close' }, 'Go on');
        close.addEventListener('click', () => { this.guess.hidden = true; this.buttons.next.focus(); });
        this.guess.append(close);
        this.go(next);
      });
      this.guess.querySelector('button').focus();
    }

    refilter() {
      this.ladder.draw();
      if (!this.visible(this.pos)) {
        const next = this.find(this.pos, 1);
        const back = this.find(this.pos, -1);
        this.pos = next !== null ? next : (back !== null ? back : this.pos);
      }
      this.go(this.pos);
    }

    /// The next visible step from `from` in direction `dir`, or null.
    find(from, dir) {
      for (let i = from + dir; i >= 0 && i < this.steps.length; i += dir) {
        if (this.visible(i)) return i;
      }
      return null;
    }

    command(name) {
      if (name === 'play' && !this.predicting) return this.timer ? this.stop() : this.play();
      this.stop();
      if (name !== 'next' && name !== 'play') this.guess.hidden = true;
      if (name === 'play') name = 'next'; // in the predict mode every step is asked, none played
      if (name === 'reset') this.goHome();
      if (name === 'next' || name === 'back') {
        const target = this.find(this.pos, name === 'next' ? 1 : -1);
        if (target !== null && name === 'next' && this.predicting) return this.ask(target);
        if (target !== null) this.go(target);
      }
    }

    /// To step i, turning on its lens and widening the range if they hide it (a link's step).
    reveal(i) {
      const group = GROUP[this.steps[i].lens];
      this.show[group] = true;
      this.root.querySelector('.st-filter-' + group).checked = true;
      if (this.ranged && (i < this.range[0] || i > this.range[1])) {
        this.ranged = false;
        this.root.querySelector('.st-filter-range').checked = false;
      }
      this.side = 'both';
      this.root.querySelector('.st-side-filter').value = 'both';
      this.ladder.draw();
      this.go(i);
    }

    /// To the step the replay opens at, or the nearest shown one after it (before it, at the end).
    goHome() {
      if (this.visible(this.home)) return this.go(this.home);
      const next = this.find(this.home, 1);
      const back = this.find(this.home, -1);
      this.go(next !== null ? next : (back !== null ? back : this.home));
    }

    key(e) {
      const actions = { ArrowRight: 'next', ArrowLeft: 'back', Home: 'reset', p: 'play' };
      const action = actions[e.key];
      if (!action || e.altKey || e.ctrlKey || e.metaKey || /^(input|select|textarea)$/i.test(e.target.nodeName)) return;
      e.preventDefault();
      e.stopPropagation(); // mdBook turns the page on ← and →
      this.command(action);
    }

    /// Plays at the trace's own pace slowed down a thousandfold (a microsecond lasts a
    /// millisecond), each pause kept between a quarter second and two and a half seconds.
    play() {
      const tick = () => {
        const next = this.find(this.pos, 1);
        if (next === null) return this.stop();
        const wait = Math.min(2500, Math.max(250, (this.steps[next].t - this.steps[this.pos].t) / 1000));
        this.timer = setTimeout(() => { this.go(next); tick(); }, wait);
      };
      this.buttons.play.textContent = 'Pause';
      tick();
    }

    stop() {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.buttons.play.textContent = 'Play';
    }

    go(i) {
      this.pos = i;
      const step = this.steps[i];
      this.root.setAttribute('data-step', String(i));
      const prev = this.find(i, -1);
      const shown = this.steps.filter((s, k) => this.visible(k)).length;
      this.status.textContent = `step ${i + 1} of ${this.steps.length} · ${ms(step.t)}` +
        (prev !== null ? ` (${gap(step.t - this.steps[prev].t)})` : '') +
        (shown < this.steps.length ? ` · ${shown} shown` : '');
      this.buttons.back.disabled = this.find(i, -1) === null;
      this.buttons.next.disabled = this.find(i, 1) === null;
      this.ladder.highlight(i);
      this.ladder.hideAfter(this.predicting ? i : null);
      this.announcer.textContent = window.stAnnounce.announce(this, i);
      this.showSequences(step);
      this.showSockets(i, step);
      this.showDetail(step);
      if (this.diagram) this.diagram.show(i);
    }

    // Every socket as it is after step i: each step holds only the sockets it shows first or
    // moves, so the views are folded from the start (kept, and carried on when going forward).
    socketsAt(i) {
      if (!this.folded || this.folded.at > i) this.folded = { at: -1, views: new Map() };
      for (let k = this.folded.at + 1; k <= i; k++) {
        for (const view of this.steps[k].sockets) this.folded.views.set(view.id, view);
      }
      this.folded.at = i;
      return [...this.folded.views.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }

    showSequences(step) {
      step.progress.forEach((progress, k) => {
        const { sequence, items, whose, note } = this.seqItems[k];
        whose.textContent = progress.socket ? `[${progress.socket}]` : '';
        let lit = null;
        for (const documented of sequence.steps) {
          const item = items[documented.id];
          const here = progress.at.indexOf(documented.id) >= 0;
          const last = progress.last === documented.id;
          const done = progress.done.indexOf(documented.id) >= 0;
          const partial = progress.partial.indexOf(documented.id) >= 0;
          item.classList.toggle('st-here', here);
          item.classList.toggle('st-last', last);
          item.classList.toggle('st-done', done);
          item.classList.toggle('st-partial', partial);
          item.firstChild.textContent = here ? '▶' : last ? '▷' : done ? '✓' : partial ? '…' : '';
          if (here || (last && !lit)) lit = documented;
        }
        note.textContent = lit ? lit.note : '';
      });
    }

    showSockets(i, step) {
      const rows = [el('tr', {})];
      rows[0].append(el('th', {}, 'socket'), el('th', {}, 'part'), el('th', {}, 'state'));
      for (const view of this.socketsAt(i)) {
        const tr = el('tr', { 'data-socket': view.id });
        if (view.id === step.socket || view.id === step.to) tr.classList.add('st-active');
        let state = 'no state reported yet';
        if (view.state && view.mark) state = `${view.state} (${view.mark})`;
        else if (view.state) state = view.state;
        tr.append(el('td', {}, view.peer ? `${view.peer}:${view.id}` : view.id), el('td', {}, view.part || view.role), el('td', {}, state));
        rows.push(tr);
      }
      this.socketBox.replaceChildren(...rows);
    }

    showDetail(step) {
      const text = el('p', { class: 'st-text st-lens-' + step.lens }, step.text);
      const table = el('table', { class: 'st-fields' });
      for (const [name, value] of step.detail) {
        const tr = el('tr', {});
        tr.append(el('th', {}, name), el('td', {}, value));
        table.append(tr);
      }
      this.detail.replaceChildren(text, table);
    }
  }

  // Mounts a replay on `root`, of `data` when given (a page that got its replay from
  // `trace`: workbench.js, live.js), else of the JSON the page carries inside `root`.
  function mount(root, data) {
    if (data === undefined) {
      try {
        data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
      } catch (err) {
        root.append(el('p', { class: 'st-error' }, 'This replay could not read its trace: ' + err.message));
        return null;
      }
    }
    const fallback = root.querySelector('.st-fallback');
    if (fallback) fallback.remove();
    const replay = new Replay(root, data);
    // `?step=N` opens at step N, scrolled into view (for links, screenshots and tests);
    // `#replay-K` picks one replay of the page.
    const wanted = Number(new URLSearchParams(window.location.search).get('step'));
    const only = window.location.hash.slice(1);
    if (wanted >= 1 && wanted <= data.steps.length && (!only.startsWith('replay-') || only === root.id)) {
      replay.reveal(wanted - 1);
      if (!linked) root.scrollIntoView({ block: 'start' });
      linked = true;
    }
    return replay;
  }

  let linked = false; // a link to a step scrolls to the first replay it opens
  window.stReplay = { mount };
  document.querySelectorAll('.st-replay').forEach((root) => mount(root));
})();
