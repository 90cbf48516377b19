// The live page of `trace echo --web` and `trace run --web` (src/book/live.rs): the server
// sends the session's replay, recomputed by `trace` as events arrive (the steps of a replay
// depend on what comes after them, so each message is the whole replay so far), as
// server-sent events; the page mounts the widget (replay.js) again with each, staying on the
// reader's step, or following the newest one if the reader is there. Text goes in through
// textContent only.
(function () {
  'use strict';

  const box = document.querySelector('.st-live');
  const status = box.querySelector('.st-live-status');
  const report = document.querySelector('.st-verdict pre');
  let replay = null;
  let ended = false;

  function show(data) {
    if (data.steps.length === 0) return;
    const root = document.createElement('div');
    root.className = 'st-replay';
    root.id = 'replay-1';
    let start = data.steps.length;
    if (replay) {
      const following = replay.pos === replay.steps.length - 1;
      if (!following) start = replay.pos + 1;
      const lenses = Object.keys(replay.show).filter((lens) => replay.show[lens]);
      root.setAttribute('data-lenses', lenses.join(','));
    }
    root.setAttribute('data-start', String(start));
    const old = box.querySelector('.st-replay');
    if (old) old.replaceWith(root); else box.append(root);
    replay = window.stReplay.mount(root, data);
    box.setAttribute('data-steps', String(data.steps.length));
  }

  const events = new EventSource(box.getAttribute('data-events'));
  events.addEventListener('replay', (e) => {
    const data = JSON.parse(e.data);
    show(data);
    status.textContent = `Live: ${data.steps.length} steps so far…`;
  });
  events.addEventListener('end', (e) => {
    ended = true;
    events.close();
    const end = JSON.parse(e.data);
    if (end.replay) show(end.replay);
    status.textContent = end.said;
    if (end.verdict) {
      report.textContent = end.verdict;
      report.closest('.st-verdict').classList.add(end.conforms ? 'st-conforms' : 'st-deviates');
    }
    box.classList.add('st-ended');
    box.setAttribute('data-ended', '1');
  });
  events.addEventListener('error', () => {
    if (ended) return;
    events.close();
    status.textContent = 'The connection to trace was lost: the session may have ended without this page (its terminal says how).';
  });
})();
