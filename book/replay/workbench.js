// The "Your trace" page (`{{#your-trace}}`, src/book/workbench.rs): the reader drops or
// picks a trace or a capture; `trace book serve` replays and checks it (src/book/upload.rs)
// and answers with the replay's steps and the check's report, which this mounts with the
// replay widget (replay.js). The steps are computed by `trace`, as `trace replay` computes
// them, so from file:// the page says what it needs instead. Text from the server goes in
// through textContent only.
(function () {
  'use strict';

  function setUp(box) {
    const drop = box.querySelector('.st-drop');
    const input = box.querySelector('.st-file');
    const error = box.querySelector('.st-workbench-error');
    const result = box.querySelector('.st-workbench-result');
    if (window.location.protocol === 'file:') {
      box.querySelector('.st-workbench-offline').hidden = false;
      drop.hidden = true;
      return;
    }
    const endpoint = box.getAttribute('data-endpoint');
    const max = Number(box.getAttribute('data-max-bytes'));
    let mounted = 0;

    async function send(file, conversation) {
      error.textContent = '';
      if (file.size > max) {
        error.textContent = `${file.name} is ${(file.size / 1048576).toFixed(1)} MiB, more than the ${max / 1048576} MiB the page replays: ` +
          'cut the trace shorter, or replay it in a terminal with `trace replay FILE`';
        return;
      }
      let answer;
      try {
        const url = endpoint + (conversation ? '?conversation=' + conversation : '');
        const response = await fetch(url, { method: 'POST', body: file, headers: { 'X-File-Name': encodeURIComponent(file.name) } });
        if (!response.ok) {
          const text = (await response.text()).trim();
          error.textContent = response.status === 405 || response.status === 404 || response.status === 501
            ? 'this server cannot replay a trace: serve the book with `trace book serve`'
            : text;
          return;
        }
        answer = await response.json();
      } catch (err) {
        error.textContent = 'trace book serve did not answer (is it still running?): ' + err.message;
        return;
      }
      show(file, answer);
    }

    function show(file, answer) {
      const parts = [];
      if (answer.conversation && answer.conversation[1] > 1) {
        const [number, of] = answer.conversation;
        const line = document.createElement('p');
        line.className = 'st-workbench-conversation';
        const pick = document.createElement('select');
        pick.setAttribute('aria-label', 'conversation');
        for (let n = 1; n <= of; n++) {
          const option = document.createElement('option');
          option.value = String(n);
          option.textContent = `conversation ${n} of ${of}`;
          pick.append(option);
        }
        pick.value = String(number);
        pick.addEventListener('change', () => send(file, Number(pick.value)));
        line.append('The capture holds several conversations: ', pick);
        parts.push(line);
      }
      const root = document.createElement('div');
      root.className = 'st-replay';
      root.id = 'replay-yours-' + (++mounted);
      root.setAttribute('data-fixture', answer.name);
      parts.push(root);
      const verdict = document.createElement('section');
      verdict.className = 'st-verdict ' + (answer.conforms ? 'st-conforms' : 'st-deviates');
      const title = document.createElement('h3');
      title.textContent = 'What trace check says about ' + answer.name;
      const report = document.createElement('pre');
      report.textContent = answer.verdict;
      verdict.append(title, report);
      parts.push(verdict);
      result.replaceChildren(...parts);
      if (answer.replay.steps.length === 0) {
        error.textContent = answer.name + ' holds no events to replay';
        return;
      }
      window.stReplay.mount(root, answer.replay);
    }

    input.addEventListener('change', () => { if (input.files.length) send(input.files[0]); });
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('st-dragging'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('st-dragging'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('st-dragging');
      if (e.dataTransfer && e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
    });
  }

  document.querySelectorAll('.st-workbench').forEach(setUp);
})();
